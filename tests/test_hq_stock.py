"""HQ stock (PRODUCT.md §7): receipts and count corrections, allocation when a stock order is approved, release when
it is cancelled, consumption when it ships (refused whole when HQ is short), the invariants between the stock rows,
their moves and the allocations, availability bands for dealers, and the API's errors and permissions."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event, func, select

from portal.audit.models import AuditEntry
from portal.extensions import db
from portal.inventory.models import HqStock, HqStockMove, StockAllocation, Warehouse
from portal.orders.models import Order
from portal.shipping.models import Shipment


@pytest.fixture
def hq(world):
    world.region("EAST")
    world.region("NORTH")
    world.dealer("SH-1", "EAST")
    world.credit_limit("SH-1", "10000000")
    world.product("OIL-1", list_price="10.00", category="oil")
    world.product("FLT-1", list_price="20.00", category="filters")
    world.product("CAR-1", list_price="100000.00", category="vehicles", build_to_order=True)
    return {
        "cm": world.auth(world.user("channel_manager", username="cm")),
        "fin": world.auth(world.user("finance", username="fin")),
        "dealer": world.auth(world.user("dealer_staff", dealer="SH-1", username="sh1.staff")),
        "rm": world.auth(world.user("region_manager", region="EAST", username="rm.east")),
        "rm_user": "rm.east",
    }


def stock(world) -> dict[tuple[str, str], tuple[int, int]]:
    """(warehouse code, sku) → (on hand, allocated)."""
    from portal.catalog.models import Product

    def read():
        rows = db.session.execute(
            select(Warehouse.code, Product.sku, HqStock.on_hand, HqStock.allocated)
            .join(Warehouse, Warehouse.id == HqStock.warehouse_id)
            .join(Product, Product.id == HqStock.product_id)
        ).all()
        return {(w, s): (o, a) for w, s, o, a in rows}

    return world.run(read)


def allocations(world, order: str) -> dict[tuple[str, str], int]:
    """(sku, warehouse code) → quantity allocated to the order's lines."""
    from portal.orders.models import OrderLine

    def read():
        rows = db.session.execute(
            select(OrderLine.sku, Warehouse.code, StockAllocation.quantity)
            .join(OrderLine, OrderLine.id == StockAllocation.order_line_id)
            .join(Order, Order.id == OrderLine.order_id)
            .join(Warehouse, Warehouse.id == StockAllocation.warehouse_id)
            .where(Order.number == order)
        ).all()
        return {(s, w): q for s, w, q in rows if q}

    return world.run(read)


def assert_invariants(world) -> None:
    """on hand = Σ on-hand deltas; allocated = Σ allocated deltas = Σ allocations; 0 ≤ allocated ≤ on hand."""

    def read():
        rows = db.session.execute(select(HqStock)).scalars().all()
        moves = {
            (w, p): (int(o), int(a))
            for w, p, o, a in db.session.execute(
                select(
                    HqStockMove.warehouse_id,
                    HqStockMove.product_id,
                    func.sum(HqStockMove.on_hand_delta),
                    func.sum(HqStockMove.allocated_delta),
                ).group_by(HqStockMove.warehouse_id, HqStockMove.product_id)
            )
        }
        from portal.orders.models import OrderLine

        allocs = {
            (w, p): int(q)
            for w, p, q in db.session.execute(
                select(StockAllocation.warehouse_id, OrderLine.product_id, func.sum(StockAllocation.quantity))
                .join(OrderLine, OrderLine.id == StockAllocation.order_line_id)
                .group_by(StockAllocation.warehouse_id, OrderLine.product_id)
            )
        }
        for r in rows:
            key = (r.warehouse_id, r.product_id)
            assert moves.get(key, (0, 0)) == (r.on_hand, r.allocated), key
            assert allocs.get(key, 0) == r.allocated, key
            assert 0 <= r.allocated <= r.on_hand
        assert set(moves) <= {(r.warehouse_id, r.product_id) for r in rows}

    world.run(read)


def receive(client, hq, warehouse, sku, quantity, **extra):
    return client.post(
        "/api/v1/stock/receipts", json={"warehouse": warehouse, "sku": sku, "quantity": quantity, **extra},
        headers=hq["cm"],
    )  # fmt: skip


def warehouse(client, hq, code, name=None):
    resp = client.post("/api/v1/warehouses", json={"code": code, "name": name or f"仓库 {code}"}, headers=hq["cm"])
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


# ---------------------------------------------------------------- receipts and adjustments


def test_receipts_and_adjustments_change_on_hand_with_a_move_and_an_audit_entry(client, world, hq):
    assert warehouse(client, hq, "sh", "上海仓")["code"] == "SH"
    resp = receive(client, hq, "SH", "OIL-1", 40, received_on="2026-01-05", note="factory lot 7")
    assert resp.status_code == 201
    move = resp.get_json()
    assert move["kind"] == "receipt" and move["on_hand_delta"] == 40 and move["moved_on"] == "2026-01-05"
    adj = client.post(
        "/api/v1/stock/adjustments",
        json={"warehouse": "SH", "sku": "OIL-1", "quantity": -3, "reason": "count: 3 broken"},
        headers=hq["cm"],
    )
    assert adj.status_code == 201 and adj.get_json()["note"] == "count: 3 broken"
    listed = client.get("/api/v1/stock?sku=OIL-1", headers=hq["fin"]).get_json()
    assert listed["total"] == 1
    assert listed["items"][0] == {
        "sku": "OIL-1", "name": "产品 OIL-1", "category": "oil", "warehouse": "SH",
        "on_hand": 37, "allocated": 0, "available": 37,
    }  # fmt: skip
    moves = client.get("/api/v1/stock/moves?sku=OIL-1", headers=hq["fin"]).get_json()
    assert [m["kind"] for m in moves["items"]] == ["adjustment", "receipt"]
    actions = world.run(lambda: [a for (a,) in db.session.query(AuditEntry.action).order_by(AuditEntry.id)])
    assert actions[-3:] == ["warehouse.create", "stock.receive", "stock.adjust"]
    assert_invariants(world)


def test_a_correction_never_takes_on_hand_below_what_is_allocated(client, world, hq):
    world.stock("OIL-1", 10, "SH")
    world.order("SH-1", [("OIL-1", 8)])  # approved at once: 8 of the 10 allocated
    before = world.snapshot()
    resp = client.post(
        "/api/v1/stock/adjustments",
        json={"warehouse": "SH", "sku": "OIL-1", "quantity": -3, "reason": "count"},
        headers=hq["cm"],
    )
    assert resp.status_code == 422
    body = resp.get_json()["error"]
    assert body["code"] == "below_allocated" and "at most 2" in body["message"].lower()
    assert world.snapshot() == before
    ok = client.post(
        "/api/v1/stock/adjustments",
        json={"warehouse": "SH", "sku": "OIL-1", "quantity": -2, "reason": "count"},
        headers=hq["cm"],
    )
    assert ok.status_code == 201
    assert stock(world)[("SH", "OIL-1")] == (8, 8)
    assert_invariants(world)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("receipts", {"warehouse": "NOPE", "sku": "OIL-1", "quantity": 1}, "warehouse"),
        ("receipts", {"warehouse": "SH", "sku": "NOPE", "quantity": 1}, "sku"),
        ("receipts", {"warehouse": "SH", "sku": "OIL-1", "quantity": 0}, "quantity"),
        ("receipts", {"warehouse": "SH", "sku": "OIL-1", "quantity": "5"}, "quantity"),
        ("receipts", {"warehouse": "SH", "sku": "CAR-1", "quantity": 1}, "sku"),
        ("receipts", {"warehouse": "SH", "sku": "OIL-1", "quantity": 1, "received_on": "2999-01-01"}, "received_on"),
        ("receipts", {"warehouse": "SH", "sku": "OIL-1", "quantity": 1, "price": 3}, "price"),
        ("adjustments", {"warehouse": "SH", "sku": "OIL-1", "quantity": 0, "reason": "x"}, "quantity"),
        ("adjustments", {"warehouse": "SH", "sku": "OIL-1", "quantity": 1, "reason": "  "}, "reason"),
        ("adjustments", {"warehouse": "SH", "sku": "OIL-1", "quantity": 1}, "reason"),
    ],
)
def test_bad_receipts_and_adjustments_are_refused_in_the_error_shape(client, world, hq, path, body, field):
    world.stock("OIL-1", 5, "SH")
    before = world.snapshot()
    resp = client.post(f"/api/v1/stock/{path}", json=body, headers=hq["cm"])
    assert resp.status_code == 422, resp.get_json()
    error = resp.get_json()["error"]
    assert set(error) == {"code", "message", "fields"} and field in error["fields"]
    assert world.snapshot() == before


def test_a_warehouse_code_is_unique(client, world, hq):
    warehouse(client, hq, "TJ")
    resp = client.post("/api/v1/warehouses", json={"code": "tj", "name": "again"}, headers=hq["cm"])
    assert resp.status_code == 422 and "code" in resp.get_json()["error"]["fields"]
    listed = client.get("/api/v1/warehouses", headers=hq["fin"]).get_json()
    assert [w["code"] for w in listed["items"]] == ["TJ"] and listed["total"] == 1


# ---------------------------------------------------------------- approval, cancel


def test_approving_a_stock_order_allocates_from_the_warehouses_with_most_available_first(world, hq):
    world.stock("OIL-1", 5, "SH")
    world.stock("OIL-1", 8, "TJ")
    world.stock("FLT-1", 3, "SH")
    order = world.order("SH-1", [("OIL-1", 10), ("FLT-1", 2), ("CAR-1", 1)])
    assert world.get(Order, number=order)["status"] == "approved"
    assert allocations(world, order) == {("OIL-1", "TJ"): 8, ("OIL-1", "SH"): 2, ("FLT-1", "SH"): 2}
    assert stock(world) == {("SH", "OIL-1"): (5, 2), ("TJ", "OIL-1"): (8, 8), ("SH", "FLT-1"): (3, 2)}
    assert_invariants(world)


def test_what_cannot_be_allocated_stays_a_backorder_and_is_written_down(world, hq):
    world.stock("OIL-1", 6, "SH")
    order = world.order("SH-1", [("OIL-1", 10)])
    assert allocations(world, order) == {("OIL-1", "SH"): 6}
    entry = world.get(AuditEntry, action="stock.allocate", object_key=order)
    assert entry["after"] == {"allocated": {"OIL-1": 6}, "backorder": {"OIL-1": 4}}
    second = world.order("SH-1", [("OIL-1", 3)])  # nothing left: all of it a backorder
    assert allocations(world, second) == {}
    assert world.get(AuditEntry, action="stock.allocate", object_key=second)["after"]["backorder"] == {"OIL-1": 3}
    assert_invariants(world)


def test_an_order_in_credit_review_allocates_only_when_approved(world, hq):
    world.dealer("SH-2", "EAST")
    world.credit_limit("SH-2", "50.00")
    world.stock("OIL-1", 20, "SH")
    order = world.order("SH-2", [("OIL-1", 10)])  # 113.00 gross > 50.00 available
    assert world.get(Order, number=order)["status"] == "credit_review"
    assert allocations(world, order) == {}
    world.approve(order, "fin")
    assert allocations(world, order) == {("OIL-1", "SH"): 10}
    assert_invariants(world)


def test_cancelling_an_order_releases_its_allocations(client, world, hq):
    world.stock("OIL-1", 10, "SH")
    order = world.order("SH-1", [("OIL-1", 7)])
    page = client.get(f"/api/v1/orders/{order}", headers=hq["dealer"])  # reading an order releases nothing
    assert page.status_code == 200 and stock(world)[("SH", "OIL-1")] == (10, 7)
    world.cancel(order, "sh1.staff")
    assert allocations(world, order) == {}
    assert stock(world)[("SH", "OIL-1")] == (10, 0)
    kinds = world.run(lambda: [k for (k,) in db.session.query(HqStockMove.kind).order_by(HqStockMove.id)])
    assert kinds == ["receipt", "allocation", "release"]
    assert world.get(AuditEntry, action="stock.release", object_key=order)["after"] == {"released": {"OIL-1": 7}}
    assert_invariants(world)


# ---------------------------------------------------------------- shipping


def ship(client, hq, order, lines):
    return client.post(
        f"/api/v1/orders/{order}/shipments",
        json={"lines": [{"sku": s, "quantity": q} for s, q in lines]},
        headers=hq["cm"],
    )


def test_shipping_takes_the_lines_allocations_first_then_available_stock(client, world, hq):
    world.stock("OIL-1", 4, "SH")
    order = world.order("SH-1", [("OIL-1", 10)])  # 4 allocated in SH, 6 backordered
    world.stock("OIL-1", 9, "TJ")  # arrives later: 6 of it allocated to the backorder (§12), 3 available
    assert stock(world) == {("SH", "OIL-1"): (4, 4), ("TJ", "OIL-1"): (9, 6)}
    assert ship(client, hq, order, [("OIL-1", 3)]).status_code == 201
    assert stock(world) == {("SH", "OIL-1"): (1, 1), ("TJ", "OIL-1"): (9, 6)}
    assert ship(client, hq, order, [("OIL-1", 7)]).status_code == 201  # 1 allocated in SH, 6 allocated in TJ
    assert stock(world) == {("SH", "OIL-1"): (0, 0), ("TJ", "OIL-1"): (3, 0)}
    assert allocations(world, order) == {}
    assert world.get(Order, number=order)["status"] == "shipped"
    moves = client.get(f"/api/v1/stock/moves?kind=shipment&order={order}", headers=hq["cm"]).get_json()["items"]
    assert sorted((m["warehouse"], m["on_hand_delta"], m["allocated_delta"]) for m in moves) == [
        ("SH", -3, -3), ("SH", -1, -1), ("TJ", -6, -6)
    ]  # fmt: skip
    assert all(m["shipment"] and m["order"] == order for m in moves)
    assert_invariants(world)


def test_shipping_never_takes_what_is_allocated_to_another_order(client, world, hq):
    world.stock("OIL-1", 10, "SH")
    first = world.order("SH-1", [("OIL-1", 8)])  # 8 allocated
    second = world.order("SH-1", [("OIL-1", 5)])  # 2 allocated, 3 backordered
    before = world.snapshot()
    resp = ship(client, hq, second, [("OIL-1", 5)])
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["code"] == "stock_short" and "OIL-1" in error["message"] and error["fields"]["lines"]
    assert world.snapshot() == before  # no shipment, no invoice, no move
    assert world.count(Shipment) == 0
    assert ship(client, hq, second, [("OIL-1", 2)]).status_code == 201
    assert ship(client, hq, first, [("OIL-1", 8)]).status_code == 201
    assert stock(world)[("SH", "OIL-1")] == (0, 0)
    assert_invariants(world)


def test_build_to_order_lines_ship_without_hq_stock(client, world, hq):
    world.stock("OIL-1", 2, "SH")
    order = world.order("SH-1", [("CAR-1", 1), ("OIL-1", 2)])
    serial = world.serials(order)[0]
    world.mes_events([{"event_id": "done", "serial": serial, "stage": "completed",
                       "occurred_at": dt.datetime.now(dt.UTC)}])  # fmt: skip
    resp = client.post(
        f"/api/v1/orders/{order}/shipments",
        json={"serials": [serial], "lines": [{"sku": "OIL-1", "quantity": 2}]},
        headers=hq["cm"],
    )
    assert resp.status_code == 201, resp.get_json()
    assert stock(world) == {("SH", "OIL-1"): (0, 0)}
    assert_invariants(world)


def test_a_long_sequence_keeps_the_invariants(client, world, hq):
    world.stock("OIL-1", 30, "SH")
    world.stock("OIL-1", 12, "TJ")
    world.stock("FLT-1", 5, "GZ")
    orders = [world.order("SH-1", [("OIL-1", q), ("FLT-1", 2)]) for q in (9, 14, 25)]
    world.cancel(orders[1], "sh1.staff")
    assert ship(client, hq, orders[0], [("OIL-1", 9), ("FLT-1", 2)]).status_code == 201
    client.post("/api/v1/stock/adjustments", json={"warehouse": "TJ", "sku": "OIL-1", "quantity": 4, "reason": "found"},
                headers=hq["cm"])  # fmt: skip
    assert ship(client, hq, orders[2], [("OIL-1", 20), ("FLT-1", 2)]).status_code == 201
    totals = stock(world)
    assert sum(o for (_w, s), (o, _a) in totals.items() if s == "OIL-1") == 30 + 12 + 4 - 9 - 20
    assert_invariants(world)


# ---------------------------------------------------------------- availability bands


def test_dealers_see_bands_and_never_hq_numbers(app, client, world, hq, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_STOCK_LIMITED_BELOW", 10)
    world.product("NONE-1", list_price="1.00")
    world.stock("OIL-1", 7, "SH")
    world.stock("OIL-1", 5, "TJ")  # 12: in stock
    world.stock("FLT-1", 9, "SH")  # 9: limited
    items = {p["sku"]: p for p in client.get("/api/v1/products?per_page=50", headers=hq["dealer"]).get_json()["items"]}
    assert items["OIL-1"]["availability"] == {"band": "in_stock", "lead_time_days": None}
    assert items["FLT-1"]["availability"] == {"band": "limited", "lead_time_days": None}
    assert items["NONE-1"]["availability"] == {"band": "on_request", "lead_time_days": None}
    assert items["CAR-1"]["availability"] == {"band": "build_to_order", "lead_time_days": 30}
    hq_items = {p["sku"]: p for p in client.get("/api/v1/products", headers=hq["cm"]).get_json()["items"]}
    assert hq_items["OIL-1"]["availability"] == {"band": "in_stock", "lead_time_days": None, "available": 12}
    one = client.get("/api/v1/products/FLT-1", headers=hq["dealer"]).get_json()
    assert one["availability"] == {"band": "limited", "lead_time_days": None}


def test_allocated_stock_is_not_available_to_other_dealers(app, client, world, hq, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_STOCK_LIMITED_BELOW", 5)
    world.stock("OIL-1", 12, "SH")
    world.order("SH-1", [("OIL-1", 8)])
    item = client.get("/api/v1/products/OIL-1", headers=hq["dealer"]).get_json()
    assert item["availability"]["band"] == "limited"  # 4 left


def test_the_products_page_reads_the_bands_in_one_query(app, client, world, hq):
    for i in range(6):
        sku = world.product(f"P-{i}")
        world.stock(sku, i + 1, "SH")
    statements = []

    def count(conn, cursor, statement, *args):
        if "hq_stock" in statement:
            statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        resp = client.get("/api/v1/products?per_page=20", headers=hq["dealer"])
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert resp.status_code == 200 and len(resp.get_json()["items"]) == 9
    assert len(statements) == 1


# ---------------------------------------------------------------- who may


@pytest.mark.parametrize("who", ["dealer", "rm"])
def test_dealers_and_regions_may_not_read_or_change_hq_stock(client, world, hq, who):
    world.stock("OIL-1", 5, "SH")
    before = world.snapshot()
    for path in ("/api/v1/stock", "/api/v1/warehouses", "/api/v1/stock/moves"):
        resp = client.get(path, headers=hq[who])
        assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"
    for path, body in (
        ("/api/v1/stock/receipts", {"warehouse": "SH", "sku": "OIL-1", "quantity": 1}),
        ("/api/v1/stock/adjustments", {"warehouse": "SH", "sku": "OIL-1", "quantity": 1, "reason": "x"}),
        ("/api/v1/warehouses", {"code": "X", "name": "x"}),
    ):
        assert client.post(path, json=body, headers=hq[who]).status_code == 403
    assert world.snapshot() == before


def test_finance_reads_hq_stock_but_does_not_change_it(client, world, hq):
    world.stock("OIL-1", 5, "SH")
    assert client.get("/api/v1/stock", headers=hq["fin"]).status_code == 200
    resp = client.post(
        "/api/v1/stock/receipts", json={"warehouse": "SH", "sku": "OIL-1", "quantity": 1}, headers=hq["fin"]
    )
    assert resp.status_code == 403


def test_the_stock_list_filters_and_pages(client, world, hq):
    world.stock("OIL-1", 5, "SH")
    world.stock("OIL-1", 6, "TJ")
    world.stock("FLT-1", 7, "TJ")
    by_wh = client.get("/api/v1/stock?warehouse=tj", headers=hq["cm"]).get_json()
    assert [(i["sku"], i["on_hand"]) for i in by_wh["items"]] == [("FLT-1", 7), ("OIL-1", 6)]
    by_cat = client.get("/api/v1/stock?category=oil", headers=hq["cm"]).get_json()
    assert by_cat["total"] == 2 and {i["warehouse"] for i in by_cat["items"]} == {"SH", "TJ"}
    paged = client.get("/api/v1/stock?per_page=1&page=2", headers=hq["cm"]).get_json()
    assert paged["total"] == 3 and paged["page"] == 2 and paged["per_page"] == 1 and len(paged["items"]) == 1
    bad = client.get("/api/v1/stock?per_page=0", headers=hq["cm"])
    assert bad.status_code == 422 and "per_page" in bad.get_json()["error"]["fields"]
