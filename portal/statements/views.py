"""Browser pages for statements and their reconciliation (PRODUCT.md §6): the statements list (with finance's monthly
run and the statement of one dealer), one statement (its versions, lines, ageing, disputes, conversation; the dealer
confirms or disputes lines, finance resolves disputes), its PDF, a run's dealers (failures, retry), and the dispute
queue.

Each POST is one action: the service raises, the page is shown again with the message next to the field it is about
and a 4xx status (so the request edge rolls the transaction back), or the action is done and the browser is sent
back to the page (PRG)."""

from __future__ import annotations

import re
from decimal import Decimal

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.background.models import JobRecord
from portal.background.services import job_state
from portal.credit.labels import BUCKET_LABELS
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.platform.auth import can, requires
from portal.platform.errors import DomainError, Invalid, NotFound
from portal.platform.money import parse_money
from portal.platform.tenancy import current_scope, tenant_route
from portal.platform.web import apply_errors, list_page
from portal.statements import runs, services
from portal.statements.forms import (
    CommentForm,
    ConfirmForm,
    DealerRunForm,
    DisputeForm,
    ResolveForm,
    RetryForm,
    RunForm,
)
from portal.statements.models import DISPUTE_STATUSES, STATEMENT_STATUSES, Dispute, Statement

bp = Blueprint("statements", __name__)

STATEMENT_STATUS_LABELS = {
    "issued": _l("Issued"),
    "confirmed": _l("Confirmed"),
    "disputed": _l("Disputed"),
    "resolved": _l("Resolved"),
}
DISPUTE_STATUS_LABELS = {
    "open": _l("Pending"),
    "resolved": _l("Resolved"),
    "rejected": _l("Rejected"),
}
RESOLUTION_LABELS = {
    "credit_note": _l("Credit note"),
    "adjustment": _l("Adjustment"),
    "reject": _l("Rejected"),
}
MESSAGE_KIND_LABELS = {
    "issued": _l("Issued"),
    "confirmed": _l("Confirmed"),
    "disputed": _l("Dispute raised"),
    "resolved": _l("Dispute resolved"),
    "rejected": _l("Dispute rejected"),
    "comment": _l("Comment"),
}
SIDE_LABELS = {"dealer": _l("Dealer"), "hq": _l("HQ")}
RUN_ITEM_STATUS_LABELS = {"queued": _l("Waiting to start"), "done": _l("Done"), "failed": _l("Failed")}
RUN_OUTCOME_LABELS = {
    "issued": _l("New version issued"),
    "unchanged": _l("Unchanged"),
    "nothing": _l("Nothing to state"),
}
AGEING_LABELS = {**BUCKET_LABELS, "unapplied": _l("Unapplied cash"), "total": _l("Total")}

for _name, _labels in (
    ("STATEMENT_STATUS_LABELS", STATEMENT_STATUS_LABELS),
    ("DISPUTE_STATUS_LABELS", DISPUTE_STATUS_LABELS),
    ("RESOLUTION_LABELS", RESOLUTION_LABELS),
):
    bp.add_app_template_global(_labels, _name)

CODES_SPLIT = re.compile(r"[\s,，;；]+")


def _dealer_filter() -> str | None:
    return None if current_scope().is_dealer else ((request.args.get("dealer") or "").strip() or None)


# ------------------------------------------------------------------ the list, and starting runs (finance)


def _list(run_form: RunForm | None = None, one_form: DealerRunForm | None = None, status: int = 200):
    period = (request.args.get("period") or "").strip() or None
    filters = {
        "dealer": _dealer_filter(),
        "period": period if period and services.PERIOD_RE.match(period) else None,
        "status": request.args.get("status") if request.args.get("status") in STATEMENT_STATUSES else None,
        "all_versions": request.args.get("all_versions") == "1",
    }
    page = list_page(services.statements_query(current_scope(), **filters))
    may_issue = can("statements.issue")
    last_month = services.previous_period()
    if may_issue:
        if run_form is None:
            run_form = RunForm(prefix="run", formdata=None)
            run_form.period.data = last_month
        if one_form is None:
            one_form = DealerRunForm(prefix="one", formdata=None)
            one_form.period.data = last_month
    return (
        render_template(
            "statements/index.html",
            page=page,
            filters=filters,
            period_arg=period or "",
            may_issue=may_issue,
            last_month=last_month,
            run_form=run_form,
            one_form=one_form,
        ),
        status,
    )


@bp.route("/statements")
@requires("statements.read")
def index():
    return _list()


def _codes(text: str | None) -> list[str]:
    return [c for c in CODES_SPLIT.split((text or "").strip()) if c]


@bp.route("/statements/runs", methods=["POST"])
@requires("statements.issue")
def start_run():
    """The monthly run: every dealer, or the dealers named."""
    form = RunForm(prefix="run")
    if not form.validate_on_submit():
        return _list(run_form=form, status=422)
    try:
        record = runs.start_run(current_user, (form.period.data or "").strip(), _codes(form.dealer_codes.data) or None)
    except DomainError as exc:
        _form_error(form, exc)
        return _list(run_form=form, status=exc.status)
    flash(_("The statement run of %(period)s has started.", period=record.params["period"]), "success")
    return redirect(url_for("statements.run", job_id=record.id))


@bp.route("/statements/issue", methods=["POST"])
@requires("statements.issue")
def issue_one():
    """The statement of one dealer on demand (a run of one dealer): a new version only if its ledger changed."""
    form = DealerRunForm(prefix="one")
    if not form.validate_on_submit():
        return _list(one_form=form, status=422)
    code = (form.dealer_code.data or "").strip()
    try:
        if not code or current_scope().first(Dealer, code=code) is None:
            raise Invalid(fields={"dealer_code": [_("Unknown dealer.") if code else _("Enter a dealer code.")]})
        record = runs.start_run(current_user, (form.period.data or "").strip(), [code])
    except DomainError as exc:
        _form_error(form, exc, rename={"dealer_codes": "dealer_code"})
        return _list(one_form=form, status=exc.status)
    flash(_("The statement of %(dealer)s for %(period)s is being prepared.", dealer=code,
            period=record.params["period"]), "success")  # fmt: skip
    return redirect(url_for("statements.run", job_id=record.id))


def _form_error(form, exc: DomainError, rename: dict | None = None) -> None:
    """The service's message on the form: field errors next to their fields, the rest at the top. Whatever the
    service flushed before refusing is dropped now, so the page shown again reads the state before the action (the
    request edge rolls back too, the answer being a 4xx)."""
    db.session.rollback()
    if isinstance(exc, Invalid) and exc.fields:
        for old, new in (rename or {}).items():
            if old in exc.fields:
                exc.fields[new] = exc.fields.pop(old)
        apply_errors(form, exc)
    else:
        form.form_errors.append(exc.message)


# ------------------------------------------------------------------ one run: its dealers, failures, retry


def _run_page(record: JobRecord, form: RetryForm | None = None, status: int = 200):
    items = {s: runs.items_of(record.id, s) for s in ("failed", "queued", "done")}
    return (
        render_template(
            "statements/run.html",
            record=record,
            job=job_state(record),
            items=items,
            done_shown=items["done"][:200],
            counts={
                **{o: sum(1 for it in items["done"] if it.outcome == o) for o in RUN_OUTCOME_LABELS},
                "failed": len(items["failed"]),
            },
            form=form or RetryForm(formdata=None),
            RUN_ITEM_STATUS_LABELS=RUN_ITEM_STATUS_LABELS,
            RUN_OUTCOME_LABELS=RUN_OUTCOME_LABELS,
        ),
        status,
    )


def _run_record(job_id: str) -> JobRecord:
    record = current_scope().get_or_404(JobRecord, id=job_id)
    if record.kind != runs.KIND:
        raise NotFound("JobRecord not found")
    return record


@bp.route("/statements/runs/<job_id>")
@requires("statements.issue")
@tenant_route("job")
def run(job_id):
    """A run's progress (polled like the job page) and its dealers: the failed ones with their errors."""
    return _run_page(_run_record(job_id))


@bp.route("/statements/runs/<job_id>/retry", methods=["POST"])
@requires("statements.issue")
@tenant_route("job")
def retry(job_id):
    """Queue again the dealers of the run that are not done (failed, or left behind by a worker that died)."""
    record = _run_record(job_id)
    form = RetryForm()
    if not form.validate_on_submit():
        return _run_page(record, form, 422)
    try:
        pending = runs.retry(current_user, record)
    except DomainError as exc:
        _form_error(form, exc)
        return _run_page(record, form, exc.status)
    flash(_("%(n)s dealer(s) queued again.", n=len(pending)), "success")
    return redirect(url_for("statements.run", job_id=record.id))


# ------------------------------------------------------------------ one statement


def _line_ids() -> list[int]:
    ids = []
    for raw in request.form.getlist("line_id"):
        try:
            ids.append(int(raw))
        except ValueError as exc:
            raise Invalid(fields={"line_ids": [_("Choose the lines you dispute.")]}) from exc
    return ids


def _detail(statement: Statement, *, forms: dict | None = None, resolve_forms: dict | None = None, status: int = 200):
    forms = forms or {}
    versions = services.versions_of(statement)
    current = next((v for v in versions if v.superseded_by_id is None), None)
    disputes = services.disputes_of(statement)
    open_disputes = [d for d in disputes if d.status == "open"]
    in_open_dispute = {line.id for d in open_disputes for line in d.lines}
    disputed_by = {}
    for d in disputes:
        for line in d.lines:
            disputed_by.setdefault(line.id, []).append(d)
    may_reconcile = can("statements.reconcile") and statement.is_current and statement.status != "confirmed"
    may_resolve = can("disputes.resolve")
    resolve_forms = dict(resolve_forms or {})
    if may_resolve:
        for d in open_disputes:
            resolve_forms.setdefault(d.id, ResolveForm(prefix=f"d{d.id}", formdata=None))
    others_open = [(v, n) for v in versions if v.id != statement.id and (n := services.open_disputes(v.id))]
    chosen = set(forms["chosen"]) if "chosen" in forms else set()
    may_confirm = may_reconcile and not open_disputes
    may_dispute = may_reconcile and len(in_open_dispute) < statement.line_count
    confirm_form = forms.get("confirm") or ConfirmForm(prefix="confirm", formdata=None)
    dispute_form = forms.get("dispute") or DisputeForm(prefix="dispute", formdata=None)
    # the message of an action whose form the page no longer shows (confirmed meanwhile, settled already...)
    top_errors = [
        *(confirm_form.form_errors if not may_confirm and not (may_reconcile and open_disputes) else []),
        *(dispute_form.form_errors if not may_dispute else []),
        *(e for d_id, f in resolve_forms.items() if d_id not in {d.id for d in open_disputes} for e in f.form_errors),
    ]
    return (
        render_template(
            "statements/detail.html",
            statement=statement,
            versions=versions,
            current=current,
            lines=statement.lines,
            ageing_rows=_ageing_rows(statement),
            disputes=disputes,
            open_disputes=open_disputes,
            in_open_dispute=in_open_dispute,
            disputed_by=disputed_by,
            others_open=others_open,
            thread=services.thread(statement),
            may_reconcile=may_reconcile,
            may_dispute=may_dispute,
            may_confirm=may_confirm,
            may_comment=can("statements.comment"),
            may_resolve=may_resolve,
            confirm_form=confirm_form,
            dispute_form=dispute_form,
            top_errors=top_errors,
            comment_form=forms.get("comment") or CommentForm(prefix="comment", formdata=None),
            resolve_forms=resolve_forms,
            chosen=chosen,
            MESSAGE_KIND_LABELS=MESSAGE_KIND_LABELS,
            SIDE_LABELS=SIDE_LABELS,
        ),
        status,
    )


def _ageing_rows(statement: Statement) -> list[tuple[str, str, Decimal]]:
    """(key, label, amount) at month end, as stored (unapplied cash negative, as in every ageing)."""
    stored = statement.ageing or {}
    return [(key, label, Decimal(stored.get(key, "0")) + 0) for key, label in AGEING_LABELS.items()]  # + 0: no -0.00


def _statement(statement_id: int) -> Statement:
    return current_scope().get_or_404(Statement, id=statement_id)


@bp.route("/statements/<int:statement_id>")
@requires("statements.read")
@tenant_route("statement")
def detail(statement_id):
    return _detail(_statement(statement_id))


@bp.route("/statements/<int:statement_id>/pdf")
@requires("statements.read")
@tenant_route("statement")
def pdf(statement_id):
    """The version as issued, as PDF (drawn again from its stored data if the file went missing)."""
    statement = _statement(statement_id)
    return send_file(
        services.pdf_file(statement),
        mimetype="application/pdf",
        download_name=f"{statement.number}-v{statement.version}.pdf",
        as_attachment=False,
        max_age=0,
    )


@bp.route("/statements/<int:statement_id>/confirm", methods=["POST"])
@requires("statements.reconcile")
@tenant_route("statement")
def confirm(statement_id):
    """The dealer confirms the version (对账确认)."""
    statement = _statement(statement_id)
    form = ConfirmForm(prefix="confirm")
    if not form.validate_on_submit():
        return _detail(statement, forms={"confirm": form}, status=422)
    try:
        services.confirm(current_user, statement, form.comment.data)
    except DomainError as exc:
        _form_error(form, exc)
        return _detail(statement, forms={"confirm": form}, status=exc.status)
    flash(_("Statement %(number)s version %(version)s confirmed.", number=statement.number,
            version=statement.version), "success")  # fmt: skip
    return redirect(url_for("statements.detail", statement_id=statement.id))


@bp.route("/statements/<int:statement_id>/disputes", methods=["POST"])
@requires("statements.reconcile")
@tenant_route("statement")
def dispute(statement_id):
    """The dealer disputes the lines ticked, with a comment."""
    statement = _statement(statement_id)
    form = DisputeForm(prefix="dispute")
    raw_chosen = request.form.getlist("line_id")
    if not form.validate_on_submit():
        return _detail(statement, forms={"dispute": form, "chosen": raw_chosen}, status=422)
    try:
        item = services.dispute(current_user, statement, _line_ids(), form.comment.data)
    except DomainError as exc:
        _form_error(form, exc)
        return _detail(statement, forms={"dispute": form, "chosen": raw_chosen}, status=exc.status)
    flash(_("Your dispute on %(n)s line(s) was sent to finance.", n=len(item.lines)), "success")
    return redirect(url_for("statements.detail", statement_id=statement.id, _anchor=f"dispute-{item.id}"))


@bp.route("/statements/<int:statement_id>/comments", methods=["POST"])
@requires("statements.comment")
@tenant_route("statement")
def comment(statement_id):
    """A message in the conversation of the statement's month (the dealer or finance)."""
    statement = _statement(statement_id)
    form = CommentForm(prefix="comment")
    if not form.validate_on_submit():
        return _detail(statement, forms={"comment": form}, status=422)
    try:
        services.add_comment(current_user, statement, form.body.data)
    except DomainError as exc:
        _form_error(form, exc)
        return _detail(statement, forms={"comment": form}, status=exc.status)
    flash(_("Message sent."), "success")
    return redirect(url_for("statements.detail", statement_id=statement.id, _anchor="conversation"))


@bp.route("/disputes/<int:dispute_id>/resolve", methods=["POST"])
@requires("disputes.resolve")
@tenant_route("dispute")
def resolve(dispute_id):
    """Finance settles a dispute: a credit note or an adjustment (the month is re-issued), or a rejection."""
    item = current_scope().get_or_404(Dispute, id=dispute_id)
    statement = item.statement
    form = ResolveForm(prefix=f"d{item.id}")
    if not form.validate_on_submit():
        return _detail(statement, resolve_forms={item.id: form}, status=422)
    try:
        amount = None
        if (form.amount.data or "").strip():
            try:
                amount = parse_money(form.amount.data, allow_zero=False)
            except ValueError as exc:
                raise Invalid(fields={"amount": [str(exc)]}) from exc
        item = services.resolve(
            current_user, item, action=form.action.data, reason=form.reason.data, amount=amount,
            issued_on=form.issued_on.data,
        )  # fmt: skip
    except DomainError as exc:
        _form_error(form, exc)
        return _detail(statement, resolve_forms={item.id: form}, status=exc.status)
    if item.reissued_statement_id:
        flash(_("Dispute settled; the statement was re-issued as version %(version)s.",
                version=item.reissued.version), "success")  # fmt: skip
        return redirect(url_for("statements.detail", statement_id=item.reissued_statement_id))
    flash(_("Dispute rejected; the dealer has been told the reason."), "info")
    return redirect(url_for("statements.detail", statement_id=statement.id, _anchor=f"dispute-{item.id}"))


# ------------------------------------------------------------------ the dispute queue


@bp.route("/disputes")
@requires("statements.read")
def disputes():
    """Disputes in scope, the open ones first by default (finance's queue)."""
    status_arg = request.args.get("status")
    status = "open" if status_arg is None else (status_arg if status_arg in DISPUTE_STATUSES else None)
    filters = {"status": status, "dealer": _dealer_filter()}
    page = list_page(services.disputes_query(current_scope(), **filters))
    return render_template("statements/disputes.html", page=page, filters=filters)
