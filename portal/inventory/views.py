"""Browser pages for the dealer's stock (进销存) and sell-through (PRODUCT.md §7): the stock page (on hand now or as
of a date, incoming, age buckets per SKU, VINs, adjustments by the dealer's administrator), the sell-through list with
its exports, the entry form for several lines (nothing saved while a line is bad) and the CSV import."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from wtforms import DateField, IntegerField, StringField
from wtforms.validators import DataRequired, Length, Optional

from portal.background.services import start_import
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.inventory import dealer_stock, sellthrough
from portal.inventory.dealer_stock import AGE_BUCKETS
from portal.inventory.imports import COLUMNS, EXAMPLE, _parse_row
from portal.inventory.models import CUSTOMER_TYPES, DealerStockMove, SellThroughLine
from portal.platform.auth import can, requires
from portal.platform.errors import Forbidden, Invalid
from portal.platform.files import template_download
from portal.platform.security import accepts_workbooks
from portal.platform.tenancy import current_scope, dealer_or_404, tenant_route
from portal.platform.timeutil import today
from portal.platform.web import apply_errors, export_response, list_page, parse_date_arg, query_rows, render_form
from portal.production.models import Unit

bp = Blueprint("inventory", __name__, static_folder="static", static_url_path="/inventory/static")

AGE_LABELS = {
    "0_30": _l("0–30 days"),
    "31_60": _l("31–60 days"),
    "61_90": _l("61–90 days"),
    "91_180": _l("91–180 days"),
    "over_180": _l("Over 180 days"),
}
CUSTOMER_TYPE_LABELS = {
    "individual": _l("Individual"),
    "business": _l("Business"),
    "fleet": _l("Fleet"),
    "government": _l("Government"),
}
SOURCE_LABELS = {"portal": _l("Portal"), "api": _l("API"), "import": _l("Import")}
MOVE_KIND_LABELS = {"receipt": _l("Receipt"), "sale": _l("Sale"), "adjustment": _l("Adjustment"),
                    "return": _l("Return"), "transfer": _l("Transfer to a sub-dealer")}  # fmt: skip
bp.add_app_template_global(CUSTOMER_TYPE_LABELS, "CUSTOMER_TYPE_LABELS")


class AdjustForm(FlaskForm):
    sku = StringField(_l("SKU"), validators=[DataRequired(), Length(max=40)])
    serial = StringField(_l("VIN (units built to order)"), validators=[Optional(), Length(max=17)])
    delta = IntegerField(_l("Change (+ in, − out)"), validators=[DataRequired()])
    moved_on = DateField(_l("Date"), validators=[Optional()])
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=500)])


class EntryForm(FlaskForm):
    """CSRF for the entry form; the lines are posted as sold_on[] / sku[] / … and read in the view."""


class ImportForm(FlaskForm):
    file = FileField(_l("File (CSV or XLSX)"), validators=[FileRequired()])


def _own_dealer() -> Dealer:
    if current_user.dealer_id is None:
        raise Forbidden()
    return db.session.get(Dealer, current_user.dealer_id)


# ------------------------------------------------------------------ stock


@bp.route("/stock")
@requires("dealer_stock.read")
def my_stock():
    """The dealer's own stock; HQ and regions open a dealer's stock from the dealer's page."""
    if current_user.dealer_id is None:
        return redirect(url_for("dealers.dealers"))
    return redirect(url_for("inventory.dealer_stock_page", code=_own_dealer().code))


@bp.route("/dealers/<code>/stock", methods=["GET", "POST"])
@requires("dealer_stock.read")
@tenant_route("dealer")
def dealer_stock_page(code):
    dealer = dealer_or_404(code)
    as_of = parse_date_arg("as_of")
    if as_of is not None and as_of > today():
        as_of = None
    may_adjust = can("dealer_stock.adjust") and current_user.dealer_id == dealer.id
    form = AdjustForm(prefix="adj")
    if request.method == "POST":
        if not may_adjust:
            raise Forbidden()
        if form.validate_on_submit():
            try:
                sellthrough.adjust(current_user, dealer, form.sku.data.strip(), form.delta.data, form.reason.data,
                                   serial=form.serial.data, on=form.moved_on.data)  # fmt: skip
            except Invalid as exc:
                apply_errors(form, exc)
            else:
                flash(_("Stock adjusted."), "success")
                return redirect(url_for("inventory.dealer_stock_page", code=dealer.code))
    report = dealer_stock.stock_report(dealer, as_of)
    serials = [v["serial"] for v in report["vins"]]
    # the portal's units the caller may track (a sub-dealer's VINs were built for its distributor's order, §16)
    known = select(Unit.serial).where(Unit.serial.in_(serials), current_scope().clause(Unit))
    tracked = set(db.session.execute(known).scalars()) if serials else set()
    shipments = dealer_stock.incoming_shipments(dealer.id) if as_of is None else []
    # a distributor's transfers on their way to its sub-dealers, and its sub-dealers' stock pages (§16)
    outgoing = dealer_stock.outgoing_shipments(dealer.id) if as_of is None else []
    subs = db.session.execute(
        current_scope().select(Dealer, Dealer.parent_id == dealer.id).order_by(Dealer.code)
    ).unique().scalars().all()  # fmt: skip
    adjustments = (
        db.session.execute(dealer_stock.moves_query(dealer.id).where(DealerStockMove.kind == "adjustment").limit(10))
        .scalars()
        .all()
    )
    return render_form(
        "inventory/dealer_stock.html",
        form,
        dealer=dealer,
        report=report,
        as_of=as_of,
        shipments=shipments,
        outgoing=outgoing,
        sub_dealers=subs,
        adjustments=adjustments,
        form=form,
        may_adjust=may_adjust,
        tracked=tracked,
        buckets=[key for key, _low, _high in AGE_BUCKETS],
        AGE_LABELS=AGE_LABELS,
        MOVE_KIND_LABELS=MOVE_KIND_LABELS,
        today_iso=today().isoformat(),
    )


# ------------------------------------------------------------------ sell-through list


@bp.route("/sell-through")
@requires("sellthrough.read")
def sellthrough_list():
    filters = {
        "dealer": (request.args.get("dealer") or "").strip() or None,
        "date_from": parse_date_arg("from"),
        "date_to": parse_date_arg("to"),
        "sku": (request.args.get("sku") or "").strip() or None,
        "below_floor": request.args.get("below_floor") == "1",
    }
    scope = current_scope()
    show_dealer = not scope.is_dealer or bool(scope.sub_dealer_ids)  # a distributor sees its sub-dealers' too (§16)
    if not show_dealer:
        filters["dealer"] = None  # the scope says it already
    stmt = sellthrough.lines_query(scope, **filters)
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx"):
        return _export(fmt, stmt)
    page = list_page(stmt)
    codes = _dealer_codes({ln.dealer_id for ln in page["items"]})
    return render_template(
        "inventory/sellthrough_list.html",
        page=page,
        filters=filters,
        codes=codes,
        SOURCE_LABELS=SOURCE_LABELS,
        show_dealer=show_dealer,
    )


def _dealer_codes(ids) -> dict[int, str]:
    if not ids:
        return {}
    rows = db.session.execute(db.select(Dealer.id, Dealer.code).where(Dealer.id.in_(ids)))
    return dict(rows.all())


def _export(fmt: str, stmt) -> Response:
    """Every line of the list, read in chunks while the file is written (CSV: while it is sent)."""
    header = ["dealer_code", "sold_on", "sku", "serial", "quantity", "unit_price", "amount", "floor_price",
              "below_floor", "city", "customer_type", "source"]  # fmt: skip
    lines = stmt.add_columns(Dealer.code.label("dealer_code")).join(Dealer, Dealer.id == SellThroughLine.dealer_id)
    rows = (
        [code, ln.sold_on if fmt == "xlsx" else ln.sold_on.isoformat(), ln.sku, ln.serial or "",
         ln.quantity, ln.unit_price if fmt == "xlsx" else str(ln.unit_price),
         ln.amount if fmt == "xlsx" else str(ln.amount),
         ("" if ln.floor_price is None else (ln.floor_price if fmt == "xlsx" else str(ln.floor_price))),
         "yes" if ln.below_floor else "no", ln.city or "", ln.customer_type or "", ln.source]
        for ln, code in query_rows(lines)
    )  # fmt: skip
    return export_response(fmt, f"sell-through-{today()}", header, rows)


# ------------------------------------------------------------------ entry form

ENTRY_FIELDS = ("sold_on", "sku", "serial", "quantity", "unit_price", "city", "customer_type")


def _posted_rows() -> list[dict]:
    columns = {name: request.form.getlist(name) for name in ENTRY_FIELDS}
    count = max((len(v) for v in columns.values()), default=0)
    rows = []
    for i in range(count):
        values = {name: (columns[name][i] if i < len(columns[name]) else "").strip() for name in ENTRY_FIELDS}
        rows.append({"values": values, "errors": {}})
    return rows


@bp.route("/sell-through/new", methods=["GET", "POST"])
@requires("sellthrough.write")
def sellthrough_new():
    dealer = _own_dealer()
    form = EntryForm()
    try:
        blank = min(50, max(1, int(request.args.get("rows", 5))))
    except ValueError:
        blank = 5
    rows = [{"values": {"sold_on": today().isoformat(), "quantity": "1"}, "errors": {}} for _i in range(blank)]
    if request.method == "POST" and form.validate_on_submit():
        rows = _posted_rows()
        filled = [i for i, r in enumerate(rows) if any(r["values"][k] for k in ("sku", "serial", "unit_price"))]
        lines, where = [], []
        for i in filled:
            values = dict(rows[i]["values"])
            line, problems = _parse_row(values)
            for problem in problems:
                field, _sep, msg = problem.partition(": ")
                rows[i]["errors"].setdefault(field, []).append(msg)
            if not problems:
                lines.append(line)
                where.append(i)
        if not filled:
            form.form_errors.append(_("Fill in at least one line."))
        elif any(r["errors"] for r in rows):
            if lines:  # the lines that could be read are checked too, so every problem shows at once
                found = sellthrough.validate(dealer, [sellthrough.normalise(ln) for ln in lines])
                for index, per_field in found.by_line.items():
                    for field, messages in per_field.items():
                        rows[where[index]]["errors"].setdefault(field, []).extend(messages)
            form.form_errors.append(_("Nothing was saved: correct the lines marked below."))
        else:
            try:
                saved = sellthrough.record(current_user, dealer, lines, source="portal")
            except Invalid as exc:
                for key, messages in exc.fields.items():
                    parts = key.split(".")
                    if len(parts) == 3 and parts[0] == "lines":
                        rows[where[int(parts[1])]]["errors"].setdefault(parts[2], []).extend(messages)
                    else:
                        form.form_errors.extend(messages)
                form.form_errors.append(_("Nothing was saved: correct the lines marked below."))
            else:
                flash(_("Sales recorded: %(n)s line(s).", n=len(saved)), "success")
                return redirect(url_for("inventory.sellthrough_list"))
    return render_form(
        "inventory/sellthrough_new.html",
        form,
        form=form,
        rows=rows,
        dealer=dealer,
        customer_types=CUSTOMER_TYPES,
        today_iso=today().isoformat(),
    )


# ------------------------------------------------------------------ import


@bp.route("/sell-through/import", methods=["GET", "POST"])
@accepts_workbooks
@requires("sellthrough.write")
def sellthrough_import():
    dealer = _own_dealer()
    form = ImportForm()
    if form.validate_on_submit():
        try:
            record = start_import("sell_through_import", form.file.data, started_by=current_user, dealer_id=dealer.id)
        except Invalid as exc:
            apply_errors(form, exc)
        else:
            return redirect(url_for("jobs.detail", job_id=record.id))
    return render_form("inventory/sellthrough_import.html", form, form=form, columns=COLUMNS,
                       customer_types=CUSTOMER_TYPES)  # fmt: skip


@bp.route("/sell-through/import/template.csv")
@requires("sellthrough.write")
def sellthrough_template():
    """The import's CSV template: English headers, or Chinese ones with `?headers=zh`."""
    return template_download(COLUMNS, EXAMPLE, "sell-through", request.args.get("headers") == "zh")
