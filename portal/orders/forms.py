"""Browser forms for orders (CSRF on every form through Flask-WTF's CSRFProtect).

The order builder and the amendment page post lines as plain fields (a quantity per line, an option code per group)
and read them here; prices are never taken from the browser. Each reader answers a value and an error message, so a
view can collect every problem of a form before it writes anything.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Length, Optional

from portal.catalog.models import OPTION_GROUPS
from portal.orders.services import MAX_QUANTITY

NOTE_MAX = 1000
KEY_MAX = 100


class ActionForm(FlaskForm):
    comment = TextAreaField(_l("Comment"), validators=[Optional(), Length(max=1000)])


def quantity_error() -> str:
    return _("A whole number from 1 to %(n)s.", n=MAX_QUANTITY)


def parse_quantity(text) -> int | None:
    """A quantity typed in a form: a whole number from 1 to MAX_QUANTITY, else None."""
    raw = str(text if text is not None else "").strip()
    if not raw.isdigit():
        return None
    value = int(raw)
    return value if 1 <= value <= MAX_QUANTITY else None


def parse_date(text) -> tuple[dt.date | None, str | None]:
    """A requested delivery date from a date input: (date or None for "as soon as possible", error)."""
    raw = str(text or "").strip()
    if not raw:
        return None, None
    try:
        return dt.date.fromisoformat(raw), None
    except ValueError:
        return None, _("Date must be YYYY-MM-DD.")


def past_date_error() -> str:
    return _("A delivery date from today on.")


def parse_ship_to(text) -> int | None:
    """A ship-to address id from a select: None for the dealer's default address; anything that is not an id
    becomes 0, which no address has, so the service refuses it with its friendly message."""
    raw = str(text or "").strip()
    if not raw:
        return None
    return int(raw) if raw.isdigit() and len(raw) < 12 else 0


def parse_note(text) -> tuple[str | None, str | None]:
    note = str(text or "").strip() or None
    if note and len(note) > NOTE_MAX:
        return note, _("At most %(n)s characters.", n=NOTE_MAX)
    return note, None


def posted_options(form, prefix: str) -> tuple[dict[str, str], bool]:
    """The option codes posted as `<prefix><group>` ({group: code}, empty choices left out) and whether the form
    had any such field at all (a form without them keeps what the line had)."""
    chosen, present = {}, False
    for group in OPTION_GROUPS:
        name = f"{prefix}{group}"
        if name in form:
            present = True
            code = str(form.get(name) or "").strip().upper()[:40]
            if code:
                chosen[group] = code
    return chosen, present


def encode_options(chosen: dict | None) -> str:
    """A line's options as one hidden field: "colour=WHT;trim=LUX" ("" for none)."""
    return ";".join(f"{g}={c}" for g, c in sorted((chosen or {}).items()))


def decode_options(text) -> dict[str, str]:
    out = {}
    for part in str(text or "").split(";"):
        group, _sep, code = part.partition("=")
        group, code = group.strip(), code.strip().upper()[:40]
        if group in OPTION_GROUPS and code:
            out[group] = code
    return out


def idempotency_key(text) -> str | None:
    key = str(text or "").strip()
    return key if 0 < len(key) <= KEY_MAX else None


def local_path(target) -> str | None:
    """`target` when it is a path on this site (no scheme, no host, no backslash tricks), else None."""
    text = str(target or "").strip()
    if not text.startswith("/") or text.startswith("//") or "\\" in text or any(ord(c) < 32 for c in text):
        return None
    parts = urlsplit(text)
    if parts.scheme or parts.netloc:
        return None
    return text
