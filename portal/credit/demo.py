"""Twelve months of receivables for the demo channel: invoices, payments (prompt, late, partial, on account),
credit notes, credit limits and temporary increases, then today's overdue scan (holds and reminders).

Everything is posted through the services in date order, exactly as finance and the ERP would post it."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from portal.credit import services
from portal.credit.overdue import overdue_scan

LIMITS = {"A": Decimal("3000000"), "B": Decimal("1200000"), "C": Decimal("500000")}
INVOICE_RANGE = {"A": (150_000, 600_000), "B": (60_000, 250_000), "C": (20_000, 90_000)}  # yuan
PROFILES = ["prompt"] * 6 + ["late"] * 2 + ["partial", "prepay"]


def _cents(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low * 100, high * 100)) / 100


def load_receivables(dealers, finance_user, erp_actor, rng: random.Random, today: dt.date, echo=print) -> dict:
    start = (today.replace(day=1) - dt.timedelta(days=365)).replace(day=1)
    events: list[tuple] = []  # (date, order, kind, dealer, payload)
    for i, dealer in enumerate(dealers):
        profile = PROFILES[i % len(PROFILES)] if i not in (7, 29) else "late"
        low, high = INVOICE_RANGE[dealer.tier]
        month = start
        n = 0
        while month <= today:
            for _ in range(rng.randint(1, 3)):
                issued = month + dt.timedelta(days=rng.randint(0, 27))
                if issued > today:
                    continue
                n += 1
                amount = _cents(rng, low, high)
                number = f"FP{issued:%y%m}{dealer.id:03d}{n:03d}"
                due = issued + dt.timedelta(days=dealer.payment_terms_days)
                events.append((issued, 0, "invoice", dealer, {"number": number, "amount": amount, "due": due}))
                if rng.random() < 0.05:
                    events.append(
                        (
                            min(issued + dt.timedelta(days=rng.randint(3, 20)), today),
                            1,
                            "credit_note",
                            dealer,
                            {
                                "amount": (amount * Decimal(rng.choice(["0.01", "0.02", "0.03"]))).quantize(
                                    Decimal("0.01")
                                ),
                                "invoice": number,
                            },
                        )
                    )
                pay_on, share = _payment_plan(profile, due, rng)
                if profile != "prepay" and pay_on <= today:
                    events.append(
                        (pay_on, 2, "payment", dealer, {"amount": (amount * share).quantize(Decimal("0.01"))})
                    )
            if profile == "prepay":
                events.append(
                    (
                        min(month + dt.timedelta(days=2), today),
                        2,
                        "payment",
                        dealer,
                        {"amount": _cents(rng, (low + high) // 1, (low + high) * 2)},
                    )
                )
            month = (month + dt.timedelta(days=32)).replace(day=1)
    events.sort(key=lambda e: (e[0], e[1], e[3].id))
    counts = {"invoice": 0, "payment": 0, "credit_note": 0}
    seq = 0
    for day, _order, kind, dealer, p in events:
        if kind == "invoice":
            services.post_invoice(
                erp_actor, dealer, number=p["number"], issued_on=day, due_on=p["due"], amount=p["amount"], source="erp"
            )
        elif kind == "payment":
            seq += 1
            services.post_payment(
                finance_user,
                dealer,
                amount=p["amount"],
                received_on=day,
                reference=f"BK{day:%Y%m%d}{seq:05d}",
                source="import",
            )
        else:
            services.post_credit_note(
                finance_user,
                dealer,
                amount=p["amount"],
                issued_on=day,
                reason=rng.choice(["价格补差", "返利", "质量折让"]),
                invoice_number=p["invoice"],
            )
        counts[kind] += 1
    for dealer in dealers:
        services.set_credit_limit(finance_user, dealer, LIMITS[dealer.tier], "年度授信")
    for dealer in dealers[::9]:
        services.add_credit_increase(
            finance_user,
            dealer,
            amount=LIMITS[dealer.tier] / 2,
            valid_from=today.replace(day=1),
            valid_until=today + dt.timedelta(days=40),
            reason="年末旺季备货",
        )
    services.set_hold(finance_user, dealers[12], "对账差异待核实")
    summary = overdue_scan(today)
    echo(
        f"Receivables: {counts['invoice']} invoices, {counts['payment']} payments, {counts['credit_note']} credit "
        f"notes over 12 months; overdue scan: {summary['holds_set']} holds, {summary['reminders_sent']} reminders."
    )
    return counts


def _payment_plan(profile: str, due: dt.date, rng: random.Random) -> tuple[dt.date, Decimal]:
    if profile == "late":
        return due + dt.timedelta(days=rng.randint(20, 130)), Decimal(1)
    if profile == "partial":
        return due + dt.timedelta(days=rng.randint(-5, 15)), Decimal(rng.choice(["0.5", "0.7", "0.8", "0.9"]))
    return due + dt.timedelta(days=rng.randint(-10, 6)), Decimal(1)
