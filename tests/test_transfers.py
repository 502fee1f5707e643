"""A distributor ships its sub-dealer's order out of its own stock (PRODUCT.md §16): the goods leave the distributor's
stock unit by unit, arrive as the sub-dealer's incoming stock and enter it on receipt; the invoice lands on the
sub-dealer's account with the distributor only; refusals write nothing; the channel roll-up stays exact and keeps
HQ's sell-in apart from the transfers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.credit.models import LedgerEntry
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.inventory.models import ChannelMonthly, DealerStockMove
from portal.inventory.sums import channel_drift
from portal.orders.models import Order
from portal.platform.errors import Conflict, Forbidden, Invalid
from portal.platform.timeutil import freeze
from portal.shipping.models import Shipment
from tests.transfer_helpers import (
    NOW,
    TODAY,
    held_vins,
    incoming,
    make_chain,
    on_hand,
    receive,
    sub_order,
    transfer,
)


@pytest.fixture(autouse=True)
def _clock():
    with freeze(NOW):
        yield


@pytest.fixture
def chain(world):
    return make_chain(world)


def _ledger(world, code):
    def read():
        dealer_id = world._dealer_obj(code).id
        rows = db.session.execute(select(LedgerEntry).where(LedgerEntry.dealer_id == dealer_id)).scalars()
        return sorted((e.type, e.number, e.amount) for e in rows)

    return world.run(read)


def test_a_transfer_moves_stock_and_vins_unit_by_unit(world, chain):
    car = chain["cars"][0]
    assert on_hand(world, "DIST-1") == {"CAR-1": 3, "VAN-1": 1, "OIL-1": 30}
    number = transfer(world, chain["order"], "dist1.staff", serials=[car], lines=[("OIL-1", 4)])

    assert on_hand(world, "DIST-1") == {"CAR-1": 2, "VAN-1": 1, "OIL-1": 26}
    assert car not in held_vins(world, "DIST-1") and len(held_vins(world, "DIST-1", "CAR-1")) == 2
    assert incoming(world, "SUB-1A") == {"CAR-1": 1, "OIL-1": 4} and on_hand(world, "SUB-1A") == {}
    shipment = world.get(Shipment, number=number)
    assert shipment["seller_id"] == world.get(Dealer, code="DIST-1")["id"] and shipment["status"] == "in_transit"
    moves = world.run(lambda: sorted(
        (m.kind, m.sku, m.serial, m.quantity, m.moved_on) for m in db.session.query(DealerStockMove)
        .filter_by(shipment_id=shipment["id"])))  # fmt: skip
    assert moves == [("transfer", "CAR-1", car, -1, TODAY), ("transfer", "OIL-1", None, -4, TODAY)]

    receive(world, number, "sub1a.staff")
    assert on_hand(world, "SUB-1A") == {"CAR-1": 1, "OIL-1": 4} and incoming(world, "SUB-1A") == {}
    assert held_vins(world, "SUB-1A") == [car]
    assert on_hand(world, "DIST-1") == {"CAR-1": 2, "VAN-1": 1, "OIL-1": 26}  # the receipt takes nothing more
    assert world.get(Shipment, number=number)["status"] == "received"


def test_the_invoice_goes_on_the_sub_dealers_account_with_its_distributor_only(world, chain):
    dist_before = _ledger(world, "DIST-1")
    number = transfer(world, chain["order"], "dist1.staff", serials=chain["cars"][:1], lines=[("OIL-1", 4)])
    shipment = world.get(Shipment, number=number)
    # DIST-1's prices to its sub-dealers: 1 car 120,000.00 + 13 % = 135,600.00; 4 x 40.00 = 160.00 + 20.80 tax
    assert shipment["gross"] == Decimal("135780.80")
    invoices = _ledger(world, "SUB-1A")
    assert invoices == [("invoice", f"SI-202611-{shipment['id']:06d}", Decimal("135780.80"))]
    entry = world.get(LedgerEntry, id=shipment["invoice_id"])
    assert entry["due_on"] == TODAY + dt.timedelta(days=45)  # the sub-dealer's payment terms
    assert _ledger(world, "DIST-1") == dist_before  # DIST-1's account with HQ is untouched


def test_the_order_is_shipped_then_delivered(world, chain):
    cars = chain["cars"][:2]
    first = transfer(world, chain["order"], "dist1.staff", serials=cars[:1], lines=[("OIL-1", 10)])
    assert world.get(Order, number=chain["order"])["status"] == "approved"
    second = transfer(world, chain["order"], "dist1.admin", serials=cars[1:])
    assert world.get(Order, number=chain["order"])["status"] == "shipped"
    receive(world, first, "sub1a.staff")
    assert world.get(Order, number=chain["order"])["status"] == "shipped"
    receive(world, second, "sub1a.admin")
    assert world.get(Order, number=chain["order"])["status"] == "delivered"
    # each shipment invoiced once; together the whole order to the cent
    gross = world.run(lambda: db.session.execute(select(func.sum(LedgerEntry.amount)).where(
        LedgerEntry.number.in_([f"SI-202611-{world.get(Shipment, number=n)['id']:06d}" for n in (first, second)])
    )).scalar_one())  # fmt: skip
    assert Decimal(gross) == world.get(Order, number=chain["order"])["gross"]


def test_a_vehicle_line_by_quantity_takes_the_longest_held_vins(world, chain):
    number = transfer(world, chain["order"], "dist1.staff", lines=[("CAR-1", 2)])
    moved = world.run(lambda: [m.serial for m in db.session.query(DealerStockMove).filter_by(
        shipment_id=world.get(Shipment, number=number)["id"]).order_by(DealerStockMove.id)])  # fmt: skip
    assert moved == chain["cars"][:2]


def _refused(world, chain, error, **kwargs):
    before = world.snapshot()
    with pytest.raises(error) as caught:
        transfer(world, chain["order"], kwargs.pop("username", "dist1.staff"), **kwargs)
    assert world.snapshot() == before  # nothing written
    return caught.value


def test_not_enough_stock_is_refused_naming_the_sku_and_what_is_on_hand(world, chain):
    world.sell("DIST-1", [{"sold_on": TODAY, "sku": "OIL-1", "quantity": 25, "unit_price": Decimal("45.00")}])
    exc = _refused(world, chain, Conflict, lines=[("OIL-1", 6)])
    assert exc.code == "stock_short" and exc.status == 409
    assert "OIL-1 (5 on hand)" in exc.message
    assert exc.fields == {"lines.0.quantity": ["Only 5 of OIL-1 in DIST-1's stock on 2026-11-20 and after."]}
    exc = _refused(world, chain, Conflict, lines=[("CAR-1", 2)], serials=chain["cars"][:2])
    assert exc.code == "stock_short"  # a VIN picked and the same product's line: the line finds one car left


def test_a_back_dated_transfer_may_not_make_a_later_day_negative(world, chain):
    world.sell("DIST-1", [{"sold_on": dt.date(2026, 11, 15), "sku": "OIL-1", "quantity": 28,
                           "unit_price": Decimal("45.00")}])  # fmt: skip
    exc = _refused(world, chain, Conflict, lines=[("OIL-1", 3)], shipped_on=dt.date(2026, 11, 10))
    assert exc.fields == {"lines.0.quantity": ["Only 2 of OIL-1 in DIST-1's stock on 2026-11-10 and after."]}
    transfer(world, chain["order"], "dist1.staff", lines=[("OIL-1", 2)], shipped_on=dt.date(2026, 11, 10))
    assert "OIL-1" not in on_hand(world, "DIST-1")  # all gone


def test_a_vin_no_longer_on_hand_at_the_distributor_is_refused(world, chain):
    sold = chain["cars"][0]
    world.sell("DIST-1", [{"sold_on": TODAY, "sku": "CAR-1", "serial": sold, "quantity": 1,
                           "unit_price": Decimal("150000.00")}])  # fmt: skip
    exc = _refused(world, chain, Conflict, serials=[sold])
    assert exc.code == "stock_short"
    assert exc.fields == {"serials.0": [f"{sold} is no longer in DIST-1's stock (sold, transferred or returned)."]}


def test_a_vin_the_distributor_never_held_or_of_another_product_is_refused(world, chain):
    exc = _refused(world, chain, Invalid, serials=[chain["other_car"], chain["van"], "LNOSUCHVIN0000000"])
    assert exc.fields == {
        "serials.0": [f"{chain['other_car']} was never received by DIST-1."],  # DIST-2's car
        "serials.1": [f"{chain['van']} is not a product this order asks for by VIN."],
        "serials.2": ["LNOSUCHVIN0000000 was never received by DIST-1."],
    }


def test_more_than_the_order_asks_is_refused(world, chain):
    exc = _refused(world, chain, Invalid, lines=[("OIL-1", 11)])
    assert exc.fields == {"lines": ["OIL-1: only 10 left to ship."]}


@pytest.mark.parametrize(
    ("username", "says"),
    [
        ("cm", "Order {order} is sold by DIST-1: only DIST-1 ships it, from its own stock."),  # HQ
        ("dist2.staff", "Order {order} is sold by DIST-1: only DIST-1 ships it, from its own stock."),  # another
        ("sub1a.staff", "Order {order} is sold by DIST-1: only DIST-1 ships it, from its own stock."),  # the buyer
    ],
)
def test_only_the_seller_ships_a_sub_dealers_order(world, chain, username, says):
    exc = _refused(world, chain, Forbidden, username=username, lines=[("OIL-1", 1)])
    assert exc.message == says.format(order=chain["order"])


def test_a_distributor_does_not_ship_its_own_order_with_hq(world, chain):
    with freeze(dt.datetime(2026, 11, 10, 2, 0, tzinfo=dt.UTC)):
        own = world.order("DIST-1", [("OIL-1", 1)])
    before = world.snapshot()
    with pytest.raises(Forbidden, match=f"Order {own} is sold by HQ: only HQ ships it."):
        transfer(world, own, "dist1.admin", lines=[("OIL-1", 1)])
    assert world.snapshot() == before


def test_the_same_idempotency_key_ships_once(world, chain):
    body = {"serials": chain["cars"][:1], "lines": [("OIL-1", 3)], "key": "retry-1"}
    first = transfer(world, chain["order"], "dist1.staff", **body)
    again = transfer(world, chain["order"], "dist1.staff", **body)
    assert first == again
    assert world.count(Shipment) == 3  # HQ's two shipments to the distributors, then this one … once
    assert on_hand(world, "DIST-1")["OIL-1"] == 27 and len(_ledger(world, "SUB-1A")) == 1
    with pytest.raises(Invalid) as caught:
        transfer(world, chain["order"], "dist1.staff", lines=[("OIL-1", 4)], key="retry-1")
    assert caught.value.code == "idempotency_mismatch"


def test_the_sub_dealer_sells_a_vin_it_received_by_transfer_and_the_distributor_no_longer_can(world, chain):
    car = chain["cars"][0]
    number = transfer(world, chain["order"], "dist1.staff", serials=[car])
    sale = {"sold_on": TODAY, "sku": "CAR-1", "serial": car, "quantity": 1, "unit_price": Decimal("150000.00")}
    with pytest.raises(Invalid) as caught:  # on its way: not received yet
        world.sell("SUB-1A", [sale])
    assert "lines.0.serial" in caught.value.fields
    receive(world, number, "sub1a.staff")
    world.sell("SUB-1A", [sale], username="sub1a.staff")
    assert on_hand(world, "SUB-1A") == {}
    with pytest.raises(Invalid) as caught:
        world.sell("DIST-1", [sale])
    assert list(caught.value.fields) == ["lines.0.serial"] and car in caught.value.fields["lines.0.serial"][0]


def test_a_transfer_receipt_takes_no_discrepancy_claim_and_only_the_sub_dealer_receives(world, chain):
    number = transfer(world, chain["order"], "dist1.staff", lines=[("OIL-1", 4)])
    before = world.snapshot()
    with pytest.raises(Invalid) as caught:
        receive(world, number, "sub1a.staff", discrepancies=[{"sku": "OIL-1", "quantity": 1, "kind": "damaged"}])
    assert "settled with DIST-1 directly" in caught.value.message
    with pytest.raises(Forbidden):  # the distributor sees its sub-dealer's shipment but does not receive it
        receive(world, number, "dist1.admin")
    assert world.snapshot() == before


def test_a_distributor_admin_does_not_adjust_its_sub_dealers_stock(client, world, chain):
    number = transfer(world, chain["order"], "dist1.staff", lines=[("OIL-1", 4)])
    receive(world, number, "sub1a.staff")
    body = {"sku": "OIL-1", "delta": -1, "reason": "count"}
    resp = client.post("/api/v1/dealers/SUB-1A/stock/adjustments", json=body, headers=world.auth("dist1.admin"))
    assert resp.status_code == 403 and on_hand(world, "SUB-1A") == {"OIL-1": 4}
    own = client.post("/api/v1/dealers/SUB-1A/stock/adjustments", json=body, headers=world.auth("sub1a.admin"))
    assert own.status_code == 201 and on_hand(world, "SUB-1A") == {"OIL-1": 3}


# ------------------------------------------------------------------ the channel roll-up


def _rollup(world) -> dict:
    """{dealer code: {measure: value}} over every category and month."""

    def read():
        codes = dict(db.session.query(Dealer.id, Dealer.code).all())
        out: dict = {}
        for row in db.session.query(ChannelMonthly):
            acc = out.setdefault(codes[row.dealer_id], {"sell_in_qty": 0, "sell_in_amount": Decimal(0), "moved": 0,
                                                        "sell_through_qty": 0, "transfer_in_qty": 0,
                                                        "transfer_in_amount": Decimal(0)})  # fmt: skip
            acc["transfer_in_qty"] += row.transfer_in_qty
            acc["transfer_in_amount"] += row.transfer_in_amount
            acc["sell_in_qty"] += row.sell_in_qty
            acc["sell_in_amount"] += row.sell_in_amount
            acc["moved"] += row.moved
            acc["sell_through_qty"] += row.sell_through_qty
        return out

    return world.run(read)


def test_the_channel_rollup_counts_a_transfer_as_the_sub_dealers_transfer_in_and_the_distributors_goods_out(world,
                                                                                                          chain):
    before = _rollup(world)
    hq_sell_in = sum(v["sell_in_amount"] for code, v in before.items() if code.startswith("DIST"))
    number = transfer(world, chain["order"], "dist1.staff", serials=chain["cars"][:1], lines=[("OIL-1", 4)])
    receive(world, number, "sub1a.staff")
    world.sell("SUB-1A", [{"sold_on": TODAY, "sku": "OIL-1", "quantity": 1, "unit_price": Decimal("50.00")}])
    world.sell("DIST-1", [{"sold_on": TODAY, "sku": "OIL-1", "quantity": 2, "unit_price": Decimal("45.00")}])
    after = _rollup(world)
    assert world.run(channel_drift) == []  # the incremental writers and the recomputation agree
    sub, dist = after["SUB-1A"], after["DIST-1"]
    assert (sub["transfer_in_qty"], sub["transfer_in_amount"]) == (5, Decimal("135780.80"))  # as invoiced
    assert (sub["sell_in_qty"], sub["sell_in_amount"]) == (0, Decimal("0.00"))  # the goods were sold in to DIST-1
    assert sub["moved"] == 5 and sub["sell_through_qty"] == 1  # the receipt; its own sale
    assert dist["sell_in_qty"] == before["DIST-1"]["sell_in_qty"]  # a transfer is no sell-in of the distributor …
    assert dist["moved"] == before["DIST-1"]["moved"] - 5  # … but goods out of its stock
    assert dist["sell_through_qty"] == 2  # … and never its sell-through
    # stock per dealer = Σ (moved − sell-through) = receipts − sales − transfers (± adjustments, − returns)
    for code in ("DIST-1", "SUB-1A"):
        assert after[code]["moved"] - after[code]["sell_through_qty"] == sum(on_hand(world, code).values())
    # HQ's sell-in (to the dealers that buy from HQ) is unchanged by the transfer
    assert sum(v["sell_in_amount"] for code, v in after.items() if code.startswith("DIST")) == hq_sell_in


def test_a_refused_transfer_leaves_the_rollup_alone(world, chain):
    second = sub_order(world, "SUB-1B", [("OIL-1", 40)])
    before = _rollup(world)
    with pytest.raises(Conflict):
        transfer(world, second, "dist1.staff", lines=[("OIL-1", 40)])
    assert _rollup(world) == before and world.run(channel_drift) == []
