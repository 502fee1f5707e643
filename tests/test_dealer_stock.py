"""The dealer's stock (进销存): on hand as of a date is receipts − sales ± adjustments up to that date; age since
receipt by FIFO in buckets; the VINs on hand; incoming shipments; the stock API, scoped."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.extensions import db
from portal.inventory import dealer_stock
from portal.inventory.models import DealerStockMove
from portal.inventory.sums import rebuild_channel
from portal.platform.timeutil import freeze

DAY0 = dt.date(2026, 1, 1)
NOW = dt.datetime(2026, 11, 20, 4, 0, tzinfo=dt.UTC)  # 2026-11-20 in Shanghai


@pytest.fixture
def yard(world):
    world.region("EAST")
    world.dealer("SH-1", "EAST")
    world.dealer("SH-2", "EAST")
    world.product("OIL-1", list_price="30.00")
    world.product("CAR-1", list_price="100000.00", category="vehicles", build_to_order=True)
    return world


def _ids(world, dealer="SH-1", sku="OIL-1"):
    from portal.catalog.models import Product
    from portal.dealers.models import Dealer

    return world.run(
        lambda: (
            db.session.query(Dealer.id).filter_by(code=dealer).scalar(),
            db.session.query(Product.id).filter_by(sku=sku).scalar(),
        )
    )


# ---------------------------------------------------------------- a Python model of the rule


def model_on_hand(moves, as_of):
    return sum(q for day, q in moves if day <= as_of)


def model_ages(moves, as_of):
    """Unit by unit: each piece that came in is a dated token; each piece out takes the oldest token."""
    units: list[dt.date] = []
    for day, q in sorted((m for m in moves if m[0] <= as_of), key=lambda m: (m[0], m[1] < 0)):
        if q > 0:
            units.extend([day] * q)
            units.sort()
        else:
            del units[: -q]
    out = {key: 0 for key, _lo, _hi in dealer_stock.AGE_BUCKETS}
    for day in units:
        out[dealer_stock.bucket_of((as_of - day).days)] += 1
    return out


@st.composite
def move_sequences(draw):
    """Signed movements over 300 days that never take the stock below zero at the end of any day."""
    n = draw(st.integers(min_value=1, max_value=25))
    days = sorted(draw(st.lists(st.integers(0, 300), min_size=n, max_size=n)))
    moves, held = [], 0
    for offset in days:
        q = -draw(st.integers(1, held)) if held and draw(st.booleans()) else draw(st.integers(1, 40))
        held += q
        moves.append((DAY0 + dt.timedelta(days=offset), q, draw(st.sampled_from(["receipt", "adjustment"])) if q > 0
                      else draw(st.sampled_from(["sale", "adjustment"]))))  # fmt: skip
    return moves


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=move_sequences(), probe=st.integers(0, 330))
def test_on_hand_as_of_a_date_is_the_sum_of_the_moves_up_to_it_and_ages_are_fifo(yard, moves, probe):
    dealer_id, product_id = _ids(yard)

    def store():
        db.session.query(DealerStockMove).delete()
        for day, q, kind in moves:
            db.session.add(DealerStockMove(dealer_id=dealer_id, product_id=product_id, sku="OIL-1", quantity=q,
                                           kind=kind, moved_on=day, created_by="t"))  # fmt: skip
        db.session.flush()
        rebuild_channel()  # the moves were replaced wholesale: the roll-up follows

    yard.run(store)
    as_of = DAY0 + dt.timedelta(days=probe)
    plain = [(day, q) for day, q, _k in moves]

    def read():
        held = dealer_stock.on_hand(dealer_id, as_of).get(product_id, 0)
        lots = dealer_stock.fifo_lots(dealer_stock.daily_moves(dealer_id, [product_id], as_of).get(product_id, []))
        return held, dealer_stock.age_buckets(lots, as_of)

    held, ages = yard.run(read)
    assert held == model_on_hand(plain, as_of)
    assert ages == model_ages(plain, as_of)
    assert sum(ages.values()) == held


def test_fifo_sales_consume_the_oldest_receipts_first(yard):
    as_of = dt.date(2026, 6, 30)
    yard.dealer_receipt("SH-1", "OIL-1", 10, on=dt.date(2026, 1, 1))  # 180 days old on 30 June
    yard.dealer_receipt("SH-1", "OIL-1", 10, on=dt.date(2026, 4, 15))  # 76 days
    yard.dealer_receipt("SH-1", "OIL-1", 5, on=dt.date(2026, 6, 20))  # 10 days
    with freeze(NOW):
        yard.sell("SH-1", [{"sold_on": dt.date(2026, 5, 1), "sku": "OIL-1", "quantity": 12,
                            "unit_price": Decimal("35.00")}])  # fmt: skip

        def read():
            from portal.dealers.models import Dealer

            return dealer_stock.stock_report(db.session.query(Dealer).filter_by(code="SH-1").one(), as_of)

        report = yard.run(read)
    item = report["items"][0]
    # the 12 sold took all 10 of January and 2 of April: 8 of April (61–90 days) and 5 of June (0–30) are left
    assert item["on_hand"] == 13
    assert item["age"] == {"0_30": 5, "31_60": 0, "61_90": 8, "91_180": 0, "over_180": 0}


def test_stock_as_of_an_earlier_date_ignores_later_moves(yard):
    yard.dealer_receipt("SH-1", "OIL-1", 10, on=dt.date(2026, 3, 1))
    yard.dealer_receipt("SH-1", "OIL-1", 4, on=dt.date(2026, 5, 1))
    with freeze(NOW):
        yard.sell("SH-1", [{"sold_on": dt.date(2026, 4, 1), "sku": "OIL-1", "quantity": 3,
                            "unit_price": Decimal("31.00")}])  # fmt: skip
    dealer_id, product_id = _ids(yard)
    assert yard.run(lambda: dealer_stock.on_hand(dealer_id, dt.date(2026, 2, 28))) == {}
    assert yard.run(lambda: dealer_stock.on_hand(dealer_id, dt.date(2026, 3, 31))) == {product_id: 10}
    assert yard.run(lambda: dealer_stock.on_hand(dealer_id, dt.date(2026, 4, 1))) == {product_id: 7}
    assert yard.run(lambda: dealer_stock.on_hand(dealer_id)) == {product_id: 11}


def test_the_vins_on_hand_are_those_received_and_not_sold(yard):
    for vin, on in (("VIN00000000000001", dt.date(2026, 2, 1)), ("VIN00000000000002", dt.date(2026, 3, 1)),
                    ("VIN00000000000003", dt.date(2026, 9, 1))):  # fmt: skip
        yard.dealer_receipt("SH-1", "CAR-1", 1, on=on, serial=vin)
    with freeze(NOW):
        yard.sell("SH-1", [{"sold_on": dt.date(2026, 4, 2), "sku": "CAR-1", "serial": "VIN00000000000001",
                            "quantity": 1, "unit_price": Decimal("120000.00")}])  # fmt: skip
        dealer_id, _pid = _ids(yard)
        now = yard.run(lambda: dealer_stock.vins_on_hand(dealer_id))
        march = yard.run(lambda: dealer_stock.vins_on_hand(dealer_id, dt.date(2026, 3, 15)))
    assert [v["serial"] for v in now] == ["VIN00000000000002", "VIN00000000000003"]
    assert now[0]["received_on"] == dt.date(2026, 3, 1)
    assert now[0]["age_days"] == (NOW.date() - dt.date(2026, 3, 1)).days
    assert [v["serial"] for v in march] == ["VIN00000000000001", "VIN00000000000002"]


def test_the_stock_api_answers_on_hand_incoming_ages_and_vins_for_the_dealer_in_scope(client, yard):
    yard.dealer_receipt("SH-1", "OIL-1", 6, on=dt.date(2026, 10, 1))
    yard.dealer_receipt("SH-1", "CAR-1", 1, on=dt.date(2026, 4, 1), serial="VIN00000000000009")
    own = yard.auth(yard.user("dealer_staff", dealer="SH-1"))
    other = yard.auth(yard.user("dealer_staff", dealer="SH-2"))
    region = yard.auth(yard.user("region_manager", region="EAST"))
    with freeze(NOW):
        body = client.get("/api/v1/dealers/SH-1/stock", headers=own).get_json()
        old = client.get("/api/v1/dealers/SH-1/stock?as_of=2026-05-01", headers=region).get_json()
        assert client.get("/api/v1/dealers/SH-1/stock", headers=other).status_code == 404
        assert client.get("/api/v1/dealers/NOPE/stock", headers=own).status_code == 404
    by_sku = {i["sku"]: i for i in body["items"]}
    assert by_sku["OIL-1"]["on_hand"] == 6 and by_sku["OIL-1"]["age"]["31_60"] == 6
    assert by_sku["CAR-1"]["age"]["over_180"] == 1 and body["totals"]["on_hand"] == 7
    assert body["vins"] == [{"serial": "VIN00000000000009", "sku": "CAR-1", "received_on": "2026-04-01",
                             "age_days": 233}]  # fmt: skip
    assert old["as_of"] == "2026-05-01" and [i["sku"] for i in old["items"]] == ["CAR-1"]
    assert old["items"][0]["age"]["0_30"] == 1


def test_goods_shipped_and_not_yet_received_are_incoming(client, yard):
    yard.credit_limit("SH-1", "10000000")
    if hasattr(yard, "stock"):  # HQ must hold the goods it ships
        yard.stock("OIL-1", 50)
    order = yard.order("SH-1", [("OIL-1", 20)])
    yard.shipment(order, [("OIL-1", 8)])
    own = yard.auth(yard.user("dealer_staff", dealer="SH-1"))
    body = client.get("/api/v1/dealers/SH-1/stock", headers=own).get_json()
    assert body["items"][0]["sku"] == "OIL-1" and body["items"][0]["incoming"] == 8
    assert body["items"][0]["on_hand"] == 0 and body["totals"]["incoming"] == 8


def test_adjustments_by_the_dealer_admin_never_make_stock_negative(client, yard):
    yard.dealer_receipt("SH-1", "OIL-1", 5, on=dt.date(2026, 1, 10))
    admin = yard.auth(yard.user("dealer_admin", dealer="SH-1"))
    staff = yard.auth(yard.user("dealer_staff", dealer="SH-1"))
    url = "/api/v1/dealers/SH-1/stock/adjustments"
    body = {"sku": "OIL-1", "delta": -2, "reason": "damaged in the yard"}
    assert client.post(url, json=body, headers=staff).status_code == 403
    resp = client.post(url, json=body, headers=admin)
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["quantity"] == -2 and resp.get_json()["kind"] == "adjustment"
    resp = client.post(url, json=dict(body, delta=-4), headers=admin)
    assert resp.status_code == 422 and "Only 3" in resp.get_json()["error"]["fields"]["delta"][0]
    assert client.post(url, json=dict(body, delta=7, reason="found in the count"), headers=admin).status_code == 201
    assert client.get("/api/v1/dealers/SH-1/stock", headers=admin).get_json()["totals"]["on_hand"] == 10
    other = yard.auth(yard.user("dealer_admin", dealer="SH-2"))
    assert client.post(url, json=body, headers=other).status_code == 404
