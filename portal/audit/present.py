"""The audit page's words: object types and snapshot fields in the reader's language, before/after as a list of
changes ("Credit limit (CNY): 100,000.00 → 150,000.00") instead of raw dicts. The stored entries are unchanged
(the CSV export keeps them as JSON)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask_babel import format_decimal, lazy_pgettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

OBJECT_TYPE_LABELS = {
    "region": _l("Region"),
    "dealer": _l("Dealer"),
    "user": _l("User"),
    "invoice": _l("Invoice"),
    "payment": _l("Payment"),
    "credit_note": _l("Credit note"),
    "product": _l("Product"),
    "category": _l("Category"),
    "price_list": _l("Price list"),
    "order": lazy_pgettext("object", "Order"),
    "warehouse": _l("Warehouse"),
    "hq_stock": _l("HQ stock"),
    "shipment": _l("Shipment"),
    "statement": _l("Statement"),
    "rebate_programme": lazy_pgettext("object", "Rebate programme"),
    "rebate_settlement": _l("Rebate settlement"),
    "email": _l("E-mail"),
    "target": _l("Target"),
}

# the fields of the audit snapshots (portal/*/services.py `record(...)`); a field without a label shows its name
FIELD_LABELS = {
    "active": _l("Active"),
    "address": _l("Address"),
    "adjustment": _l("Adjustment (CNY)"),
    "adjustment_reason": _l("Reason"),
    "allocated": _l("Allocated"),
    "amount": _l("Amount (CNY)"),
    "approval_limit": _l("Approval limit (CNY)"),
    "attempts": _l("Attempts"),
    "basis": _l("Basis"),
    "build_to_order": _l("Built to order (each unit tracked)"),
    "by": _l("By"),
    "cap": _l("Cap per dealer (CNY)"),
    "carried_in": _l("Carried in (CNY)"),
    "category": _l("Category"),
    "channel_type": _l("Channel type"),
    "city": _l("City"),
    "closing": _l("Closing balance (CNY)"),
    "code": _l("Code"),
    "comment": _l("Comment"),
    "computed": _l("Computed"),
    "contact_email": _l("E-mail"),
    "contact_name": _l("Contact"),
    "contact_phone": _l("Phone"),
    "credit_limit": _l("Credit limit (CNY)"),
    "credit_note": _l("Credit note"),
    "dealer_code": _l("Dealer"),
    "delta": _l("Change"),
    "description": _l("Description"),
    "display_name": _l("Full name"),
    "due_on": _l("Due on"),
    "email": _l("E-mail"),
    "from": _l("From"),
    "gross": _l("Gross (CNY)"),
    "invoice": _l("Invoice"),
    "invoice_number": _l("Invoice number"),
    "issued_on": _l("Issued on"),
    "lead_time_days": _l("Lead time (days)"),
    "line_ids": _l("Lines"),
    "lines": _l("Lines"),
    "list_price": _l("List price (CNY, net of tax)"),
    "locale": _l("Language"),
    "min_resale_price": _l("Minimum resale price (CNY)"),
    "moved_on": _l("Date"),
    "name": _l("Name"),
    "name_en": _l("Name (English)"),
    "on_hand": _l("On hand"),
    "on_hold": _l("On credit hold"),
    "order": _l("Order number"),
    "parent_code": _l("Parent region"),
    "password": _l("Password"),
    "payment_terms_days": _l("Payment terms (days)"),
    "period_end": _l("Period until"),
    "period_start": _l("Period from"),
    "priority": _l("Priority"),
    "quantity": _l("Quantity"),
    "reason": _l("Reason"),
    "region_code": _l("Region"),
    "role": _l("Role"),
    "rules": _l("Rules"),
    "scope": _l("Applies to"),
    "serial": _l("VIN"),
    "sku": _l("SKU"),
    "source": _l("Source"),
    "status": _l("Status"),
    "target": _l("Target"),
    "tax_rate": _l("Tax rate"),
    "tier": _l("Tier"),
    "to": _l("To"),
    "unit": _l("Unit"),
    "username": _l("Username"),
    "valid_from": _l("Valid from"),
    "valid_to": _l("Valid until"),
}

# amounts kept as "1234.50" in the snapshots: shown as on every page (1,234.50)
MONEY_FIELDS = {"adjustment", "amount", "approval_limit", "cap", "carried_in", "closing", "computed", "credit_limit",
                "gross", "list_price", "min_resale_price"}  # fmt: skip

NOTHING = "—"


def object_type_label(object_type: str) -> str:
    label = OBJECT_TYPE_LABELS.get(object_type)
    return str(label) if label is not None else object_type


def field_label(name: str) -> str:
    label = FIELD_LABELS.get(name)
    return str(label) if label is not None else name


def show(value, money: bool = False) -> str:
    """A snapshot value as a reader sees it: none as a dash, yes/no, lists joined, mappings as "key: value",
    amounts grouped (money=True)."""
    if money and isinstance(value, (str, Decimal)):  # amounts are stored as text; counts (ints) stay as they are
        try:
            return format_decimal(Decimal(str(value)), format="#,##0.00")
        except InvalidOperation:
            pass
    if value is None or value == "":
        return NOTHING
    if value is True:
        return _("Yes")
    if value is False:
        return _("No")
    if isinstance(value, (list, tuple)):
        return ", ".join(show(v) for v in value) if value else NOTHING
    if isinstance(value, dict):
        return ", ".join(f"{k}: {show(v)}" for k, v in value.items()) if value else NOTHING
    return str(value)


def changes(entry) -> list[dict]:
    """The entry's fields in snapshot order: {"field", "label", "before", "after", "changed"}; `before` is None for
    a field that only has an after (a creation), `after` None for one only before."""
    before, after = entry.before or {}, entry.after or {}
    names = list(after) + [k for k in before if k not in after]
    out = []
    for name in names:
        out.append(
            {
                "field": name,
                "label": field_label(name),
                "before": show(before[name], name in MONEY_FIELDS) if name in before else None,
                "after": show(after[name], name in MONEY_FIELDS) if name in after else None,
                "changed": name in before and name in after,
            }
        )
    return out
