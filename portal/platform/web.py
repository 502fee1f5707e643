"""UI helpers shared by every domain: paging, CSV export, labels, money formatting, security headers."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from decimal import Decimal
from urllib.parse import urlencode

from flask import Response, request, stream_with_context
from flask_babel import get_locale, get_timezone
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.extensions import db
from portal.orders.labels import ORDER_STATUS_LABELS
from portal.platform.api import paginate
from portal.platform.auth import can
from portal.platform.i18n import current_lang, keep_whole, number_text

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


CSV_CHUNK_ROWS = 1000  # rows written between two pieces of a streamed CSV answer
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_MAX_ROWS = 1_048_576  # rows in one sheet (Excel's limit)
FILE_CHUNK = 64 * 1024


def csv_response(filename: str, header: list[str], rows) -> Response:
    """A CSV download streamed while the rows are produced: `rows` (any iterable, best a generator, e.g. over
    `query_rows`) is read as the answer is sent, CSV_CHUNK_ROWS rows at a time, so memory holds one piece, never
    the file. The request context stays open until the last row (`stream_with_context`): the rows may read the
    database (`query_rows`, not objects the view loaded: its session is closed by then) and translate labels.
    Validate before calling: once streaming has started the status is 200 (docs/BIG_REPORTS.md)."""

    def pieces():
        buf = io.StringIO()
        writer = csv.writer(buf)
        buf.write("\ufeff")  # so spreadsheet programs read UTF-8 Chinese names correctly
        writer.writerow(header)
        for n, row in enumerate(rows, 1):
            writer.writerow([_csv_safe(v) for v in row])
            if n % CSV_CHUNK_ROWS == 0:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue()

    # the language and time zone of the rows' labels and dates, fixed now (cached for the request): they are read
    # from the user, whom the view's session loaded, and that session is closed when the rows are written
    get_locale()
    get_timezone()
    return Response(
        stream_with_context(pieces()),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )


def query_rows(stmt, chunk: int = 1000, *, scalars: bool = False):
    """The rows of a statement (with `scalars`, its first column: ORM objects) read from the database `chunk` at a
    time (yield_per: a server-side cursor on PostgreSQL), for exports. A generator: the statement runs when the first
    row is asked for. A streamed CSV answer asks after the view has returned, in a session of its own (the view's is
    committed and closed by then, the objects it loaded detached): build the rows from what this yields, never from
    objects loaded in the view."""
    result = db.session.execute(stmt.execution_options(yield_per=chunk))
    yield from (result.scalars() if scalars else result)


EXPORT_CHUNK_ROWS = 1000  # rows read from the database at a time by `query_chunks`


def query_chunks(stmt, chunk: int | None = None):
    """The rows of a statement as lists of at most `chunk` (EXPORT_CHUNK_ROWS) rows, read the same way as
    `query_rows` (yield_per), for an export that reads something more per chunk: one statement for a chunk's rows,
    never one per row."""
    size = chunk or EXPORT_CHUNK_ROWS
    yield from db.session.execute(stmt.execution_options(yield_per=size)).partitions(size)


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
    return number_text(value, 2)  # Babel's #,##0.00 in both languages, without Babel's cost (portal/platform/i18n.py)


def draft_form() -> dict:
    """What every "add to order" form of a page shares (templates/catalog/_macros.html `add_to_draft`): the draft's
    URL, the CSRF token, the page to come back to and the button's label — built once per page, not per row."""
    from flask import url_for
    from flask_babel import pgettext
    from flask_wtf.csrf import generate_csrf

    return {
        "action": url_for("orders.draft_add"),
        "token": generate_csrf(),
        "next": request.full_path if request.query_string else request.path,
        "add": pgettext("catalogue row", "Add to order"),
    }


def register(app) -> None:
    app.jinja_env.globals.update(
        can=can,
        draft_form=draft_form,
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
    app.jinja_env.filters["keep_whole"] = keep_whole  # free text's codes and amounts never broken on a phone
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
    """An .xlsx download written in constant memory: openpyxl's write-only workbook (each row goes to a temporary
    file as it is appended), saved to a temporary file on disk, sent from it in pieces. The file is unlinked as
    soon as it is open (nothing is left behind, whatever happens to the answer); its space is freed when the
    answer closes it. Decimal amounts are written as exact numbers (openpyxl keeps Decimal), dates as dates."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    try:
        ws.append(header)
        count = 1
        for row in rows:
            if count == XLSX_MAX_ROWS:  # a sheet is full: the rows go on in the next one, under the header again
                ws = wb.create_sheet(f"{sheet} {len(wb.worksheets) + 1}")
                ws.append(header)
                count = 1
            ws.append([_csv_safe(v) if isinstance(v, str) else v for v in row])
            count += 1
    except BaseException:
        for started in wb.worksheets:
            _discard_sheet(started)
        raise
    fd, path = tempfile.mkstemp(prefix="portal-export-", suffix=".xlsx")
    try:
        with os.fdopen(fd, "wb") as out:
            wb.save(out)
        fh = open(path, "rb")  # noqa: SIM115 (closed by the answer)
    finally:
        os.unlink(path)
    size = os.fstat(fh.fileno()).st_size
    response = Response(
        _file_pieces(fh),
        mimetype=XLSX_MIMETYPE,
        headers={"Content-Disposition": f"attachment; filename={filename}", "Content-Length": str(size)},
    )
    response.call_on_close(fh.close)  # also when the answer is never read (a HEAD, a dropped connection)
    return response


def _file_pieces(fh):
    try:
        while piece := fh.read(FILE_CHUNK):
            yield piece
    finally:
        fh.close()


def _discard_sheet(ws) -> None:
    """Remove the temporary file a write-only sheet has started when its rows failed (openpyxl removes it itself
    only on save, or at exit)."""
    writer = getattr(ws, "_writer", None)
    if writer is not None:
        try:
            writer.close()
            writer.cleanup()
        except (OSError, ValueError):
            pass


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
