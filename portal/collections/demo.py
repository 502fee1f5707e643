"""§14 in the demo channel, after its story: every dealer's payer account (so a bank statement of the demo matches),
a promise to pay and a contact note on the most overdue dealer, a pending request for a temporary increase and two
payment notices (one matched to a payment the dealer made, one waiting). Deterministic: no generator."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from portal.credit.models import LedgerEntry
from portal.extensions import db
from portal.platform.timeutil import today


def payer_account_number(dealer) -> str:
    """The demo's account number of a dealer: 16 digits made from its id (a statement generator can rebuild it)."""
    return f"6222{dealer.id:012d}"


def add_collections(dealers, people: dict) -> None:
    from portal.banking.services import register_payer_account
    from portal.collections.services import add_contact, add_promise
    from portal.credit import notices, requests
    from portal.credit.overdue import overdue_by_dealer

    finance = people["finance"]
    for dealer in dealers:
        register_payer_account(finance, dealer, payer_account_number(dealer), dealer.name)
    day = today()
    overdue = overdue_by_dealer(day)
    if overdue:  # the dealer with the most overdue: a call and a promise
        worst_id = max(overdue, key=lambda d: overdue[d][0])
        worst = next(d for d in dealers if d.id == worst_id)
        add_contact(finance, worst, "phone", "财务致电催收，对方称月底前安排付款。")
        add_promise(finance, worst, Decimal(overdue[worst_id][0]).quantize(Decimal("0.01")) / 2,
                    day + dt.timedelta(days=7), "先付一半，余款下月初。")  # fmt: skip
    first = next(d for d in dealers if d.code == "SH-001")
    admin = people["sh001.admin"]
    requests.create_request(admin, first, amount=Decimal("200000.00"), valid_until=day + dt.timedelta(days=30),
                            reason="年末备货，需临时提高信用额度。")  # fmt: skip
    paid = db.session.execute(
        select(LedgerEntry).where(LedgerEntry.dealer_id == first.id, LedgerEntry.type == "payment")
        .order_by(LedgerEntry.entry_date.desc(), LedgerEntry.id.desc()).limit(1)
    ).scalar_one_or_none()  # fmt: skip
    if paid is not None:  # the notice of a payment already posted: matched at once
        notices.send_notice(admin, first, amount=paid.amount, paid_on=paid.entry_date, reference=paid.number,
                            note="已转账，请查收。")  # fmt: skip
    notices.send_notice(admin, first, amount=Decimal("58000.00"), paid_on=day, reference=f"TRF{day:%Y%m%d}0001",
                        note="今日网银转账。")  # fmt: skip
    db.session.flush()
