"""Security mechanisms of the web process, installed once by the app factory (`install(app)`).

- **Headers** on every answer (an `after_request` hook that runs after every other one, so it has the last word):
  a Content-Security-Policy without inline script or style, frame denial (`frame-ancestors 'none'` and
  `X-Frame-Options: DENY`), `nosniff`, `Referrer-Policy: same-origin`, a Permissions-Policy that turns off the
  browser features the portal never uses, `Cross-Origin-Opener-Policy: same-origin`; and HSTS, only on a request
  that arrived over TLS (behind the reverse proxy: `PORTAL_TRUSTED_PROXIES` ≥ 1 makes `X-Forwarded-Proto` count).
- **The reverse proxy** (`PORTAL_TRUSTED_PROXIES`, default 0): how many proxies in front of the portal set
  `X-Forwarded-For` / `X-Forwarded-Proto`. With 0 those headers are ignored (a client could forge them: the
  login throttle keys on the client address); with 1 (nginx on the same machine) they come from nginx.
- **Uploads**: the request size is capped by `MAX_CONTENT_LENGTH` (`PORTAL_MAX_UPLOAD_MB`); a larger request is
  answered 413 — JSON in the documented error shape under /api/, a page saying the limit elsewhere. Every uploaded
  file must be a CSV: a `.csv` name and text content (no NUL or other control bytes, none of the signatures of
  spreadsheets, archives, PDFs or images) — or, for a view marked `@accepts_workbooks` (the bank file and the
  sell-through imports), also an XLSX workbook (a `.xlsx` name, or any ZIP archive, which the view opens; an old
  `.xls` reaches the view, which says to save it as .xlsx). The check runs before the view for signed-in callers
  (an anonymous upload is left to the view, which refuses it as it refuses any anonymous call); the views still
  read the file and check the columns themselves.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from flask import current_app, flash, redirect, request
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from portal.extensions import db

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
HSTS = "max-age=31536000; includeSubDomains"

ALLOWED_UPLOAD_SUFFIXES = (".csv",)
# Where workbooks are accepted: an XLSX (a ZIP archive) is read; an old or password-protected workbook (.xls, OLE2)
# reaches the view too, which says to save it as .xlsx.
WORKBOOK_UPLOAD_SUFFIXES = (".csv", ".xlsx", ".xls")
WORKBOOK_SIGNATURES = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")
SNIFF_BYTES = 8192
# Signatures of files people upload by mistake instead of a CSV: xlsx/zip, xls (OLE2), PDF, images, gzip, 7z, rar.
BINARY_SIGNATURES = (
    b"PK\x03\x04",
    b"\xd0\xcf\x11\xe0",
    b"%PDF",
    b"\x89PNG",
    b"GIF8",
    b"\xff\xd8\xff",
    b"\x1f\x8b",
    b"7z\xbc\xaf",
    b"Rar!",
    b"\x7fELF",
)
# Bytes that never occur in a CSV text file: C0 controls other than tab, LF, VT, FF, CR (and NUL).
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 11, 12, 13))


def security_headers(response):
    headers = response.headers
    headers["Content-Security-Policy"] = CSP
    headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    headers["Permissions-Policy"] = PERMISSIONS_POLICY
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if request.is_secure:
        headers["Strict-Transport-Security"] = HSTS
    else:  # a plain-HTTP answer never carries HSTS (browsers ignore it there; it would only mislead)
        headers.pop("Strict-Transport-Security", None)
    return response


def accepts_workbooks(view):
    """Mark a view whose uploads may be XLSX workbooks as well as CSV files (it reads them with
    portal.platform.files)."""
    view.accepts_workbooks = True
    return view


def accepts_vouchers(view):
    """Mark a view whose upload is a payment voucher (JPEG, PNG or PDF), not a CSV: the CSV check is skipped and the
    view checks the file's content and size itself (portal.credit.notices.check_voucher)."""
    view.accepts_vouchers = True
    return view


def upload_problem(upload, *, workbooks: bool = False) -> str | None:
    """Why this uploaded file is not acceptable as a CSV (or, with `workbooks`, as a CSV or an XLSX workbook), or
    None. Reads the head and rewinds the stream."""
    name = upload.filename or ""
    suffix = PurePosixPath(name.replace("\\", "/")).suffix.lower()
    if workbooks and suffix not in WORKBOOK_UPLOAD_SUFFIXES:
        return _("Only CSV (.csv) or Excel (.xlsx) files can be uploaded.")
    if not workbooks and suffix not in ALLOWED_UPLOAD_SUFFIXES:
        return _("Only CSV files (.csv) can be uploaded.")
    stream = upload.stream
    head = stream.read(SNIFF_BYTES)
    stream.seek(0)
    if not head:
        return None  # an empty file: the view says so in its own words
    if workbooks and head.startswith(WORKBOOK_SIGNATURES):
        return None  # a workbook: the view opens it and says what is wrong with it, if anything
    if head.startswith(BINARY_SIGNATURES) or any(b in _CONTROL for b in head):
        return _('This is not a CSV text file. Save the sheet as "CSV UTF-8" and upload that file.')
    return None


def check_uploads():
    """before_request: refuse a non-CSV upload before the view reads it."""
    if not request.files or not current_user.is_authenticated:
        return None
    problems: dict[str, list[str]] = {}
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "accepts_vouchers", False):
        return None
    workbooks = getattr(view, "accepts_workbooks", False)
    for field, upload in request.files.items(multi=True):
        if not upload.filename:
            continue  # an empty file input: the form's own validators answer
        problem = upload_problem(upload, workbooks=workbooks)
        if problem:
            problems.setdefault(field, []).append(problem)
    if not problems:
        return None
    from portal.platform.api import error_response
    from portal.platform.auth import is_api_request

    db.session.rollback()
    if is_api_request():
        return error_response(422, "validation_error", _("The input is not valid; see fields."), problems)
    for messages in problems.values():
        for message in messages:
            flash(message, "danger")
    return redirect(request.full_path if request.query_string else request.path, code=303)


def max_upload_mb() -> str:
    """The request size limit in MB, as people read it ("16", "0.25")."""
    return f"{(current_app.config.get('MAX_CONTENT_LENGTH') or 0) / (1024 * 1024):.2f}".rstrip("0").rstrip(".")


def handle_too_large(err: RequestEntityTooLarge):
    """413: the documented error shape under /api/, a page with the limit elsewhere."""
    from portal.platform.api import error_response
    from portal.platform.auth import is_api_request
    from portal.platform.handlers import _page

    db.session.rollback()
    limit = max_upload_mb()
    if is_api_request():
        message = _("The request is larger than %(n)s MB; split the file and send the parts.", n=limit)
        return error_response(413, "payload_too_large", message)
    return _page(
        413,
        _("File too large"),
        _("The file is larger than the portal accepts (at most %(n)s MB). Split it into smaller files.", n=limit),
    )


def install(app) -> None:
    proxies = int(app.config.get("PORTAL_TRUSTED_PROXIES") or 0)
    if proxies > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=0, x_port=0, x_prefix=0)
    elif app.config.get("PORTAL_SECURE_COOKIES"):
        app.logger.warning(
            "PORTAL_SECURE_COOKIES is on but PORTAL_TRUSTED_PROXIES is 0: behind a TLS proxy the portal sees plain "
            "HTTP (no HSTS) and the proxy's address as every client's (login throttling by address)"
        )
    app.before_request(check_uploads)
    app.register_error_handler(RequestEntityTooLarge, handle_too_large)
    # registered first by the factory, so (after_request hooks run in reverse order) it runs last
    app.after_request(security_headers)
