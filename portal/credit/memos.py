"""What the portal itself writes on a ledger entry, kept as data and said in the reader's language.

An entry the portal posts for its own reasons (a rebate's credit note) carries `memo = {"code": ..., **parameters}`
besides its `reason` (a language-neutral text for the API, exports and statements). Pages show `memo_text(...)`:
the memo rendered in the current locale, or the stored reason for entries without a memo (every entry posted
before memos, and whatever people type).
"""

from __future__ import annotations

from flask_babel import gettext as _

from portal.platform.i18n import is_english

REBATE = "rebate"
RETURN = "return"  # a return's credit note (§13): {"code", "number", "shipment"}
DISCREPANCY = "discrepancy"  # a delivery discrepancy's credit note (§13): {"code", "number", "shipment"}


def rebate_memo(code: str, name: str, name_en: str | None) -> dict:
    """The memo of a rebate settlement's credit note: the programme's code and names."""
    return {"code": REBATE, "programme": code, "name": name, "name_en": name_en}


def memo_text(memo: dict | None, reason: str | None = None) -> str | None:
    """The memo in the current language; without one (or with one this version does not know), the reason."""
    if not memo:
        return reason
    if memo.get("code") == REBATE:
        english = is_english()
        name = (memo.get("name_en") if english else None) or memo.get("name") or ""
        return _("Rebate %(programme)s %(name)s", programme=memo.get("programme", ""), name=name).strip()
    if memo.get("code") == RETURN:
        return _("Return %(number)s of %(shipment)s", number=memo.get("number", ""), shipment=memo.get("shipment", ""))
    if memo.get("code") == DISCREPANCY:
        return _("Delivery discrepancy %(number)s of %(shipment)s", number=memo.get("number", ""),
                 shipment=memo.get("shipment", ""))  # fmt: skip
    return reason


def entry_memo(entry) -> str | None:
    """`memo_text` of a ledger entry or of a ledger row as a dict (reports.ledger)."""
    if isinstance(entry, dict):
        return memo_text(entry.get("memo"), entry.get("reason"))
    return memo_text(getattr(entry, "memo", None), getattr(entry, "reason", None))
