"""The demo's receivables: credit limits opened before the first month, then how each dealer pays the invoices of
its shipments — promptly, late, partly (the rest weeks later) or in advance (a monthly transfer) — a few price
corrections (credit notes), the ERP's marketing-material invoices, this month's temporary increases, a hold set by
finance, and the last days' overdue scans (automatic holds and reminders).

Everything is posted through the services, on its own day, as finance, the bank import and the ERP would post it.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from decimal import Decimal

from portal.credit import services
from portal.platform.timeutil import today as _today

PROFILES = ["prompt"] * 6 + ["late"] * 2 + ["partial", "prepay"]
LATE = (7, 29)  # the dealers that end up suspended pay late
CREDIT_NOTE_SHARE = 0.05
CREDIT_NOTE_REASONS = ["价格补差", "返利", "质量折让"]


def profile_of(index: int) -> str:
    return "late" if index in LATE else PROFILES[index % len(PROFILES)]


def credit_limit(monthly_value: Decimal, cycle_days: int) -> Decimal:
    """Room for about two orders' worth of goods and the invoices not yet due: the prompt payers stay within it,
    the late ones go to credit review."""
    value = monthly_value * (Decimal(max(cycle_days, 30)) / 30 * Decimal("2.4") + Decimal("0.6"))
    return Decimal(max(1, math.ceil(value / 100_000)) * 100_000)


def open_account(finance, dealer, limit: Decimal) -> None:
    services.set_credit_limit(finance, dealer, limit, "年度授信")


def payments(profile: str, amount: Decimal, due: dt.date, rng: random.Random) -> list[tuple[dt.date, Decimal]]:
    """When and how much the dealer pays of one invoice (prepaying dealers pay monthly instead: none)."""
    if profile == "prepay":
        return []
    if profile == "late":
        return [(due + dt.timedelta(days=rng.randint(20, 130)), amount)]
    if profile == "partial":
        first = (amount * Decimal(rng.choice(["0.5", "0.6", "0.7", "0.8"]))).quantize(Decimal("0.01"))
        rest = [(due + dt.timedelta(days=rng.randint(30, 80)), amount - first)] if rng.random() < 0.85 else []
        return [(due + dt.timedelta(days=rng.randint(-5, 15)), first), *rest]
    return [(due + dt.timedelta(days=rng.randint(-10, 6)), amount)]


def pay(finance, dealer, amount: Decimal, day: dt.date, seq: int) -> None:
    services.post_payment(finance, dealer, amount=amount, received_on=day, reference=f"BK{day:%Y%m%d}{seq:05d}",
                          source="import")  # fmt: skip


def prepayment(dealer, monthly_value: Decimal, rng: random.Random) -> Decimal:
    """A prepaying dealer's transfer at the start of a month: what it owes, and about a month of goods ahead."""
    owed = services.credit_summary(dealer)["open_receivables"]
    ahead = monthly_value * Decimal(str(round(rng.uniform(0.8, 1.2), 2)))
    amount = Decimal(math.ceil(max(Decimal(0), owed + ahead) / 1000) * 1000)
    return amount


def price_correction(finance, dealer, invoice, rng: random.Random) -> None:
    amount = (invoice.amount * Decimal(rng.choice(["0.01", "0.02", "0.03"]))).quantize(Decimal("0.01"))
    services.post_credit_note(finance, dealer, amount=amount, issued_on=_today(),
                              reason=rng.choice(CREDIT_NOTE_REASONS), invoice_number=invoice.number)  # fmt: skip


def erp_invoice(erp, dealer, rng: random.Random, seq: int) -> None:
    """The ERP's invoice for showroom material and training (not goods: no shipment)."""
    day = _today()
    amount = Decimal(rng.randint(300, 2000) * 10)
    services.post_invoice(erp, dealer, number=f"FP{day:%y%m}{dealer.id:03d}{seq:03d}", issued_on=day, amount=amount,
                          source="erp")  # fmt: skip


def temporary_increase(finance, dealer, limit: Decimal, today: dt.date) -> None:
    services.add_credit_increase(finance, dealer, amount=limit / 2, valid_from=_today(),
                                 valid_until=today + dt.timedelta(days=40), reason="年末旺季备货")  # fmt: skip


def manual_hold(finance, dealer) -> None:
    services.set_hold(finance, dealer, "对账差异待核实")
