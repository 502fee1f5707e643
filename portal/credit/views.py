"""Browser pages: receivables dashboard, dealer ledger and credit, postings, applications, bank import.

§16: a sub-dealer's account is with its distributor: its distributor's admin sets its credit and records its
payments on these pages (`channel.check_seller_side`), HQ's finance does not; `?seller=<distributor>` on the
receivables page shows a distributor's receivables (its sub-dealers' ledgers) where HQ's are shown otherwise.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import exists, select
from sqlalchemy.orm import aliased

from portal.background.services import start_import, start_job
from portal.credit import imports, reports, services
from portal.credit.forms import (
    ApplyForm,
    CreditNoteForm,
    HoldForm,
    ImportForm,
    IncreaseForm,
    InvoiceForm,
    LimitForm,
    PaymentForm,
    ReverseForm,
)
from portal.credit.labels import BUCKET_LABELS
from portal.credit.memos import entry_memo
from portal.credit.models import Application, CreditIncrease, CreditLimitChange, DealerCredit, LedgerEntry
from portal.dealers import channel
from portal.dealers.models import Dealer, Region
from portal.extensions import db
from portal.platform import files
from portal.platform.auth import can, requires
from portal.platform.errors import DomainError, Forbidden, Invalid
from portal.platform.money import ZERO, money, parse_money
from portal.platform.security import accepts_workbooks
from portal.platform.tenancy import current_scope, dealer_or_404, tenant_route
from portal.platform.timeutil import today
from portal.platform.web import (
    apply_errors,
    as_choices,
    export_response,
    page_args,
    parse_date_arg,
    query_rows,
    render_form,
    url_with,
)

bp = Blueprint("credit", __name__)
LEDGER_PER_PAGE = 100  # entries on a page of a dealer's ledger
bp.add_app_template_global(entry_memo, "ledger_memo")  # what the portal wrote on an entry, in the reader's language


@bp.app_template_global("may_act_as_seller")
def may_act_as_seller(dealer: Dealer, hq_permission: str) -> bool:
    """Whether the caller acts as the dealer's seller (§16): HQ's `hq_permission` for a dealer that buys from HQ, the
    distributor's admin for a sub-dealer — what the pages ask before offering a form."""
    return channel.acts_as_seller(current_user, dealer, hq_permission)


@bp.app_template_global("has_sub_dealers")
def has_sub_dealers(dealer: Dealer) -> bool:
    return db.session.execute(select(Dealer.id).where(Dealer.parent_id == dealer.id).limit(1)).first() is not None


def _money_field(form, name: str, allow_zero: bool = False):
    try:
        return parse_money(getattr(form, name).data, allow_zero=allow_zero)
    except ValueError as exc:
        raise Invalid(fields={name: [str(exc)]}) from exc


def _dealer_choices():
    """The dealers the caller posts for as their seller (§16): HQ's dealers for finance, a distributor admin's
    sub-dealers for it."""
    scope = current_scope()
    whose = Dealer.parent_id == scope.dealer_id if scope.is_dealer else Dealer.parent_id.is_(None)
    dealers = db.session.execute(scope.select(Dealer).where(whose).order_by(Dealer.code)).unique().scalars()
    return as_choices([("", "—")] + [(d.code, f"{d.code} {d.name}") for d in dealers])


def _distributors(scope) -> list[Dealer]:
    """The distributors in the caller's scope: the dealers with sub-dealers (whose receivables `?seller=` shows)."""
    sub = aliased(Dealer)
    stmt = scope.select(Dealer).where(exists(select(sub.id).where(sub.parent_id == Dealer.id))).order_by(Dealer.code)
    return list(db.session.execute(stmt).unique().scalars())


def _seller_arg(scope) -> Dealer | None:
    """The distributor `?seller=` names (a flash and HQ's receivables when it is not one in the caller's scope)."""
    try:
        return channel.seller_in_scope(scope, request.args.get("seller"))
    except Invalid:
        flash(_("No distributor %(code)s.", code=request.args.get("seller", "")), "warning")
        return None


# ------------------------------------------------------------------ receivables dashboard


@bp.route("/receivables")
@requires("receivables.read")
def receivables():
    scope = current_scope()
    as_of = parse_date_arg("as_of", today())
    group_by = request.args.get("group_by") or ("dealer" if scope.is_dealer else "region")
    if group_by not in ("dealer", "region", "account_manager", "total"):
        group_by = "region"
    region = scope.first(Region, code=request.args["region"]) if request.args.get("region") else None
    seller = _seller_arg(scope)
    if group_by == "region":  # the region rows and the overdue dealers from one ageing computation
        result, by_dealer_result = reports.ageing_by_region_and_dealer(scope, as_of, region, seller)
    else:
        result = by_dealer_result = reports.ageing(scope, as_of, group_by, region, seller)
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx"):
        header = ["key", "name", "not_due", "1_30", "31_60", "61_90", "over_90", "unapplied", "total"]
        return export_response(fmt, f"ageing-{as_of}", header, ([r[h] for h in header] for r in [*result["rows"]]))
    clause = reports.scoped_clause(scope, region, seller)
    if group_by in ("total", "account_manager"):
        by_dealer_result = reports.ageing(scope, as_of, "dealer", region, seller)
    by_dealer = by_dealer_result["rows"]
    overdue = sorted(
        (r for r in by_dealer if r["1_30"] + r["31_60"] + r["61_90"] + r["over_90"] > 0),
        key=lambda r: -(r["1_30"] + r["31_60"] + r["61_90"] + r["over_90"]),
    )[:10]
    ends = reports.month_ends(as_of, 12)
    trend = list(zip(ends, reports.dso_trend(clause, ends), strict=True))
    utilisation = reports.credit_utilisation(scope, region, as_of, seller)[:10]
    regions = db.session.execute(scope.select(Region).order_by(Region.path)).unique().scalars().all()
    own = db.session.get(Dealer, scope.dealer_id) if scope.is_dealer else None
    return render_template(
        "credit/receivables.html",
        result=result,
        as_of=as_of,
        group_by=group_by,
        region=region,
        overdue=overdue,
        dso_items=[(d.strftime("%m"), v if v is not None else 0) for d, v in trend],
        dso=trend[-1][1],
        utilisation=utilisation,
        regions=regions,
        seller=seller,
        own=own,
        distributors=[] if scope.is_dealer else _distributors(scope),
        BUCKET_LABELS=BUCKET_LABELS,
    )


@bp.route("/receivables/overdue-scan", methods=["POST"])
@requires("credit.manage")
def overdue_scan():
    """Today's scan, or its preview (dry run: what it would do, nothing changed or sent)."""
    day = today().isoformat()
    dry_run = request.form.get("dry_run") == "1"
    record = start_job(
        "overdue_scan",
        "portal.jobs.overdue.run_overdue_scan",
        started_by=current_user,
        params={"date": day, "dry_run": dry_run},
        args=(day, dry_run),
    )
    return redirect(url_for("jobs.detail", job_id=record.id))


# ------------------------------------------------------------------ a dealer's ledger and credit


@bp.route("/dealers/<code>/ledger")
@requires("ledger.read")
@tenant_route("dealer")
def ledger(code):
    dealer = dealer_or_404(code)
    date_to = parse_date_arg("to")
    date_from = parse_date_arg("from", (date_to or today()) - dt.timedelta(days=365))
    type_ = request.args.get("type") if request.args.get("type") in ("invoice", "payment", "credit_note") else None
    types = (type_,) if type_ else None
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx"):  # streamed: the entries read in chunks while the file is sent
        opening = reports.dealer_balance(dealer.id, date_from - dt.timedelta(days=1))
        closing = reports.dealer_balance(dealer.id, date_to)
        dealer_id, end = dealer.id, date_to or today()

        def rows():
            yield [None, "opening", "", None, None, None, opening]
            for row in query_rows(reports.ledger_select(dealer_id, date_from, date_to, types)):  # in chunks
                i = reports.ledger_item(row)
                yield [i["date"], i["type"], i["number"], i["due_on"], i["debit"], i["credit"], i["balance"]]
            yield [end, "closing", "", None, None, None, closing]

        header = ["date", "type", "number", "due_on", "debit", "credit", "balance"]
        return export_response(fmt, f"ledger-{dealer.code}", header, rows())
    # a page of the entries (each with the account's running balance), read as a page: the opening balance heads the
    # first page, the closing balance ends the last; a page past the end goes to the last page
    page_no, per_page = page_args(LEDGER_PER_PAGE)
    data = reports.ledger(dealer.id, date_from, date_to, types, page=page_no, per_page=per_page)
    page = {"items": data["items"], "page": page_no, "per_page": per_page, "total": data["total"],
            "pages": max(1, -(-data["total"] // per_page))}  # fmt: skip
    if page_no > page["pages"]:
        return redirect(url_with(page=page["pages"]))
    summary = services.credit_summary(dealer)
    return render_template(
        "credit/ledger.html",
        dealer=dealer,
        data=data,
        page=page,
        date_from=date_from,
        date_to=date_to,
        type_=type_,
        summary=summary,
    )


@bp.route("/dealers/<code>/credit", methods=["GET", "POST"])
@requires("credit.read")
@tenant_route("dealer")
def credit(code):
    dealer = dealer_or_404(code)
    forms = {
        "limit": LimitForm(prefix="limit"),
        "increase": IncreaseForm(prefix="inc"),
        "hold": HoldForm(prefix="hold"),
    }
    action = request.form.get("action")
    if request.method == "POST":
        if not can(("credit.manage", "sales.manage")):
            raise Forbidden()
        channel.check_seller_side(current_user, dealer, "credit.manage")  # §16: finance, or the distributor's admin
        form = forms.get("hold" if action in ("hold", "release") else action)
        if form is not None and form.validate_on_submit():
            try:
                if action == "limit":
                    services.set_credit_limit(
                        current_user, dealer, _money_field(form, "amount", allow_zero=True), form.reason.data
                    )
                    flash(_("Credit limit saved."), "success")
                elif action == "increase":
                    services.add_credit_increase(
                        current_user,
                        dealer,
                        amount=_money_field(form, "amount"),
                        valid_from=form.valid_from.data,
                        valid_until=form.valid_until.data,
                        reason=form.reason.data,
                    )
                    flash(_("Temporary increase granted."), "success")
                elif action == "hold":
                    services.set_hold(current_user, dealer, form.reason.data)
                    flash(_("The dealer is on credit hold."), "warning")
                elif action == "release":
                    services.lift_hold(current_user, dealer, form.reason.data)
                    flash(_("The credit hold is lifted."), "success")
            except Invalid as exc:
                apply_errors(form, exc)
            except DomainError as exc:
                form.form_errors.append(exc.message)
            else:
                return redirect(url_for("credit.credit", code=code))
    summary = services.credit_summary(dealer)
    row = db.session.get(DealerCredit, dealer.id)
    increases = (
        db.session.execute(
            select(CreditIncrease)
            .where(CreditIncrease.dealer_id == dealer.id)
            .order_by(CreditIncrease.valid_from.desc())
        )
        .scalars()
        .all()
    )
    changes = (
        db.session.execute(
            select(CreditLimitChange)
            .where(CreditLimitChange.dealer_id == dealer.id)
            .order_by(CreditLimitChange.changed_at.desc())
        )
        .scalars()
        .all()
    )
    ageing = _dealer_ageing(dealer)
    return render_form(
        "credit/credit.html",
        *forms.values(),
        dealer=dealer,
        summary=summary,
        row=row,
        increases=increases,
        changes=changes,
        forms=forms,
        ageing=ageing,
        today=today(),
        may_manage=channel.acts_as_seller(current_user, dealer, "credit.manage"),
        seller_code=channel.seller_code(dealer),
        BUCKET_LABELS=BUCKET_LABELS,
    )


def _dealer_ageing(dealer: Dealer) -> dict:
    stmt = reports.dealer_ageing_select(lambda col: col == dealer.id, today())
    row = db.session.execute(stmt).first()
    keys = (*reports.BUCKETS, "unapplied", "total")
    return {k: money(getattr(row, k) or 0) if row else ZERO for k in keys}


# ------------------------------------------------------------------ postings (finance)


def _posting(form_cls, title: str, post, hq_permission: str):
    """A posting page: the dealer is one the caller posts for as its seller (§16), else the form says who does."""
    scope = current_scope()
    if scope.is_dealer and not scope.sub_dealer_ids:
        raise Forbidden(_("You sell to no sub-dealer: HQ posts to your account."))  # a dealer admin posts for nobody
    form = form_cls()
    form.dealer_code.choices = _dealer_choices()
    if request.method == "GET":
        form.dealer_code.data = request.args.get("dealer", "")
        for field in ("issued_on", "received_on"):
            if hasattr(form, field):
                getattr(form, field).data = today()
    if form.validate_on_submit():
        dealer = current_scope().first(Dealer, code=form.dealer_code.data)
        try:
            if dealer is None:
                raise Invalid(fields={"dealer_code": [_("Unknown dealer.")]})
            channel.check_seller_side(current_user, dealer, hq_permission)
            entry = post(form, dealer)
        except Invalid as exc:
            apply_errors(form, exc)
        except DomainError as exc:
            form.form_errors.append(exc.message)
        else:
            flash(_("Posted %(number)s.", number=entry.number), "success")
            return redirect(url_for("credit.entry", entry_id=entry.id))
    return render_form("credit/posting_form.html", form, form=form, title=title)


@bp.route("/invoices/new", methods=["GET", "POST"])
@requires("invoices.write", "sales.manage")
def invoice_new():
    return _posting(
        InvoiceForm,
        _("Post an invoice"),
        lambda f, d: services.post_invoice(
            current_user,
            d,
            number=f.number.data,
            issued_on=f.issued_on.data,
            due_on=f.due_on.data,
            amount=_money_field(f, "amount"),
            order_number=f.order_number.data or None,
        ),
        "invoices.write",
    )


@bp.route("/payments/new", methods=["GET", "POST"])
@requires("payments.write", "sales.manage")
def payment_new():
    return _posting(
        PaymentForm,
        _("Record a payment"),
        lambda f, d: services.post_payment(
            current_user,
            d,
            amount=_money_field(f, "amount"),
            received_on=f.received_on.data,
            reference=f.reference.data,
        ),
        "payments.write",
    )


@bp.route("/credit-notes/new", methods=["GET", "POST"])
@requires("credit_notes.write", "sales.manage")
def credit_note_new():
    return _posting(
        CreditNoteForm,
        _("Issue a credit note"),
        lambda f, d: services.post_credit_note(
            current_user,
            d,
            amount=_money_field(f, "amount"),
            issued_on=f.issued_on.data,
            reason=f.reason.data,
            invoice_number=f.invoice_number.data or None,
        ),
        "credit_notes.write",
    )


@bp.route("/payments/import", methods=["GET", "POST"])
@accepts_workbooks
@requires("payments.write")
def payment_import():
    form = ImportForm()
    if form.validate_on_submit():
        try:
            record = start_import("payment_import", form.file.data, started_by=current_user)
        except Invalid as exc:
            apply_errors(form, exc)
        else:
            return redirect(url_for("jobs.detail", job_id=record.id))
    return render_form("credit/payment_import.html", form, form=form, columns=imports.COLUMNS)


@bp.route("/payments/import/template.csv")
@requires("payments.write")
def payment_import_template():
    """The bank file's CSV template: English headers, or Chinese ones with `?headers=zh`."""
    chinese = request.args.get("headers") == "zh"
    return files.template_download(imports.COLUMNS, imports.EXAMPLE, "payments", chinese)


# ------------------------------------------------------------------ one entry, its applications


@bp.route("/entries/<int:entry_id>", methods=["GET", "POST"])
@requires("ledger.read")
@tenant_route("ledger_entry")
def entry(entry_id):

    scope = current_scope()
    item = scope.get_or_404(LedgerEntry, id=entry_id)
    apply_form, reverse_form = ApplyForm(prefix="apply"), ReverseForm(prefix="rev")
    if request.method == "POST":
        if not can(("applications.manage", "sales.manage")):
            raise Forbidden()
        channel.check_seller_side(current_user, item.dealer, "applications.manage")
        try:
            if request.form.get("action") == "reverse" and reverse_form.validate_on_submit():
                app = scope.get_or_404(Application, id=int(request.form.get("application_id", "0")))
                if app.credit_id != item.id and app.invoice_id != item.id:
                    raise Invalid(fields={"application": [_("Not an application of this entry.")]})
                services.reverse_application(current_user, app)
                flash(_("Application reversed; the amount is unapplied again."), "success")
                return redirect(url_for("credit.entry", entry_id=entry_id))
            if request.form.get("action") == "apply":
                apply_form.invoice_number.choices = as_choices([(request.form.get("apply-invoice_number", ""), "")])
                if apply_form.validate_on_submit():
                    invoice = scope.first(
                        LedgerEntry, dealer_id=item.dealer_id, type="invoice", number=apply_form.invoice_number.data
                    )
                    if invoice is None:
                        raise Invalid(fields={"invoice_number": [_("No such invoice for this dealer.")]})
                    services.apply_credit(current_user, item, invoice, _money_field(apply_form, "amount"))
                    flash(_("Applied."), "success")
                    return redirect(url_for("credit.entry", entry_id=entry_id))
        except Invalid as exc:
            apply_errors(apply_form, exc)
        except DomainError as exc:
            apply_form.form_errors.append(exc.message)
    view = services.entry_view(item)
    open_invoices = []
    if item.is_credit and view.get("unapplied", ZERO) > 0:
        open_invoices = [(inv, res) for inv, res in services._invoice_residuals(item.dealer_id)]
        apply_form.invoice_number.choices = as_choices(
            (inv.number, f"{inv.number} · {inv.due_on} · {res}") for inv, res in open_invoices
        )
    reversed_ids = {a.reverses_id for a in view["applications"] if a.reverses_id}
    return render_form(
        "credit/entry.html",
        apply_form,
        entry=view,
        item=item,
        apply_form=apply_form,
        reverse_form=reverse_form,
        open_invoices=open_invoices,
        reversed_ids=reversed_ids,
        may_apply=channel.acts_as_seller(current_user, item.dealer, "applications.manage"),
    )
