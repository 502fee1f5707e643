"""UI helpers shared by every domain: paging, CSV export, labels, money formatting, security headers."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from urllib.parse import urlencode

from flask import Response, request
from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.orders.labels import ORDER_STATUS_LABELS
from portal.platform.api import paginate
from portal.platform.auth import can
from portal.platform.i18n import current_lang

ROLE_LABELS = {
    "dealer_staff": _l("Dealer staff"),
    "dealer_admin": _l("Dealer administrator"),
    "region_manager": _l("Region manager"),
    "channel_manager": _l("Channel manager"),
    "finance": _l("Finance"),
    "hq_admin": _l("HQ administrator"),
}
CHANNEL_TYPE_LABELS = {
    "4s_store": _l("4S store"),
    "chain": _l("Chain"),
    "department_store": _l("Department store"),
    "franchise": _l("Franchise"),
    "specialty": _l("Specialty store"),
}
AUDIT_ACTION_LABELS = {
    "region.create": _l("Region created"),
    "region.update": _l("Region changed"),
    "dealer.create": _l("Dealer created"),
    "dealer.update": _l("Dealer changed"),
    "user.create": _l("User created"),
    "user.update": _l("User changed"),
    "user.password": _l("Own password changed"),
    "user.locale": _l("Language changed"),
    "invoice.post": _l("Invoice posted"),
    "payment.post": _l("Payment recorded"),
    "credit_note.post": _l("Credit note issued"),
    "application.apply": _l("Payment applied"),
    "application.reverse": _l("Application reversed"),
    "credit.limit": _l("Credit limit changed"),
    "credit.increase": _l("Temporary increase granted"),
    "credit.hold": _l("Credit hold set"),
    "credit.release": _l("Credit hold lifted"),
    "product.create": _l("Product created"),
    "product.update": _l("Product changed"),
    "category.update": _l("Category renamed"),
    "price_list.create": _l("Price list created"),
    "price_list.update": _l("Price list changed"),
    "order.submit": _l("Order submitted"),
    "order.amend": _l("Order amended"),
    "order.approved": _l("Order approved"),
    "order.rejected": _l("Order rejected"),
    "order.cancelled": _l("Order cancelled"),
    "order.in_production": _l("Order in production"),
    "order.built": _l("Order built"),
    "order.shipped": _l("Order shipped"),
    "order.delivered": _l("Order delivered"),
    "warehouse.create": _l("Warehouse created"),
    "stock.receive": _l("Stock received"),
    "stock.adjust": _l("Stock adjusted"),
    "stock.allocate": _l("Stock allocated"),
    "stock.release": _l("Stock allocation released"),
    "stock.ship": _l("Stock shipped"),
    "stock.expect": _l("Expected receipt recorded"),
    "stock.expect_cancel": _l("Expected receipt cancelled"),
    "order.move_up": _l("Order moved up the backorder queue"),
    "dealer_stock.adjust": _l("Dealer stock adjusted"),
    "sell_through.record": _l("Sell-through recorded"),
    "shipment.create": _l("Shipment created"),
    "shipment.receive": _l("Shipment received"),
    "statement.confirm": _l("Statement confirmed"),
    "statement.dispute": _l("Statement disputed"),
    "dispute.credit_note": _l("Dispute settled with a credit note"),
    "dispute.adjustment": _l("Dispute settled with an adjustment"),
    "dispute.reject": _l("Dispute rejected"),
    "rebate.create": _l("Rebate programme created"),
    "rebate.update": _l("Rebate programme changed"),
    "rebate.activate": _l("Rebate programme activated"),
    "rebate.close": _l("Rebate programme closed"),
    "rebate.settlement.compute": _l("Rebate settlement computed"),
    "rebate.settlement.adjust": _l("Rebate settlement adjusted"),
    "rebate.settlement.approve": _l("Rebate settlement approved"),
    "email.resend": _l("E-mail sent again"),
    "payer_account.create": _l("Payer account registered"),
    "payer_account.update": _l("Payer account registered again"),
    "payer_account.deactivate": _l("Payer account deactivated"),
    "unmatched_receipt.assign": _l("Unmatched receipt assigned"),
    "unmatched_receipt.dismiss": _l("Unmatched receipt dismissed"),
    "credit_request.create": _l("Credit increase requested"),
    "credit_request.approve": _l("Credit increase request approved"),
    "credit_request.reject": _l("Credit increase request rejected"),
    "credit_request.forward": _l("Credit increase request forwarded to finance"),
    "credit_request.withdraw": _l("Credit increase request withdrawn"),
    "payment_notice.create": _l("Payment notice sent"),
    "payment_notice.match": _l("Payment notice matched"),
    "payment_notice.query": _l("Payment notice queried"),
    "credit.dunning_level": _l("Dunning level changed"),
    "promise.create": _l("Promise to pay recorded"),
    "promise.cancel": _l("Promise to pay replaced"),
    "promise.settle": _l("Promise to pay settled"),
    "collection_contact.create": _l("Collection contact recorded"),
    "return.request": _l("Return requested"),
    "return.approve": _l("Return approved"),
    "return.reject": _l("Return rejected"),
    "return.ship_back": _l("Return shipped back"),
    "return.receive": _l("Return received at HQ"),
    "discrepancy.declare": _l("Delivery discrepancy declared"),
    "discrepancy.credit": _l("Delivery discrepancy settled with a credit note"),
    "discrepancy.reship": _l("Delivery discrepancy settled by reshipping"),
    "target.set": _l("Target set"),
}
ENTRY_TYPE_LABELS = {
    "invoice": _l("Invoice"),
    "payment": _l("Payment"),
    "credit_note": _l("Credit note"),
}
JOB_KIND_LABELS = {
    "payment_import": _l("Bank file import"),
    "overdue_scan": _l("Overdue scan"),
    "sell_through_import": _l("Sell-through import"),
    "statement_run": _l("Monthly statement run"),
    "rebate_settlement": _l("Rebate settlement"),
    "bank_statement_import": _l("Bank statement import"),
    "target_import": _l("Targets import"),
}
JOB_STATUS_LABELS = {
    "queued": _l("Waiting to start"),
    "running": _l("Running"),
    "finished": _l("Finished"),
    "failed": _l("Failed"),
}
SCAN_LABELS = {
    "date": _l("Day"),
    "dealers_checked": _l("Dealers checked"),
    "overdue_dealers": _l("Dealers with overdue invoices"),
    "holds_set": _l("Credit holds set"),
    "holds_lifted": _l("Credit holds lifted"),
    "reminders_sent": _l("Reminders sent"),
}
STATUS_LABELS = {
    "active": _l("Active"),
    "suspended": _l("Suspended"),
}


def page_args(default_per_page: int = 25) -> tuple[int, int]:
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    try:
        per_page = min(200, max(1, int(request.args.get("per_page", default_per_page))))
    except ValueError:
        per_page = default_per_page
    return page, per_page


def list_page(stmt, default_per_page: int = 25) -> dict:
    page, per_page = page_args(default_per_page)
    result = paginate(stmt, page, per_page)
    result["pages"] = max(1, -(-result["total"] // per_page))
    return result


def url_with(**changes) -> str:
    """The current URL with some query arguments changed (None removes one)."""
    args = request.args.to_dict()
    for k, v in changes.items():
        if v is None:
            args.pop(k, None)
        else:
            args[k] = v
    return request.path + ("?" + urlencode(args) if args else "")


def csv_response(filename: str, header: list[str], rows) -> Response:
    buf = io.StringIO()
    buf.write("\ufeff")  # so spreadsheet programs read UTF-8 Chinese names correctly
    writer = csv.writer(buf)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_safe(v) for v in row])
    return Response(
        buf.getvalue(), mimetype="text/csv", headers={"Content-Disposition": f"attachment; filename={filename}"}
    )


def _csv_safe(value):
    """Neutralise spreadsheet formulas in user text (CSV injection)."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def money_filter(value) -> str:
    if value is None:
        return ""
    return format_decimal(value, format="#,##0.00")


def register(app) -> None:
    app.jinja_env.globals.update(
        can=can,
        url_with=url_with,
        current_lang=current_lang,
        ROLE_LABELS=ROLE_LABELS,
        CHANNEL_TYPE_LABELS=CHANNEL_TYPE_LABELS,
        STATUS_LABELS=STATUS_LABELS,
        ORDER_STATUS_LABELS=ORDER_STATUS_LABELS,
        AUDIT_ACTION_LABELS=AUDIT_ACTION_LABELS,
        ENTRY_TYPE_LABELS=ENTRY_TYPE_LABELS,
        JOB_KIND_LABELS=JOB_KIND_LABELS,
        JOB_STATUS_LABELS=JOB_STATUS_LABELS,
        SCAN_LABELS=SCAN_LABELS,
    )
    app.jinja_env.filters["money"] = money_filter
    app.jinja_env.filters["thousands"] = lambda v: thousands(v or Decimal(0))

    @app.context_processor
    def _user():
        def unread():
            from portal.notify.services import unread_count

            if getattr(current_user, "is_authenticated", False) and getattr(current_user, "id", None):
                return unread_count(current_user.id)
            return 0

        return {"me": current_user, "unread_notifications": unread}


def apply_errors(form, exc) -> None:
    """Show a service's field errors (Invalid.fields) on the form; other messages go to the form top."""
    for name, messages in (exc.fields or {"_": [exc.message]}).items():
        field = getattr(form, name, None)
        target = list(field.errors) if field is not None and hasattr(field, "errors") else None
        if target is None:
            form.form_errors.extend(messages if isinstance(messages, list) else [messages])
        else:
            field.errors = target + (messages if isinstance(messages, list) else [messages])


def render_form(template: str, *forms, **context):
    """Render a form page; with errors the answer is 422, so the action's transaction is rolled back
    (whatever a service flushed before refusing is undone)."""
    from flask import render_template

    failed = any(f.errors or getattr(f, "form_errors", None) for f in forms)
    return render_template(template, **context), 422 if failed else 200


def as_choices(pairs) -> list:
    """(value, label) pairs as WTForms SelectChoice objects."""
    from wtforms.fields.choices import SelectChoice

    return [SelectChoice(value, label) for value, label in pairs]


def xlsx_response(filename: str, header: list[str], rows, sheet: str = "data") -> Response:
    """An .xlsx download; Decimal amounts are written as exact numbers (openpyxl keeps Decimal), dates as dates."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    ws.append(header)
    for row in rows:
        out = []
        for value in row:
            if isinstance(value, str):
                value = _csv_safe(value)
            out.append(value)
        ws.append(out)
    buf = io.BytesIO()
    wb.save(buf)
    return Response(
        buf.getvalue(),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )


def export_response(fmt: str, basename: str, header: list[str], rows):
    return (
        xlsx_response(f"{basename}.xlsx", header, rows)
        if fmt == "xlsx"
        else csv_response(f"{basename}.csv", header, rows)
    )


def parse_date_arg(name: str, default=None):
    import datetime as dt

    value = request.args.get(name)
    if not value:
        return default
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return default


def thousands(amount: Decimal) -> int:
    """An amount in whole thousands of CNY (chart labels)."""
    return int((amount / 1000).quantize(Decimal("1")))
