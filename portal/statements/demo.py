"""Demo statements: the monthly runs of the last three closed months, issued on the 1st through the same services as
the jobs (with their PDFs), then reconciled as dealers and finance would: most dealers confirm, some dispute lines;
finance settles the older disputes with a credit note (a new version) or rejects them with a reason, and the latest
month still has open disputes in the queue."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from decimal import Decimal

from sqlalchemy import insert, select

from portal.background.models import JobRecord
from portal.dealers.models import Dealer, User
from portal.extensions import db
from portal.platform.money import money
from portal.platform.timeutil import freeze, portal_tz, today
from portal.statements import runs, services
from portal.statements.models import StatementLine, StatementRunItem

DISPUTES = [
    "发票金额与合同价不符，请核对。 The invoice does not match the contract price.",
    "本月回款未在对账单中体现。 Our payment this month is missing.",
    "此发票重复开具。 This invoice appears twice.",
    "返利抵扣未计入。 The agreed rebate deduction is not applied.",
]

CREDITED = "价格差异已核实，开具贷项通知单。 Price difference confirmed; credit note issued."
REJECTED = "经核对银行流水，账目无误。 Checked against the bank statement: the entry is correct."


def _at(day: dt.date, hour: int = 9) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=portal_tz())


def _next_month(period: str) -> dt.date:
    year, month = int(period[:4]), int(period[5:])
    return dt.date(year + (month == 12), month % 12 + 1, 1)


def _periods(count: int) -> list[str]:
    first = today().replace(day=1)
    out = []
    for _ in range(count):
        first = (first - dt.timedelta(days=1)).replace(day=1)
        out.append(first.strftime("%Y-%m"))
    return sorted(out)


def _run(period: str, finance: User, dealers: list[Dealer]) -> dict[int, object]:
    """One monthly run, as the job does it, on the 1st of the next month."""
    issued = {}
    with freeze(_at(_next_month(period), 8)):
        record = JobRecord(id=str(uuid.uuid4()), kind=runs.KIND, status="running", params={"period": period},
                           started_by_id=finance.id)  # fmt: skip
        db.session.add(record)
        db.session.flush()
        db.session.execute(
            insert(StatementRunItem),
            [{"run_id": record.id, "dealer_id": d.id, "status": "queued", "attempts": 0} for d in dealers],
        )
        for dealer in dealers:
            statement, outcome = services.issue(f"run {record.id[:8]}", dealer, period, run_id=record.id)
            if statement is not None and outcome == "issued":
                services.store_pdf(statement)
            item = runs.lock_item(record.id, dealer.id)
            item.status, item.outcome, item.attempts = "done", outcome, 1
            item.statement_id = statement.id if statement is not None else None
            if statement is not None:
                issued[dealer.id] = statement
        runs.settle(record.id)
    return issued


def _admin(dealer: Dealer) -> User:
    return (
        db.session.execute(
            select(User).where(User.dealer_id == dealer.id, User.role == "dealer_admin").order_by(User.id)
        )
        .unique()
        .scalars()
        .first()
    )


def _dispute(rng, statement, admin, day: dt.date):
    lines = list(
        db.session.execute(select(StatementLine).where(StatementLine.statement_id == statement.id)).scalars()
    )
    if not lines:
        return None
    invoices = [ln for ln in lines if ln.type == "invoice"] or lines
    chosen = rng.sample(invoices, k=min(len(invoices), rng.choice([1, 1, 2])))
    with freeze(_at(day, 10)):
        return services.dispute(admin, statement, [ln.id for ln in chosen], rng.choice(DISPUTES))


def load_statements(rng: random.Random, finance: User, echo=print) -> dict:
    dealers = list(db.session.execute(select(Dealer).order_by(Dealer.id)).unique().scalars())  # [0]: SH-001
    periods = _periods(3)
    counts = {"statements": 0, "confirmed": 0, "disputes": 0, "resolved": 0}
    for age, period in enumerate(reversed(periods)):  # age 0: last month
        issued = _run(period, finance, dealers)
        counts["statements"] += len(issued)
        start = _next_month(period)
        # the dealers with a dispute this month: the first demo dealer in the latest month, a few others
        disputed = {d.id for d in rng.sample(dealers, k=3) if d.id in issued}
        if age == 0 and dealers[0].id in issued:
            disputed.add(dealers[0].id)
        confirm_share = {0: 0.25, 1: 0.6, 2: 0.85}[age]
        for dealer in dealers:
            statement = issued.get(dealer.id)
            if statement is None:
                continue
            admin = _admin(dealer)
            if dealer.id in disputed:
                item = _dispute(rng, statement, admin, start + dt.timedelta(days=rng.randint(1, 4)))
                if item is None:
                    continue
                counts["disputes"] += 1
                if age == 0 and dealer.id == dealers[0].id:
                    continue  # open: waits in finance's queue
                settle_day = start + dt.timedelta(days=rng.randint(5, 9))
                if settle_day >= today():
                    continue
                with freeze(_at(settle_day, 15)):
                    if rng.random() < 0.65:
                        amount = money(min(Decimal("5000.00"), item.lines[0].debit or Decimal("800.00")) / 4)
                        services.resolve(finance, item, action="credit_note", amount=amount, reason=CREDITED)
                    else:
                        services.resolve(finance, item, action="reject", reason=REJECTED)
                counts["resolved"] += 1
                current = services.current_version(dealer.id, period)
                confirm_day = settle_day + dt.timedelta(days=2)
                if age > 0 and confirm_day < today() and current.status in ("issued", "resolved"):
                    with freeze(_at(confirm_day, 11)):
                        services.confirm(admin, current, "已核对无误。 Checked, agreed.")
                    counts["confirmed"] += 1
            elif rng.random() < confirm_share:
                day = start + dt.timedelta(days=rng.randint(1, 8))
                if day < today():
                    with freeze(_at(day, 11)):
                        services.confirm(admin, statement, None)
                    counts["confirmed"] += 1
    echo(
        f"Statements: {counts['statements']} issued over {', '.join(periods)} (PDFs stored), {counts['confirmed']} "
        f"confirmed, {counts['disputes']} disputes ({counts['resolved']} settled)."
    )
    return counts
