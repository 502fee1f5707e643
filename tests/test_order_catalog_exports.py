"""The orders list's, a distributor's sales' and the catalogue's exports (issue 24) are read from the database while
the file is written: plain rows a chunk at a time (never every ORM order or product of the list at once), the same
columns, filters, scope, CSV-injection protection and file names as before. Each row is checked here against the
orders and products read through the ORM the way the exports read them before; memory: tests/test_export_memory.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from portal.catalog import pricing
from portal.catalog.labels import category_label
from portal.catalog.models import Product
from portal.dealers.models import Dealer, User
from portal.extensions import db
from portal.inventory.backorders import order_backorders
from portal.orders.models import Order
from portal.platform import web
from portal.platform.timeutil import freeze, local_naive
from tests.conftest import login
from tests.querycount import counting

NOW = dt.datetime(2026, 11, 20, 3, 0, tzinfo=dt.UTC)


@pytest.fixture
def ch(world):
    world.region("HQ")
    world.region("EAST", parent="HQ", approval_limit="1000000")
    world.region("NORTH", parent="HQ", approval_limit="1000000")
    world.dealer("DIST-1", "EAST", name="一级甲")
    world.sub_dealer("DIST-1", "SUB-1A", name="二级甲")
    world.dealer("BJ-1", "NORTH", name="北京一号", tier="A")
    for code in ("DIST-1", "SUB-1A", "BJ-1"):
        world.credit_limit(code, "100000")
    world.product("OIL-1", list_price="100.00", category="parts", name="机油滤清器")
    world.product("AC-1", list_price="1000.00", category="appliance", name="空调")
    world.product("OLD-1", list_price="5.00", category="parts", active=False)
    world.price_list("tier:A", [{"category": "parts", "discount_pct": "10"}], name="A级配件政策")
    return {
        "cm": world.user("channel_manager", username="cm"),
        "rm": world.user("region_manager", region="EAST", username="rm.east"),
        "dist_admin": world.user("dealer_admin", dealer="DIST-1", username="dist1.admin"),
        "sub_staff": world.user("dealer_staff", dealer="SUB-1A", username="sub1a.staff"),
        "bj_staff": world.user("dealer_staff", dealer="BJ-1", username="bj.staff"),
    }


@pytest.fixture
def placed(world, ch) -> dict:
    """Orders of three dealers a day apart (a sub-dealer's sold by its distributor, one placed for it by HQ), one with
    a formula for a note; their lines wait for stock (HQ has none), so each has a backorder and a promised date."""
    out = {}
    for n, (name, dealer, user) in enumerate((
        ("sub_old", "SUB-1A", ch["sub_staff"]),
        ("dist", "DIST-1", None),
        ("bj", "BJ-1", ch["bj_staff"]),
        ("sub_new", "SUB-1A", None),
        ("bj2", "BJ-1", None),
    )):  # fmt: skip
        with freeze(NOW + dt.timedelta(days=n)):
            out[name] = world.order(dealer, [("OIL-1", 2 + n), ("AC-1", 1)], username=user)

    def touch():
        db.session.execute(update(Order).where(Order.number == out["bj"]).values(note="=HYPERLINK(1) 备注"))
        cm = select(User.id).where(User.username == ch["cm"]).scalar_subquery()  # placed for the dealer by HQ
        db.session.execute(update(Order).where(Order.number == out["sub_new"]).values(placed_by_id=cm))

    world.run(touch)
    return out


def as_user(app, username: str):
    client = app.test_client()
    login(client, username)
    return client


def csv_rows(resp) -> list[list[str]]:
    assert resp.status_code == 200, resp.request.path
    return list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))


def as_csv(values: list) -> list[str]:
    """A row as the CSV writer writes it (`_csv_safe`: None empty, a formula quoted)."""
    return [web._csv_safe(v) for v in values]


def expected_orders(app, numbers, sales: bool = False) -> list[list]:
    """The export's rows of these orders computed from the ORM objects, as the whole-file export did, newest first."""
    with app.app_context():
        orders = db.session.execute(select(Order).where(Order.number.in_(numbers))).unique().scalars().all()
        orders.sort(key=lambda o: (o.created_at, o.id), reverse=True)
        waiting = order_backorders(o.id for o in orders)
        if sales:
            rows = [[o.number, local_naive(o.created_at), o.dealer.code, o.dealer.name, o.status, len(o.lines), o.net,
                     o.tax, o.gross, o.created_by, o.placed_by.username if o.placed_by else None, o.note]
                    for o in orders]  # fmt: skip
        else:
            rows = [[o.number, local_naive(o.created_at), o.dealer.code, o.dealer.name, o.dealer.region.code, o.status,
                     len(o.lines), o.net, o.tax, o.gross, o.created_by, o.note, *waiting.get(o.id, (0, None)),
                     o.seller.code if o.seller_id is not None else None]
                    for o in orders]  # fmt: skip
        db.session.remove()
    return rows


@pytest.mark.parametrize(
    ("who", "url", "names"),
    [
        ("cm", "/orders?format=csv", ["sub_old", "dist", "bj", "sub_new", "bj2"]),
        ("cm", "/orders?format=csv&region=NORTH", ["bj", "bj2"]),
        ("cm", "/orders?format=csv&seller=DIST-1", ["sub_old", "sub_new"]),
        ("cm", "/orders?format=csv&sku=AC-1&dealer=BJ-1", ["bj", "bj2"]),
        ("cm", "/orders?format=csv&seller=NOBODY", []),  # a seller the caller cannot name lists nothing
        ("rm", "/orders?format=csv", ["sub_old", "dist", "sub_new"]),
        ("dist_admin", "/orders?format=csv", ["dist"]),  # its purchases; its sales are on the Sales page
        ("bj_staff", "/orders?format=csv&dealer=DIST-1", []),
    ],
)
def test_the_orders_export_is_the_lists_orders_row_for_row(app, ch, placed, who, url, names):
    resp = as_user(app, ch[who]).get(url)
    assert resp.headers["Content-Disposition"].startswith("attachment; filename=orders-")
    assert resp.headers["Content-Disposition"].endswith(".csv")
    table = csv_rows(resp)
    assert table[0] == web_header("orders")
    assert table[1:] == [as_csv(r) for r in expected_orders(app, [placed[n] for n in names])]


def web_header(kind: str) -> list[str]:
    from portal.orders import views

    return views.ORDER_EXPORT_HEADER if kind == "orders" else views.SALES_EXPORT_HEADER


def test_the_orders_export_keeps_its_columns_formula_guard_and_backorders(app, ch, placed):
    table = csv_rows(as_user(app, ch["cm"]).get("/orders?format=csv&dealer=BJ-1"))
    assert table[0] == ["number", "created_at", "dealer_code", "dealer_name", "region", "status", "lines", "net",
                        "tax", "gross", "created_by", "note", "backordered", "promised_on", "seller_code"]  # fmt: skip
    newest, older = table[1], table[2]
    assert newest[0] == placed["bj2"] and older[0] == placed["bj"] and newest[14] == ""  # HQ sells: no seller code
    assert older[11] == "'=HYPERLINK(1) 备注" and older[6] == "2"
    assert int(newest[12]) > 0 and dt.date.fromisoformat(newest[13])  # pieces waiting, the earliest promise
    sub = csv_rows(as_user(app, ch["cm"]).get("/orders?format=csv&dealer=SUB-1A"))
    assert {r[14] for r in sub[1:]} == {"DIST-1"} and {r[4] for r in sub[1:]} == {"EAST"}


def test_the_orders_xlsx_has_the_same_rows_with_numbers_and_dates(app, ch, placed):
    resp = as_user(app, ch["cm"]).get("/orders?format=xlsx&region=NORTH")
    assert resp.headers["Content-Disposition"].endswith(".xlsx") and resp.mimetype == web.XLSX_MIMETYPE
    values = [list(r) for r in load_workbook(io.BytesIO(resp.data)).active.values]
    expected = expected_orders(app, [placed["bj"], placed["bj2"]])
    assert values[0] == web_header("orders") and [r[0] for r in values[1:]] == [r[0] for r in expected]
    for got, want in zip(values[1:], expected, strict=True):
        assert got[1] == want[1] and [Decimal(str(v)) for v in got[7:10]] == want[7:10]
        assert got[11] == (web._csv_safe(want[11]) if want[11] else None)


def test_a_distributors_sales_export_is_its_sales_row_for_row(app, ch, placed):
    resp = as_user(app, ch["dist_admin"]).get("/sales?format=csv")
    assert resp.headers["Content-Disposition"].startswith("attachment; filename=sales-")
    table = csv_rows(resp)
    assert table[0] == web_header("sales")
    assert table[1:] == [as_csv(r) for r in expected_orders(app, [placed["sub_old"], placed["sub_new"]], sales=True)]
    assert table[1][10] == "cm" and table[2][10] == ""  # placed by HQ for the sub-dealer / by the sub-dealer
    one = csv_rows(as_user(app, ch["dist_admin"]).get(f"/sales?format=csv&q={placed['sub_old'][-4:]}"))
    assert [r[0] for r in one[1:]] == [placed["sub_old"]]


def test_an_export_reads_its_rows_while_it_is_sent_a_chunk_at_a_time(app, ch, placed, monkeypatch):
    monkeypatch.setattr(web, "EXPORT_CHUNK_ROWS", 2)  # orders read two at a time
    monkeypatch.setattr(web, "CSV_CHUNK_ROWS", 1)  # a piece of the answer a row
    client = as_user(app, ch["cm"])
    with counting(app, only=("FROM orders", "FROM order_lines")) as seen:
        resp = client.get("/orders?format=csv")
        try:
            assert resp.is_streamed
            # the test client has asked for the first piece (the header and the first row): the orders' statement
            # and the first chunk's backorders have run, the other chunks' not yet
            first = len(seen)
            body = b"".join(resp.response)
        finally:
            resp.close()
    assert body.count(b"\n") == 6 and first <= 2
    # one statement for the orders (their line counts in it), one for the backorders of each chunk of 2: never one a
    # row (5 orders, 10 lines)
    assert len(seen) == 1 + 3, seen


# ------------------------------------------------------------------ the catalogue


def expected_products(app, dealer: str | None, active_only: bool) -> list[list]:
    with app.app_context():
        stmt = select(Product).order_by(Product.category, Product.sku)
        if active_only:
            stmt = stmt.where(Product.active.is_(True))
        products = db.session.execute(stmt).scalars().all()
        lists = None
        if dealer:
            lists = pricing.candidate_lists(db.session.execute(select(Dealer).filter_by(code=dealer)).unique()
                                            .scalar_one(), dt.date.today())  # fmt: skip
        rows = []
        for p in products:
            row = [p.sku, p.name, p.name_en, p.category, category_label(p.category), p.unit, p.list_price, p.tax_rate,
                   p.min_resale_price, p.build_to_order, p.lead_time_days, p.active]  # fmt: skip
            if lists is not None:
                resolved = pricing.resolve_with(lists, p, 1)
                row += [resolved.unit_price, resolved.rule["price_list"] if resolved.rule else ""]
            rows.append(row)
        db.session.remove()
    return rows


@pytest.mark.parametrize(("who", "dealer"), [("cm", None), ("bj_staff", "BJ-1"), ("sub_staff", "SUB-1A")])
def test_the_catalogue_export_is_every_product_in_scope_with_the_dealers_own_price(app, ch, who, dealer):
    resp = as_user(app, ch[who]).get("/products?format=csv")
    assert resp.headers["Content-Disposition"] == "attachment; filename=products.csv"
    table = csv_rows(resp)
    from portal.catalog.views import EXPORT_COLUMNS

    assert table[0] == EXPORT_COLUMNS + (["my_price", "price_rule"] if dealer else [])
    assert table[1:] == [as_csv(r) for r in expected_products(app, dealer, active_only=dealer is not None)]
    if dealer == "BJ-1":  # tier A: 10 % off parts
        assert [r[-2:] for r in table[1:] if r[0] == "OIL-1"] == [["90.00", "A级配件政策"]]


def test_the_catalogue_export_keeps_its_filters_and_xlsx(app, ch):
    client = as_user(app, ch["bj_staff"])
    table = csv_rows(client.get("/products?format=csv&category=parts"))
    assert [r[0] for r in table[1:]] == ["OIL-1"]  # OLD-1 is inactive: HQ's only
    assert [r[0] for r in csv_rows(client.get("/products?format=csv&q=空调"))[1:]] == ["AC-1"]
    hq = as_user(app, ch["cm"])
    assert [r[0] for r in csv_rows(hq.get("/products?format=csv&active=0"))[1:]] == ["OLD-1"]
    values = [list(r) for r in load_workbook(io.BytesIO(client.get("/products?format=xlsx").data)).active.values]
    assert [r[0] for r in values[1:]] == ["AC-1", "OIL-1"] and Decimal(str(values[2][-2])) == Decimal("90.00")
