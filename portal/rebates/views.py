"""Rebate pages (PRODUCT.md §11, portal/rebates/README.md): the programmes in scope, a programme's form (draft: all
of it; active or closed: names and description), one programme (its tiers, everyone's progress with totals, charts
and CSV/XLSX export — a dealer sees its own card —, activate and close for channel managers, the settlement for
finance: compute, adjust with a reason, approve one or all; a dealer sees its own approved settlement).

Each POST is one action: the service raises, the page is shown again with the message next to the field it is about
and a 4xx status (so the request edge rolls the transaction back), or the action is done and the browser is sent
back to the page (PRG)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, or_, select

from portal.background.models import JobRecord
from portal.background.services import job_state
from portal.catalog import services as catalog_services
from portal.catalog.labels import category_label
from portal.catalog.models import Product
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.platform.auth import can, requires
from portal.platform.errors import DomainError, Invalid
from portal.platform.money import parse_money
from portal.platform.tenancy import current_scope, dealer_or_404, tenant_route
from portal.platform.timeutil import today
from portal.platform.web import apply_errors, current_lang, export_response, list_page, page_args, thousands
from portal.rebates import services
from portal.rebates.forms import BASIS_LABELS, TIER_KIND_LABELS, TIER_ROWS, ActionForm, AdjustForm, ProgrammeForm
from portal.rebates.models import PROGRAMME_STATUSES, RebateProgramme, RebateSettlement

bp = Blueprint("rebates", __name__)

PROGRAMME_STATUS_LABELS = {"draft": _l("Draft"), "active": _l("Active"), "closed": _l("Closed")}
SETTLEMENT_STATUS_LABELS = {"computed": _l("To approve"), "approved": _l("Approved")}
FROZEN = ("code", "period_start", "period_end", "scope", "basis", "tier_kind", "cap", "target_skus",
          "target_categories")  # fmt: skip
LIST_SPLIT = re.compile(r"[\s,，;；、]+")
PROGRESS_PER_PAGE = 50
TOP_DEALERS = 10

for _name, _labels in (
    ("REBATE_STATUS_LABELS", PROGRAMME_STATUS_LABELS),
    ("REBATE_SETTLEMENT_LABELS", SETTLEMENT_STATUS_LABELS),
    ("REBATE_BASIS_LABELS", BASIS_LABELS),
):
    bp.add_app_template_global(_labels, _name)


# ------------------------------------------------------------------ formatting (templates)


def _plain(value: Decimal) -> str:
    """A decimal without trailing zeros: 2.50 -> 2.5, 500.00 -> 500."""
    text = format(value.normalize(), "f") if value is not None else ""
    return text


@bp.app_template_global("rebate_name")
def rebate_name(programme: RebateProgramme) -> str:
    """The programme's name in the reader's language (the Chinese one when no English one is given)."""
    return programme.name_en if current_lang() == "en" and programme.name_en else programme.name


@bp.app_template_global("rebate_basis")
def rebate_basis(value, unit: str | bool) -> str:
    """A basis figure: money for amount bases, whole units (thousands separated) otherwise."""
    if value is None:
        return "—"
    amount = unit is True or unit == "amount"
    return format_decimal(value, format="#,##0.00" if amount else "#,##0.##")


@bp.app_template_global("rebate_rate")
def rebate_rate(rate, tier_kind: str) -> str:
    if rate is None:
        return "—"
    if tier_kind == "percent":
        return format_decimal(rate, format="0.##") + "%"
    return _("%(amount)s CNY per unit", amount=format_decimal(rate, format="#,##0.00"))


@bp.app_template_global("rebate_scope")
def rebate_scope(programme: RebateProgramme) -> str:
    """Who the programme covers, in words: all dealers, a tier, a region or one dealer (by name)."""
    from portal.dealers.models import Region

    kind, value = programme.scope_kind, programme.scope_value
    if kind == "all":
        return _("All dealers")
    if kind == "tier":
        return _("Tier %(tier)s", tier=value)
    names = g.setdefault("rebate_scope_names", {})  # a list page names the same regions many times
    if (kind, value) not in names:
        model = Region if kind == "region" else Dealer
        names[kind, value] = db.session.execute(select(model.name).where(model.code == value)).scalar_one_or_none()
    name = names[kind, value]
    return f"{name} ({value})" if name else value


@bp.app_template_global("rebate_products")
def rebate_products(programme: RebateProgramme) -> str:
    """What counts towards the basis: every product, or the SKUs and categories targeted."""
    skus = [t.sku for t in programme.targets if t.sku]
    categories = [t.category for t in programme.targets if t.category]
    if not skus and not categories:
        return _("Every product")
    parts = []
    if skus:
        parts.append(_("SKUs %(list)s", list=", ".join(skus)))
    if categories:
        parts.append(_("categories %(list)s", list=", ".join(category_label(c) for c in categories)))
    return "; ".join(parts)


@bp.app_template_global("rebate_settlement_tier")
def rebate_settlement_tier(programme: RebateProgramme, settlement: RebateSettlement) -> str:
    """The tier a settlement reached, as "Tier n" (its threshold among the programme's tiers)."""
    thresholds = [t.threshold for t in programme.tiers]
    if settlement.tier_threshold is None or settlement.tier_threshold not in thresholds:
        return rebate_tier_label(None)
    return rebate_tier_label(thresholds.index(settlement.tier_threshold))


@bp.app_template_global("rebate_ended")
def rebate_ended(programme: RebateProgramme) -> bool:
    return programme.period_end < today()


@bp.app_template_global("rebate_tier_label")
def rebate_tier_label(tier_index) -> str:
    return _("No tier yet") if tier_index is None else _("Tier %(n)s", n=tier_index + 1)


# ------------------------------------------------------------------ the list


@bp.route("/rebates")
@requires("rebates.read")
def index():
    scope = current_scope()
    status = request.args.get("status")
    status = status if status in PROGRAMME_STATUSES and (scope.is_hq or status != "draft") else None
    page = list_page(services.programmes_query(scope, status=status))
    own, settled = {}, {}
    if scope.is_dealer:  # the dealer's own figures in each programme of the page (a handful of programmes)
        dealer = db.session.get(Dealer, scope.dealer_id)
        for p in page["items"]:
            rows = services.progress(scope, p, dealer_code=dealer.code)["rows"]
            own[p.id] = rows[0] if rows else None
            if p.status == "closed":  # its approved settlement (a dealer sees only approved ones)
                settled[p.id] = db.session.execute(services.settlements_query(scope, p)).unique().scalars().first()
    return render_template("rebates/index.html", page=page, status=status, own=own, settled=settled,
                           may_manage=can("rebates.manage"))  # fmt: skip


# ------------------------------------------------------------------ the form


def _text(value) -> str:
    return (value or "").strip()


def _split(text: str | None) -> list[str]:
    return list(dict.fromkeys(v for v in LIST_SPLIT.split(_text(text)) if v))


def _decimal(text: str, *, places: int) -> Decimal:
    try:
        value = Decimal(text.replace(",", "").rstrip("%").strip())
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(_("Not a number.")) from exc
    if not value.is_finite():
        raise ValueError(_("Not a number."))
    if value.as_tuple().exponent < -places:
        raise ValueError(_("At most %(n)s decimal places.", n=places))
    if value < 0:
        raise ValueError(_("Must not be negative."))
    if value >= Decimal("1e12"):
        raise ValueError(_("Too large."))
    return value


def _form_data(form: ProgrammeForm) -> tuple[dict, dict, dict[int, list[str]], list[int]]:
    """The form as the service's `data`; the input problems found before asking it (by field, and by tier row);
    the row number of each tier passed."""
    errors: dict[str, list[str]] = {}
    row_errors: dict[int, list[str]] = {}
    tiers, rows = [], []
    for row_no, entry in enumerate(form.tiers.entries):
        f = entry.form
        if f.is_blank():
            continue
        problems = []
        tier = {}
        for key, label, places in (("threshold", _("threshold"), 2), ("rate", _("rate"), 4)):
            raw = _text(getattr(f, key).data)
            try:
                if not raw:
                    raise ValueError(_("Required."))
                tier[key] = _decimal(raw, places=places)
            except ValueError as exc:  # said as the service says it
                problems.append(_("Tier %(n)s, %(field)s: %(message)s", n=row_no + 1, field=label, message=str(exc)))
        if problems:
            row_errors[row_no] = problems
            continue
        tiers.append(tier)
        rows.append(row_no)
    cap = None
    if _text(form.cap.data):
        try:
            cap = parse_money(form.cap.data, allow_zero=False)
        except ValueError as exc:
            errors["cap"] = [str(exc)]
    for name in ("period_start", "period_end"):
        field = getattr(form, name)
        if field.data is None and not field.errors:
            errors[name] = [_("Enter a date.")]
    data = {
        "code": _text(form.code.data),
        "name": _text(form.name.data),
        "name_en": _text(form.name_en.data) or None,
        "description": _text(form.description.data) or None,
        "period_start": form.period_start.data,
        "period_end": form.period_end.data,
        "scope": _text(form.scope.data),
        "basis": form.basis.data,
        "tier_kind": form.tier_kind.data,
        "cap": cap,
        "tiers": tiers,
        "targets": {"skus": _split(form.target_skus.data), "categories": _split(form.target_categories.data)},
    }
    return data, errors, row_errors, rows


def _with_service_errors(data: dict, programme: RebateProgramme | None, errors: dict, any_tier: bool) -> dict:
    """The form's own errors plus what the service says of the rest, so every problem shows at once: the service is
    asked inside a savepoint that is always rolled back (nothing is saved while the form has errors)."""
    merged = {k: list(v) for k, v in errors.items()}
    savepoint = db.session.begin_nested()
    try:
        services.save_programme(current_user, data, programme)
    except Invalid as exc:
        for key, messages in (exc.fields or {}).items():
            if key in merged or (key == "tiers" and not any_tier):
                continue  # the form's message is the precise one; no tier read is not "no tier given"
            merged[key] = list(messages)
    finally:
        savepoint.rollback()
    return merged


def _show_service_errors(form: ProgrammeForm, exc: Invalid, row_errors: dict, rows: list[int]) -> None:
    """The service's field errors on the form: tier errors on their rows (or above the table), targets on their
    fields, the rest next to their fields or at the top."""
    fields = dict(exc.fields or {})
    for key in [k for k in fields if k.startswith("tiers.")]:
        try:
            row = rows[int(key.split(".")[1])]
        except (ValueError, IndexError):
            form.tier_errors.extend(fields.pop(key))
            continue
        row_errors.setdefault(row, []).extend(fields.pop(key))
    form.tier_errors.extend(fields.pop("tiers", []))
    for old, new in (("targets", "target_skus"), ("targets.skus", "target_skus"), ("skus", "target_skus"),
                     ("targets.categories", "target_categories"), ("categories", "target_categories"),
                     ("period", "period_end")):  # fmt: skip
        if old in fields:
            fields.setdefault(new, [])
            fields[new] = list(fields[new]) + list(fields.pop(old))
    if fields:
        apply_errors(form, Invalid(exc.message, fields=fields))
    elif not (form.tier_errors or row_errors):
        form.form_errors.append(exc.message)


def _initial(programme: RebateProgramme | None) -> dict:
    if programme is None:
        return {"scope": "all", "basis": "sell_in_amount", "tier_kind": "percent", "tiers": [{}] * TIER_ROWS}
    tiers = [{"threshold": _plain(t.threshold), "rate": _plain(t.rate)} for t in programme.tiers][:TIER_ROWS]
    return {
        "code": programme.code,
        "name": programme.name,
        "name_en": programme.name_en or "",
        "description": programme.description or "",
        "period_start": programme.period_start,
        "period_end": programme.period_end,
        "scope": programme.scope,
        "basis": programme.basis,
        "tier_kind": programme.tier_kind,
        "cap": str(programme.cap) if programme.cap is not None else "",
        "tiers": tiers + [{}] * (TIER_ROWS - len(tiers)),
        "target_skus": ", ".join(t.sku for t in programme.targets if t.sku),
        "target_categories": ", ".join(t.category for t in programme.targets if t.category),
    }


def _form_page(programme: RebateProgramme | None):
    frozen = programme is not None and programme.status != "draft"
    categories = [c for (c,) in db.session.execute(select(Product.category).distinct().order_by(Product.category))]

    # read before any change is pending
    context = {"scope_choices": catalog_services.scope_choices(current_scope()), "categories": categories}
    if request.method == "GET":
        form = ProgrammeForm(data=_initial(programme))
    else:
        form = ProgrammeForm()
        if programme is not None:  # the code never changes (its input is disabled)
            form.code.data = programme.code
        if frozen:  # disabled inputs are not sent: show the programme's own values
            initial = _initial(programme)
            for name in FROZEN:
                getattr(form, name).data = initial[name]
            for entry, values in zip(form.tiers.entries, initial["tiers"], strict=False):
                entry.form.threshold.data, entry.form.rate.data = values.get("threshold"), values.get("rate")
    form.tier_errors = []
    row_errors: dict[int, list[str]] = {}
    if form.validate_on_submit():
        data, errors, row_errors, rows = _form_data(form)
        if frozen:
            data = {k: data[k] for k in ("name", "name_en", "description")}
            errors, row_errors = {}, {}
        try:
            if errors or row_errors:
                raise Invalid(fields=_with_service_errors(data, programme, errors, bool(rows)))
            saved = services.save_programme(current_user, data, programme)
        except Invalid as exc:
            db.session.rollback()
            _show_service_errors(form, exc, row_errors, rows)
            if row_errors:
                form.tier_errors.append(_("Correct the marked tiers."))
            if not form.form_errors:
                form.form_errors.append(_("Nothing was saved: check the fields marked."))
        except DomainError as exc:
            db.session.rollback()
            form.form_errors.append(exc.message)
        else:
            flash(_("Programme %(code)s saved.", code=saved.code), "success")
            return redirect(url_for("rebates.detail", code=saved.code))
    failed = bool(form.errors or form.form_errors or form.tier_errors or row_errors)
    return (
        render_template(
            "rebates/form.html",
            form=form,
            programme=programme,
            frozen=frozen,
            row_errors=row_errors,
            **context,
        ),
        422 if failed else 200,
    )


@bp.route("/rebates/new", methods=["GET", "POST"])
@requires("rebates.manage")
def new():
    return _form_page(None)


def _programme(code: str) -> RebateProgramme:
    """The programme, inside the caller's scope (drafts are HQ's): 404 otherwise."""
    return current_scope().get_or_404(RebateProgramme, code=code)


@bp.route("/rebates/<code>/edit", methods=["GET", "POST"])
@requires("rebates.manage")
@tenant_route("rebate")
def edit(code):
    return _form_page(_programme(code))


# ------------------------------------------------------------------ one programme


def _chart_items(result: dict, programme: RebateProgramme) -> dict:
    by_tier = []
    for t in result["totals"]["by_tier"]:
        by_tier.append((rebate_tier_label(t["tier_index"]), t["dealers"]))
    by_tier.sort(key=lambda x: x[0] != _("No tier yet"))  # "no tier" first, then the tiers in order
    rows = result["rows"]
    by_rebate = any(r["rebate"] > 0 for r in rows)
    key = "rebate" if by_rebate else "basis"
    top = sorted(rows, key=lambda r: r[key], reverse=True)[:TOP_DEALERS]
    top = [r for r in top if r[key] > 0]
    money_figures = key == "rebate" or programme.is_amount
    in_thousands = money_figures and bool(top) and top[0][key] >= 100_000  # small rebates read in whole CNY
    return {
        "by_tier": by_tier,
        "top": [(r["dealer_code"], thousands(r[key]) if in_thousands else int(r[key])) for r in top],
        "top_key": key,
        "top_unit": "thousand" if in_thousands else ("cny" if money_figures else "units"),
    }


EXPORT_HEADER = ["dealer_code", "dealer_name", "region_code", "region_name", "basis", "tier", "rate", "rebate",
                 "capped", "next_threshold", "needed", "next_rate", "progress_pct"]  # fmt: skip


def _export(programme: RebateProgramme, result: dict, fmt: str):
    rows = (
        [r["dealer_code"], r["dealer_name"], r["region_code"], r["region_name"], r["basis"],
         None if r["tier_index"] is None else r["tier_index"] + 1, r["rate"], r["rebate"], r["capped"],
         r["next_threshold"], r["needed"], r["next_rate"], r["progress_pct"]]  # fmt: skip
        for r in result["rows"]
    )
    return export_response(fmt, f"rebate-{programme.code}-{result['as_of']}", EXPORT_HEADER, rows)


def _settlement_job(programme: RebateProgramme) -> dict | None:
    """The settlement job named in the URL (after "Compute settlement"), if it is this programme's."""
    job_id = request.args.get("job")
    if not job_id or not can("rebates.settle"):
        return None
    record = current_scope().first(JobRecord, id=job_id)
    if record is None or record.kind != "rebate_settlement":
        return None
    if (record.params or {}).get("programme", programme.code) != programme.code:
        return None
    return job_state(record)


def _filters(programme: RebateProgramme) -> dict:
    """The progress table's and the settlements' filters: a dealer (code or name), a tier, a settlement status."""
    tier = request.args.get("tier") or ""
    valid_tiers = {"none", *(str(n) for n in range(1, len(programme.tiers) + 1))}
    status = request.args.get("settlement")
    return {
        "q": (request.args.get("q") or "").strip()[:60],
        "tier": tier if tier in valid_tiers else "",
        "settlement": status if status in SETTLEMENT_STATUS_LABELS else "",
    }


def _row_matches(row: dict, flt: dict) -> bool:
    q = flt["q"].lower()
    if q and q not in row["dealer_code"].lower() and q not in (row["dealer_name"] or "").lower():
        return False
    if flt["tier"] == "none":
        return row["tier_index"] is None
    return not flt["tier"] or row["tier_index"] == int(flt["tier"]) - 1


def _detail(programme: RebateProgramme, *, adjust_forms: dict | None = None, top_errors: list | None = None,
            status: int = 200):  # fmt: skip
    scope = current_scope()
    may_manage = can("rebates.manage")
    may_settle = can("rebates.settle")
    result = services.progress(scope, programme)
    flt = _filters(programme)
    rows = [r for r in result["rows"] if _row_matches(r, flt)]
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx"):
        return _export(programme, {**result, "rows": rows}, fmt)
    page_no, per_page = page_args(PROGRESS_PER_PAGE)
    pages = max(1, -(-len(rows) // per_page))
    progress_page = {"items": rows[(page_no - 1) * per_page : page_no * per_page], "page": page_no,
                     "per_page": per_page, "total": len(rows), "pages": pages}  # fmt: skip
    shown_totals = {
        "dealers": len(rows),
        "basis": sum((r["basis"] for r in rows), Decimal(0)),
        "rebate": sum((r["rebate"] for r in rows), Decimal("0.00")),
    }
    settlements, to_approve = [], 0
    if programme.status != "draft":  # a dealer: its own, once approved (the query's scope)
        stmt = services.settlements_query(scope, programme, status=flt["settlement"] or None)
        if flt["q"]:
            stmt = stmt.where(or_(Dealer.code.icontains(flt["q"], autoescape=True),
                                  Dealer.name.icontains(flt["q"], autoescape=True)))  # fmt: skip
        settlements = db.session.execute(stmt).unique().scalars().all()
        if may_settle:
            waiting = services.settlements_query(scope, programme, status="computed").order_by(None)
            to_approve = db.session.execute(select(func.count()).select_from(waiting.subquery())).scalar_one()
    adjust_forms = dict(adjust_forms or {})
    if may_settle:
        for s in settlements:
            if s.status == "computed":
                adjust_forms.setdefault(s.id, AdjustForm(prefix=f"s{s.id}", formdata=None))
    ended = programme.period_end < today()
    return (
        render_template(
            "rebates/detail.html",
            programme=programme,
            result=result,
            unit=result["unit"],
            own=result["rows"][0] if scope.is_dealer and result["rows"] else None,
            flt=flt,
            filtered=any(flt.values()),
            shown_totals=shown_totals,
            progress_page=progress_page,
            charts=_chart_items(result, programme) if not scope.is_dealer else None,
            settlements=settlements,
            settlement_totals={
                "computed": sum((s.computed for s in settlements), Decimal("0.00")),
                "adjustment": sum((s.adjustment for s in settlements), Decimal("0.00")),
                "carried_in": sum((s.carried_in for s in settlements), Decimal("0.00")),
                "amount": sum((s.amount for s in settlements), Decimal("0.00")),
                "to_approve": to_approve,
            },
            adjust_forms=adjust_forms,
            action_form=ActionForm(formdata=None),
            top_errors=top_errors or [],
            may_manage=may_manage,
            may_settle=may_settle,
            may_compute=may_settle and ended and programme.status != "draft",
            ended=ended,
            job=_settlement_job(programme),
            TIER_KIND_LABELS=TIER_KIND_LABELS,
            today_date=today(),
        ),
        status,
    )


@bp.route("/rebates/<code>")
@requires("rebates.read")
@tenant_route("rebate")
def detail(code):
    return _detail(_programme(code))


def _action(code: str, fn, message: str, *, settle: bool = False):
    """A button: the CSRF-checked form, the service, then back to the page (or the page with the reason)."""
    programme = _programme(code)
    form = ActionForm()
    if not form.validate_on_submit():
        return _detail(programme, top_errors=[_("The form expired; try again.")], status=400)
    try:
        outcome = fn(programme)
    except DomainError as exc:
        db.session.rollback()
        return _detail(programme, top_errors=[exc.message], status=exc.status)
    if callable(message):
        message = message(outcome)
    flash(message, "success")
    return redirect(url_for("rebates.detail", code=programme.code, _anchor="settlement" if settle else None))


@bp.route("/rebates/<code>/activate", methods=["POST"])
@requires("rebates.manage")
@tenant_route("rebate")
def activate(code):
    return _action(code, lambda p: services.activate(current_user, p),
                   _("The programme is active: the dealers it covers see their progress."))  # fmt: skip


@bp.route("/rebates/<code>/close", methods=["POST"])
@requires("rebates.manage")
@tenant_route("rebate")
def close(code):
    return _action(code, lambda p: services.close(current_user, p), _("The programme is closed."))


@bp.route("/rebates/<code>/settlements", methods=["POST"])
@requires("rebates.settle")
@tenant_route("rebate")
def compute(code):
    """Start computing the settlement (a job); the page follows it."""
    programme = _programme(code)
    form = ActionForm()
    if not form.validate_on_submit():
        return _detail(programme, top_errors=[_("The form expired; try again.")], status=400)
    try:
        record = services.start_settlement(current_user, programme)
    except DomainError as exc:
        db.session.rollback()
        return _detail(programme, top_errors=[exc.message], status=exc.status)
    flash(_("The settlement of %(code)s is being computed.", code=programme.code), "success")
    return redirect(url_for("rebates.detail", code=programme.code, job=record.id, _anchor="settlement"))


def _settlement(programme: RebateProgramme, dealer: str) -> RebateSettlement:
    scope = current_scope()
    found = dealer_or_404(dealer)
    stmt = services.settlements_query(scope, programme).where(RebateSettlement.dealer_id == found.id)
    item = db.session.execute(stmt).unique().scalar_one_or_none()
    if item is None:
        from portal.platform.errors import NotFound

        raise NotFound("RebateSettlement not found")
    return item


@bp.route("/rebates/<code>/settlements/<dealer>/adjust", methods=["POST"])
@requires("rebates.settle")
@tenant_route("rebate_settlement")
def adjust(code, dealer):
    """Finance adjusts a computed settlement: a signed amount with its reason."""
    programme = _programme(code)
    item = _settlement(programme, dealer)
    form = AdjustForm(prefix=f"s{item.id}")
    if not form.validate_on_submit():
        return _detail(programme, adjust_forms={item.id: form}, status=422)
    try:
        try:
            amount = parse_money(form.amount.data or "", allow_negative=True)
        except ValueError as exc:
            raise Invalid(fields={"amount": [str(exc)]}) from exc
        services.adjust(current_user, item, amount, _text(form.reason.data))
    except DomainError as exc:
        db.session.rollback()
        if isinstance(exc, Invalid) and exc.fields:
            apply_errors(form, exc)
        else:
            form.form_errors.append(exc.message)
        return _detail(programme, adjust_forms={item.id: form}, status=exc.status)
    flash(_("Settlement of %(dealer)s adjusted.", dealer=dealer), "success")
    return redirect(url_for("rebates.detail", code=programme.code, _anchor=f"settlement-{dealer}"))


@bp.route("/rebates/<code>/settlements/<dealer>/approve", methods=["POST"])
@requires("rebates.settle")
@tenant_route("rebate_settlement")
def approve(code, dealer):
    """Finance approves one dealer's settlement: the credit note is posted on its ledger."""
    programme = _programme(code)
    item = _settlement(programme, dealer)
    form = ActionForm()
    if not form.validate_on_submit():
        return _detail(programme, top_errors=[_("The form expired; try again.")], status=400)
    try:
        item = services.approve(current_user, item)
    except DomainError as exc:
        db.session.rollback()
        return _detail(programme, top_errors=[exc.message], status=exc.status)
    if item.amount > 0:
        flash(_("Rebate of %(dealer)s approved: %(amount)s CNY credited to its account.", dealer=dealer,
                amount=format_decimal(item.amount, format="#,##0.00")), "success")  # fmt: skip
    else:
        flash(_("Settlement of %(dealer)s approved; nothing to credit.", dealer=dealer), "success")
    return redirect(url_for("rebates.detail", code=programme.code, _anchor=f"settlement-{dealer}"))


@bp.route("/rebates/<code>/settlements/approve", methods=["POST"])
@requires("rebates.settle")
@tenant_route("rebate")
def approve_all(code):
    """Finance approves every computed settlement of the programme."""
    return _action(
        code,
        lambda p: services.approve_all(current_user, p),
        lambda r: _("%(n)s settlement(s) approved, %(notes)s credit note(s), %(total)s CNY in all.", n=r["approved"],
                    notes=r["credit_notes"], total=format_decimal(r["total"], format="#,##0.00")),  # fmt: skip
        settle=True,
    )
