"""Demo statements: the monthly runs of the last three closed months, each on the 1st of the next month through the
same services as the job (the latest run with its PDFs; the older ones' are drawn when first opened), then
reconciled as dealers and finance would, in time order: most dealers confirm within days, a few dispute lines;
finance settles a dispute a week later with a credit note dated in the disputed month (a new version of it) or
rejects it with a reason. One dispute of the oldest month is settled only after the next month was stated, so that
month is re-issued too (its opening changed): every chain of months still closes. The latest month still has open
disputes in the queue."""

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
from portal.platform.timeutil import portal_tz
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
CONFIRM_SHARE = {0: 0.25, 1: 0.6, 2: 0.85}  # by age of the month: 0 is last month


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=portal_tz())


def next_month(period: str) -> dt.date:
    year, month = int(period[:4]), int(period[5:])
    return dt.date(year + (month == 12), month % 12 + 1, 1)


def periods(today: dt.date, count: int = 3) -> list[str]:
    """The last `count` closed months, oldest first."""
    first = today.replace(day=1)
    out = []
    for _ in range(count):
        first = (first - dt.timedelta(days=1)).replace(day=1)
        out.append(first.strftime("%Y-%m"))
    return sorted(out)


def run(period: str, finance: User, dealers: list[Dealer], pdfs: bool = True) -> dict[int, object]:
    """One monthly run, as the job does it (call it on the 1st of the next month): dealer id → statement issued.
    `pdfs=False` leaves the PDFs to be drawn when first opened (as after a move to a new storage volume): the demo
    stores those of the latest run only, which saves a few seconds of loading."""
    issued = {}
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
        if statement is not None and outcome == "issued" and pdfs:
            services.store_pdf(statement)
        item = runs.lock_item(record.id, dealer.id)
        item.status, item.outcome, item.attempts = "done", outcome, 1
        item.statement_id = statement.id if statement is not None else None
        if statement is not None:
            issued[dealer.id] = statement
    runs.settle(record.id)
    return issued


def admin_of(dealer_id: int) -> User:
    return (
        db.session.execute(
            select(User).where(User.dealer_id == dealer_id, User.role == "dealer_admin").order_by(User.id)
        )
        .unique()
        .scalars()
        .first()
    )


def dispute(rng: random.Random, dealer_id: int, period: str):
    """The dealer admin disputes one or two invoice lines of the month's current version (None: nothing to
    dispute)."""
    statement = services.current_version(dealer_id, period)
    if statement is None or statement.status == "confirmed":
        return None
    lines = list(
        db.session.execute(select(StatementLine).where(StatementLine.statement_id == statement.id)).scalars()
    )
    if not lines:
        return None
    invoices = [ln for ln in lines if ln.type == "invoice"] or lines
    chosen = rng.sample(invoices, k=min(len(invoices), rng.choice([1, 1, 2])))
    return services.dispute(admin_of(dealer_id), statement, [ln.id for ln in chosen], rng.choice(DISPUTES))


def settle(rng: random.Random, finance: User, item, credit_note: bool = False) -> str:
    """Finance settles an open dispute: a credit note (a quarter of the disputed invoice, at most 1,250.00) dated in
    the disputed month, or a rejection (`credit_note`: certainly a credit note)."""
    if credit_note or rng.random() < 0.65:
        amount = money(min(Decimal("5000.00"), item.lines[0].debit or Decimal("800.00")) / 4)
        services.resolve(finance, item, action="credit_note", amount=amount, reason=CREDITED)
        return "credit_note"
    services.resolve(finance, item, action="reject", reason=REJECTED)
    return "reject"


def confirm(dealer_id: int, period: str, comment: str | None) -> bool:
    """The dealer admin confirms the month's current version, if it is there to confirm."""
    statement = services.current_version(dealer_id, period)
    if statement is None or statement.status not in ("issued", "resolved"):
        return False
    services.confirm(admin_of(dealer_id), statement, comment)
    return True
