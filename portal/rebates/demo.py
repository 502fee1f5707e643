"""Demo rebates (PRODUCT.md §11): three quarterly programmes written through the rebate services.

- last quarter's programme (every dealer, percent of the quarter's sell-in, or of its sell-through when nothing was
  shipped then — the demo's shipments start this quarter): settled — computed, one settlement adjusted with a
  reason, all approved by finance a few weeks after the quarter, so the credit notes are on the dealers' ledgers
  (and in the statements of that month);
- this quarter's sell-through programme (every dealer, percent of reported sales), active;
- this quarter's sell-in programme in units of vehicles (华东, an amount per vehicle), active.

Each programme's thresholds come from the demo's own figures (quantiles of the dealers' basis, rounded), so the
dealers stand at different tiers: some at none, some at the first, a few at the top.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from portal.catalog.models import Product
from portal.dealers.models import User
from portal.extensions import db
from portal.platform.tenancy import Scope
from portal.platform.timeutil import freeze, portal_tz, today
from portal.rebates import services
from portal.shipping.models import Shipment

HQ = Scope("hq")
QUANTILES = (0.3, 0.6, 0.85)  # about 30 % of the dealers below the first tier, 15 % at the top
PLACEHOLDER = [{"threshold": Decimal("0"), "rate": Decimal("0")}]


def _quarter(day: dt.date) -> tuple[dt.date, dt.date]:
    start = dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    nxt = dt.date(start.year + (start.month == 10), (start.month + 2) % 12 + 1, 1)
    return start, nxt - dt.timedelta(days=1)


def _label(start: dt.date) -> str:
    return f"{start.year}Q{(start.month - 1) // 3 + 1}"


def _round(value: Decimal) -> Decimal:
    """Two significant digits: 1,234,567 -> 1,200,000; 37 -> 37."""
    if value <= 0:
        return Decimal(0)
    digits = len(str(int(value)))
    step = Decimal(10) ** max(0, digits - 2)
    return (value / step).to_integral_value() * step


def _thresholds(bases: list[Decimal]) -> list[Decimal]:
    values = sorted(b for b in bases if b > 0)
    if not values:
        return [Decimal(1), Decimal(2), Decimal(3)]
    out: list[Decimal] = []
    for q in QUANTILES:
        t = _round(values[min(len(values) - 1, int(len(values) * q))])
        t = max(t, (out[-1] + 1) if out else Decimal(1))
        out.append(t)
    return out


def _programme(actor, data: dict, rates: list[str]):
    """A draft with a placeholder tier, its dealers' figures, then the tiers from their distribution."""
    programme = services.save_programme(actor, {**data, "tiers": PLACEHOLDER})
    rows = services.progress(HQ, programme, as_of=min(today(), programme.period_end))["rows"]
    thresholds = _thresholds([r["basis"] for r in rows])
    tiers = [{"threshold": t, "rate": Decimal(r)} for t, r in zip(thresholds, rates, strict=True)]
    return services.save_programme(actor, {"tiers": tiers}, programme)


def load_rebates(channel: User, finance: User, echo=print) -> dict:
    now = today()
    this_start, this_end = _quarter(now)
    last_start, last_end = _quarter(this_start - dt.timedelta(days=1))
    last, this = _label(last_start), _label(this_start)
    vehicles = db.session.execute(
        select(Product.category).where(Product.build_to_order.is_(True)).distinct().order_by(Product.category)
    ).scalars().all()

    # the demo's shipments start this quarter: last quarter is measured on sell-in when it has any, else on the
    # dealers' reported sales (twelve months of them)
    shipped = db.session.execute(
        select(Shipment.id).where(Shipment.shipped_on >= last_start, Shipment.shipped_on <= last_end).limit(1)
    ).first()
    flow, zh, en = ("sell_in", "季度提货返利", "sell-in rebate") if shipped else ("sell_through", "季度销售返利",
                                                                              "sell-through rebate")
    settled = _programme(channel, {
        "code": f"RB-{last}-{'SI' if shipped else 'ST'}", "name": f"{last} {zh}", "name_en": f"{last} {en}",
        "description": "按季度金额计算，达到阶梯后按整个季度的金额返利。 Once a tier is reached, its rate applies to "
                       "the whole quarter.",
        "period_start": last_start, "period_end": last_end, "scope": "all", "basis": f"{flow}_amount",
        "tier_kind": "percent", "cap": None, "targets": {"skus": [], "categories": []},
    }, ["1", "2", "3"])  # fmt: skip
    services.activate(channel, settled)
    approved_on = min(now, last_end + dt.timedelta(days=20))
    with freeze(dt.datetime.combine(approved_on, dt.time(10), tzinfo=portal_tz())):
        counts = services.compute_settlement(finance, settled)
        rows = db.session.execute(services.settlements_query(HQ, settled)).unique().scalars().all()
        if rows:
            reason = "扣减：一台样车退回，按退回金额扣减返利。 One demo car returned: rebate reduced."
            services.adjust(finance, rows[0], Decimal("-500.00"), reason)
        result = services.approve_all(finance, settled)

    through = _programme(channel, {
        "code": f"RB-{this}-ST", "name": f"{this} 终端销售冲刺返利", "name_en": f"{this} sell-through sprint",
        "description": "本季度上报的终端销售金额，达到阶梯后按全部销售额返利，每家经销商封顶 80,000 元。 "
                       "Reported sales this quarter; capped at 80,000 CNY per dealer.",
        "period_start": this_start, "period_end": this_end, "scope": "all", "basis": "sell_through_amount",
        "tier_kind": "percent", "cap": Decimal("80000.00"), "targets": {"skus": [], "categories": []},
    }, ["1.5", "2.5", "3.5"])  # fmt: skip
    services.activate(channel, through)

    units = None
    if vehicles:
        units = _programme(channel, {
            "code": f"RB-{this}-EV", "name": f"{this} 华东整车提货奖励",
            "name_en": f"{this} East vehicle sell-in bonus",
            "description": "华东大区本季度整车提货台数，每台按所达阶梯奖励。 "
                           "Vehicles shipped to East China dealers this quarter: a bonus per vehicle at the tier "
                           "reached.",
            "period_start": this_start, "period_end": this_end, "scope": "region:EAST", "basis": "sell_in_units",
            "tier_kind": "per_unit", "cap": None, "targets": {"skus": [], "categories": list(vehicles)},
        }, ["300", "500", "800"])  # fmt: skip
        services.activate(channel, units)
    echo(
        f"Rebates: {settled.code} settled ({counts['computed']} dealers, {result['credit_notes']} credit notes, "
        f"{result['total']} CNY), {through.code}{' and ' + units.code if units else ''} active."
    )
    return {"settled": settled.code, "active": [p.code for p in (through, units) if p is not None]}
