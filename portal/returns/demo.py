"""§13 in the demo channel, after its story: returns in every status and two delivery discrepancies, made through the
services by the people who would make them (so every figure follows: stock, HQ stock, ledger, roll-up, sell-in).
Deterministic: the most recent received shipments with something returnable, in a fixed order."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from portal.extensions import db
from portal.inventory.models import Warehouse
from portal.platform.tenancy import Scope
from portal.platform.timeutil import today
from portal.returns import discrepancies, services
from portal.shipping.models import Shipment

# (reason, how far it goes, restocking fee %, note)
PLAN = [
    ("quality", "requested", None, "车门异响，经销商售后检测确认为装配问题。"),
    ("overstock", "approved", Decimal("10"), "季末库存偏高，申请退回部分配件。"),
    ("wrong_item", "rejected", None, "到货型号与订单不符。"),
    ("damaged", "shipped_back", None, "外包装破损，内件受潮。"),
    ("overstock", "received", Decimal("5"), "滞销配件退回总部。"),
]


def _admin_of(people: dict, dealer_code: str):
    return people.get(f"{dealer_code.lower().replace('-', '')}.admin")


def _candidates(people: dict) -> list[tuple[Shipment, list[dict]]]:
    """Received shipments still within the return window, newest first, with what may be returned of each."""
    since = today() - dt.timedelta(days=services.return_days() - 5)
    shipments = db.session.execute(
        select(Shipment)
        .where(Shipment.status == "received", Shipment.kind == "sale", Shipment.received_on >= since)
        .order_by(Shipment.received_on.desc(), Shipment.id.desc())
    ).unique().scalars().all()
    out = []
    for shipment in shipments:
        if _admin_of(people, shipment.order.dealer.code) is None:
            continue
        rows = [r for r in services.returnable(shipment) if r["returnable"] > 0]
        if rows:
            out.append((shipment, rows))
    return out


def add_returns(people: dict, echo=print) -> None:
    channel = people["channel"]
    warehouse = db.session.execute(
        select(Warehouse).where(Warehouse.active.is_(True)).order_by(Warehouse.code)
    ).scalars().first()
    used_dealers: set[int] = set()
    made = 0
    for shipment, rows in _candidates(people):
        if made == len(PLAN):
            break
        if shipment.dealer_id in used_dealers:
            continue
        reason, until, fee, note = PLAN[made]
        row = rows[0]
        line = {"serial": row["serials"][0]} if row["serials"] else {"sku": row["sku"],
                                                                      "quantity": max(1, row["returnable"] // 3)}
        admin = _admin_of(people, shipment.order.dealer.code)
        ret = services.request_return(admin, shipment.order.dealer, shipment_number=shipment.number, lines=[line],
                                      reason=reason, note=note)  # fmt: skip
        services.add_message(admin, ret, "请尽快处理，谢谢。")
        if until == "rejected":
            services.reject(channel, ret, "经核实到货与订单一致，不予退货。")
        elif until != "requested":
            services.approve(channel, ret, fee if reason == "overstock" else None, "同意退货。")
            if until in ("shipped_back", "received"):
                services.ship_back(admin, ret)
            if until == "received" and warehouse is not None:
                sku_lines = [
                    {"sku": ln.sku, "accepted": ln.quantity, "scrapped": 0} for ln in ret.lines if not ln.serial
                ]
                services.receive(channel, ret, warehouse_code=warehouse.code, lines=sku_lines)
        used_dealers.add(shipment.dealer_id)
        made += 1
    _discrepancies(people, channel)
    db.session.flush()
    echo(f"Returns: {made} (every status); delivery discrepancies declared on the last shipments in transit.")


def _discrepancies(people: dict, channel) -> None:
    """Two shipments still on their way are received with a discrepancy: one credited, one left open."""
    from portal.shipping.services import receive

    in_transit = db.session.execute(
        select(Shipment).where(Shipment.status == "in_transit", Shipment.kind == "sale")
        .order_by(Shipment.shipped_on, Shipment.id)
    ).unique().scalars().all()  # fmt: skip
    done = 0
    for shipment in in_transit:
        if done == 2:
            break
        admin = _admin_of(people, shipment.order.dealer.code)
        if admin is None or shipment.shipped_on > today():
            continue
        line = shipment.lines[0]
        item = ({"serial": line.units[0].serial, "kind": "damaged", "note": "运输途中左后视镜损坏。"} if line.units
                else {"sku": line.sku, "quantity": 1, "kind": "short", "note": "到货少一件。"})  # fmt: skip
        receive(admin, shipment, today(), [item])
        if done == 0:
            claim = discrepancies.discrepancies_query(Scope("hq")).where(
                discrepancies.DeliveryDiscrepancy.shipment_id == shipment.id
            )
            for disc in db.session.execute(claim).unique().scalars().all():
                discrepancies.resolve_by_credit(channel, disc)
        done += 1
