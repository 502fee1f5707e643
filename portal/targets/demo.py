"""The demo's targets (PRODUCT.md §15): a year of them, read off what the demo's channel actually did.

The twelve months up to and including the current one (a target is a plan for a whole month: none lie in a month
that has not begun, so the demo holds nothing dated after today), all three measures:

- HQ (the channel manager) sets the five big regions' and their provinces' targets: each province's actual of the
  month (the current, unfinished month: the average of the three before it) times the region's factor, a little
  different each month. The factor says how the region does: below 1 it is ahead of its targets, above 1 behind
  (`FACTORS`). A big region's target is the sum of its provinces'. HQ also sets a couple of category targets
  (the pieces of electric cars and SUVs sold through East and South China);
- each region manager splits its provinces' targets among their children (the level-1 dealers placed there and the
  city regions below them, split in turn) in proportion to what each sold over the year: `rm.sh` for Shanghai, the
  big region's manager elsewhere. Most splits add up to the province's figure exactly; two do not on purpose
  (`SPLIT_OFF`: Zhejiang's manager kept a reserve back, Chongqing's stretched its dealers), so the split page's
  warning shows. Sub-dealers (§16) get none: they buy from their distributor, whose sell-through includes theirs.

Actuals as achievement reads them (rule 4): sell-in and sell-through from the channel roll-up (a distributor's
sell-through with its sub-dealers'), collections from the payments on the ledgers of the dealers HQ sells to. Every
row is written in one bulk insert; `updated_by` is the user who set it.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, insert, select

from portal.dealers.models import Dealer, Region
from portal.extensions import db

# how each big region does against its targets: target = actual × factor (< 1: ahead, > 1: behind)
FACTORS = {
    "EAST": Decimal("0.88"),
    "NORTH": Decimal("1.18"),
    "SOUTH": Decimal("0.93"),
    "WEST": Decimal("1.27"),
    "CENTRAL": Decimal("1.03"),
}
# provinces whose manager's split does not add up to HQ's figure (Σ of the dealers ÷ the province's target)
SPLIT_OFF = {"ZJ": Decimal("0.94"), "CQ": Decimal("1.07")}
# HQ's category targets: (big region, measure, category)
CATEGORY_TARGETS = [
    ("EAST", "sell_through_units", "ev"),
    ("EAST", "sell_through_units", "suv"),
    ("SOUTH", "sell_through_units", "ev"),
]
MEASURES = ("sell_in_amount", "sell_through_units", "collections_amount")
MONTHS = 12
SEED = 20261215


def _months(today: dt.date) -> list[dt.date]:
    """The first days of the MONTHS months ending with today's."""
    out = [today.replace(day=1)]
    while len(out) < MONTHS:
        out.append((out[-1] - dt.timedelta(days=1)).replace(day=1))
    return out[::-1]


def _round(value: Decimal, measure: str, step: int) -> Decimal:
    """Money to a round `step` of CNY, units to whole pieces (both half up; never negative)."""
    if measure == "sell_through_units":
        return max(value, Decimal(0)).quantize(Decimal(1), ROUND_HALF_UP)
    return (max(value, Decimal(0)) / step).quantize(Decimal(1), ROUND_HALF_UP) * step


def _actuals(months: list[dt.date]) -> tuple[dict, dict]:
    """Per (dealer id of the level-1 dealer, measure, month): the actual; and per (dealer, category, month) the
    sell-through units (for the category targets). Sub-dealers' sell-through counts for their distributor."""
    from portal.credit.models import LedgerEntry
    from portal.inventory.models import ChannelMonthly

    parent = dict(db.session.execute(select(Dealer.id, Dealer.parent_id).where(Dealer.parent_id.is_not(None))).all())
    first, month_set = months[0], set(months)
    actual: dict = defaultdict(Decimal)
    by_category: dict = defaultdict(Decimal)
    c = ChannelMonthly
    rows = db.session.execute(
        select(c.dealer_id, c.category, c.month, func.sum(c.sell_in_amount), func.sum(c.sell_through_qty))
        .where(c.month >= first)
        .group_by(c.dealer_id, c.category, c.month)
    ).all()
    for dealer_id, category, month, sell_in, units in rows:
        if month not in month_set:
            continue
        dealer_id = parent.get(dealer_id, dealer_id)
        actual[dealer_id, "sell_in_amount", month] += Decimal(sell_in or 0)
        actual[dealer_id, "sell_through_units", month] += Decimal(units or 0)
        by_category[dealer_id, category, month] += Decimal(units or 0)
    le = LedgerEntry
    payments = db.session.execute(
        select(le.dealer_id, le.entry_date, func.sum(le.amount))
        .where(le.type == "payment", le.entry_date >= first)
        .group_by(le.dealer_id, le.entry_date)
    ).all()
    for dealer_id, day, amount in payments:
        if dealer_id in parent:  # a sub-dealer pays its distributor, not HQ
            continue
        actual[dealer_id, "collections_amount", day.replace(day=1)] += Decimal(amount or 0)
    return actual, by_category


class _Plan:
    def __init__(self, today: dt.date, people: dict):
        self.today = today
        self.months = _months(today)
        self.complete = [m for m in self.months if m < today.replace(day=1)]
        self.rng = random.Random(SEED)  # noqa: S311 (demo data, reproducible)
        self.people = people
        self.regions = {r.code: r for r in db.session.execute(select(Region)).unique().scalars()}
        self.by_id = {r.id: r for r in self.regions.values()}
        self.dealers = (
            db.session.execute(select(Dealer).where(Dealer.parent_id.is_(None)).order_by(Dealer.code))
            .unique()
            .scalars()
            .all()
        )
        self.actual, self.by_category = _actuals(self.months)
        self.rows: list[dict] = []

    # ---------------------------------------------------------------- reading the actuals

    def dealers_under(self, region: Region) -> list[Dealer]:
        return [d for d in self.dealers if self.by_id[d.region_id].path.startswith(region.path)]

    def actual_of(self, dealers: list[Dealer], measure: str, month: dt.date, category: str = "") -> Decimal:
        if category:
            return sum((self.by_category[d.id, category, month] for d in dealers), Decimal(0))
        return sum((self.actual[d.id, measure, month] for d in dealers), Decimal(0))

    def base(self, dealers: list[Dealer], measure: str, month: dt.date, category: str = "") -> Decimal:
        """What the target is read off: the month's actual; the current month's, the average of the three before."""
        if month in self.complete:
            return self.actual_of(dealers, measure, month, category)
        last = self.complete[-3:] or self.complete
        return sum((self.actual_of(dealers, measure, m, category) for m in last), Decimal(0)) / max(len(last), 1)

    # ---------------------------------------------------------------- writing the rows

    def add(self, month, measure, amount, by: str, *, region=None, dealer=None, category: str = "") -> None:
        who = self.people[by]
        self.rows.append({
            "month": month, "region_id": region.id if region else None, "dealer_id": dealer.id if dealer else None,
            "measure": measure, "category": category, "amount": amount, "updated_by": who.username,
            "updated_at": self.set_at[by],
        })  # fmt: skip

    def hq(self) -> dict:
        """HQ's targets of the big regions and their provinces (all measures, every month) and its category ones.
        Answers each province's targets, per (measure, month)."""
        province_targets: dict = {}
        for big_code, factor in FACTORS.items():
            big = self.regions[big_code]
            provinces = sorted((r for r in self.regions.values() if r.parent_id == big.id), key=lambda r: r.code)
            for measure in MEASURES:
                step = 10_000
                for month in self.months:
                    total = Decimal(0)
                    for p in provinces:
                        noise = Decimal(str(round(self.rng.uniform(0.94, 1.06), 3)))
                        amount = _round(self.base(self.dealers_under(p), measure, month) * factor * noise, measure,
                                        step)  # fmt: skip
                        province_targets[p.code, measure, month] = amount
                        self.add(month, measure, amount, "channel", region=p)
                        total += amount
                    self.add(month, measure, total, "channel", region=big)
            for region_code, measure, category in CATEGORY_TARGETS:
                if region_code != big_code:
                    continue
                for month in self.months:
                    noise = Decimal(str(round(self.rng.uniform(0.94, 1.06), 3)))
                    amount = _round(self.base(self.dealers_under(big), measure, month, category) * factor * noise,
                                    measure, 1)  # fmt: skip
                    self.add(month, measure, amount, "channel", region=big, category=category)
        return province_targets

    def split(self, region: Region, targets: dict, by: str, off: Decimal | None = None) -> None:
        """The manager `by` splits `region`'s targets (per (measure, month)) among its children — its child regions
        (split again, recursively) and the level-1 dealers placed directly in it — in proportion to what each sold
        over the complete months. The last child takes what rounding left, so the split adds up; with `off` it is
        Σ ≈ target × off instead (a split that does not add up, on purpose)."""
        children: list = sorted((r for r in self.regions.values() if r.parent_id == region.id), key=lambda r: r.code)
        children += [d for d in self.dealers if d.region_id == region.id]
        for measure in MEASURES:
            step = 1_000
            weights = []
            for child in children:
                under = self.dealers_under(child) if isinstance(child, Region) else [child]
                weights.append(sum((self.actual_of(under, measure, m) for m in self.complete), Decimal(0)))
            whole = sum(weights, Decimal(0))
            if not whole:
                continue
            for month in self.months:
                target = targets.get((measure, month))
                if target is None:
                    continue
                goal = target * (off or 1)
                left = goal
                child_targets = {}
                for i, (child, weight) in enumerate(zip(children, weights, strict=True)):
                    if not weight:
                        continue
                    last = i == len(children) - 1 or not any(weights[i + 1 :])
                    amount = (
                        _round(left, measure, 1)
                        if last and off is None
                        else _round(goal * weight / whole, measure, step)
                    )
                    left -= amount
                    child_targets[child] = amount
                for child, amount in child_targets.items():
                    if isinstance(child, Region):
                        self.add(month, measure, amount, by, region=child)
                        sub = targets.setdefault(("__sub", child.code), {})
                        sub[measure, month] = amount
                    else:
                        self.add(month, measure, amount, by, dealer=child)
        for child in children:
            if isinstance(child, Region) and ("__sub", child.code) in targets:
                self.split(child, targets.pop(("__sub", child.code)), by)

    def managers(self, province_targets: dict) -> None:
        for big_code in FACTORS:
            big = self.regions[big_code]
            for p in sorted((r for r in self.regions.values() if r.parent_id == big.id), key=lambda r: r.code):
                by = "rm.sh" if p.code == "SH" and "rm.sh" in self.people else f"rm.{big_code.lower()}"
                if by not in self.people:
                    continue
                targets = {(m, mo): a for (code, m, mo), a in province_targets.items() if code == p.code}
                self.split(p, targets, by, SPLIT_OFF.get(p.code))


def add_targets(people: dict, echo=print) -> int:
    """Write the demo's targets (see the module); answers how many rows. `people`: the demo's users by username."""
    from portal.platform.timeutil import today, utcnow
    from portal.targets.models import Target

    plan = _Plan(today(), people)
    if not plan.dealers or not plan.complete:
        echo("Targets: no channel to read them off; none set.")
        return 0
    now = utcnow()
    start = dt.datetime.combine(plan.months[0], dt.time(2, 0), dt.UTC)  # 10:00 in China on the first month's day
    set_at = {"channel": min(start - dt.timedelta(days=10), now)}
    for username in people:
        if username.startswith("rm."):
            set_at[username] = min(start - dt.timedelta(days=5), now)
    plan.set_at = set_at
    plan.managers(plan.hq())
    db.session.execute(insert(Target), plan.rows)
    db.session.flush()
    regions = sum(1 for r in plan.rows if r["region_id"])
    echo(f"Targets: {len(plan.rows)} ({regions} of regions, {len(plan.rows) - regions} of dealers) for "
         f"{plan.months[0]:%Y-%m} to {plan.months[-1]:%Y-%m}.")  # fmt: skip
    return len(plan.rows)
