"""Demo rebates (PRODUCT.md §11): three quarterly programmes written through the rebate services, each set up by the
channel manager a week before its quarter, its thresholds from the dealers' expected figures (quantiles of the
forecast, rounded), so the dealers end at different tiers: some at none, some at the first, a few at the top.

- last quarter's sell-in programme (every dealer, percent of the quarter's shipments): settled — computed, one
  settlement adjusted with a reason, all approved by finance three weeks after the quarter, so the credit notes are
  on the dealers' ledgers (and in the statements of that month);
- this quarter's sell-through programme (every dealer, percent of reported sales, capped), active;
- this quarter's sell-in programme in units of vehicles (华东, an amount per vehicle), active.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from portal.extensions import db
from portal.platform.tenancy import Scope
from portal.rebates import services

HQ = Scope("hq")
QUANTILES = (0.3, 0.6, 0.85)  # about 30 % of the dealers below the first tier, 15 % at the top


def quarter(day: dt.date) -> tuple[dt.date, dt.date]:
    start = dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    nxt = dt.date(start.year + (start.month == 10), (start.month + 2) % 12 + 1, 1)
    return start, nxt - dt.timedelta(days=1)


def label(start: dt.date) -> str:
    return f"{start.year}Q{(start.month - 1) // 3 + 1}"


def _round(value: Decimal) -> Decimal:
    """Two significant digits: 1,234,567 -> 1,200,000; 37 -> 37."""
    if value <= 0:
        return Decimal(0)
    digits = len(str(int(value)))
    step = Decimal(10) ** max(0, digits - 2)
    return (value / step).to_integral_value() * step


def thresholds(bases: list[Decimal]) -> list[Decimal]:
    values = sorted(b for b in bases if b > 0)
    if not values:
        return [Decimal(1), Decimal(2), Decimal(3)]
    out: list[Decimal] = []
    for q in QUANTILES:
        t = _round(values[min(len(values) - 1, int(len(values) * q))])
        t = max(t, (out[-1] + 1) if out else Decimal(1))
        out.append(t)
    return out


def programme(actor, data: dict, rates: list[str], bases: list[Decimal]):
    """An active programme whose tiers come from the expected figures of the dealers it covers."""
    tiers = [{"threshold": t, "rate": Decimal(r)} for t, r in zip(thresholds(bases), rates, strict=True)]
    created = services.save_programme(actor, {**data, "tiers": tiers})
    return services.activate(actor, created)


def last_quarter(actor, start: dt.date, end: dt.date, bases: list[Decimal]):
    code = label(start)
    return programme(actor, {
        "code": f"RB-{code}-SI", "name": f"{code} 季度提货返利", "name_en": f"{code} sell-in rebate",
        "description": "按季度提货金额计算，达到阶梯后按整个季度的金额返利。 "
                       "Once a tier is reached, its rate applies to the whole quarter's shipments.",
        "period_start": start, "period_end": end, "scope": "all", "basis": "sell_in_amount",
        "tier_kind": "percent", "cap": None, "targets": {"skus": [], "categories": []},
    }, ["1", "2", "3"], bases)  # fmt: skip


def this_quarter_sell_through(actor, start: dt.date, end: dt.date, bases: list[Decimal]):
    code = label(start)
    return programme(actor, {
        "code": f"RB-{code}-ST", "name": f"{code} 终端销售冲刺返利", "name_en": f"{code} sell-through sprint",
        "description": "本季度上报的终端销售金额，达到阶梯后按全部销售额返利，每家经销商封顶 80,000 元。 "
                       "Reported sales this quarter; capped at 80,000 CNY per dealer.",
        "period_start": start, "period_end": end, "scope": "all", "basis": "sell_through_amount",
        "tier_kind": "percent", "cap": Decimal("80000.00"), "targets": {"skus": [], "categories": []},
    }, ["1.5", "2.5", "3.5"], bases)  # fmt: skip


def this_quarter_east_vehicles(actor, start: dt.date, end: dt.date, categories: list[str], bases: list[Decimal]):
    code = label(start)
    return programme(actor, {
        "code": f"RB-{code}-EV", "name": f"{code} 华东整车提货奖励", "name_en": f"{code} East vehicle sell-in bonus",
        "description": "华东大区本季度整车提货台数，每台按所达阶梯奖励。 "
                       "Vehicles shipped to East China dealers this quarter: a bonus per vehicle at the tier reached.",
        "period_start": start, "period_end": end, "scope": "region:EAST", "basis": "sell_in_units",
        "tier_kind": "per_unit", "cap": None, "targets": {"skus": [], "categories": categories},
    }, ["300", "500", "800"], bases)  # fmt: skip


def settle(finance, settled) -> dict:
    """Compute the quarter's settlements, adjust one with a reason, approve them all (credit notes dated today)."""
    counts = services.compute_settlement(finance, settled)
    rows = db.session.execute(services.settlements_query(HQ, settled)).unique().scalars().all()
    if rows:
        reason = "扣减：一台样车退回，按退回金额扣减返利。 One demo car returned: rebate reduced."
        services.adjust(finance, rows[0], Decimal("-500.00"), reason)
    result = services.approve_all(finance, settled)
    return {"computed": counts["computed"], "credit_notes": result["credit_notes"], "total": result["total"]}


def vehicle_categories() -> list[str]:
    from portal.catalog.models import Product

    return list(
        db.session.execute(
            select(Product.category).where(Product.build_to_order.is_(True)).distinct().order_by(Product.category)
        ).scalars()
    )
