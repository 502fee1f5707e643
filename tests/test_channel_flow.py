"""Property-based: over random shipments, sell-through, stock movements and payments, the channel-flow report (SQL)
agrees with a plain Python model of its definitions for random periods (partial months included), filters,
group-bys and scopes; its totals equal the sums of the underlying rows; price monitoring sums the lines below floor."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.analytics import reports
from portal.catalog.models import Product
from portal.credit.models import LedgerEntry
from portal.dealers.models import Dealer, Region
from portal.extensions import db
from portal.inventory.sums import add_moves_to_channel, add_to_channel, add_transfer_to_channel
from portal.orders.models import Order, OrderLine
from portal.platform.errors import Invalid
from portal.platform.money import money
from portal.platform.tenancy import Scope
from portal.shipping.models import Shipment, ShipmentLine
from tests.factories import World

START = dt.date(2025, 1, 1)
_seq = itertools.count(1)

# (region code, parent); dealers: (code, region); SA is a sub-dealer of DA (level 2, §16)
REGIONS = [("ROOT", None), ("RA", "ROOT"), ("RA1", "RA"), ("RB", "ROOT")]
DEALERS = [("DA", "RA"), ("DA1", "RA1"), ("DB", "RB"), ("DR", "ROOT"), ("SA", "RA")]
PARENTS = {"SA": "DA"}
PRODUCTS = [("P1", "parts", "100.00"), ("P2", "vehicles", None), ("P3", "parts", "50.00")]

event = st.tuples(
    st.sampled_from(["ship", "receipt", "sale", "sale", "adjust", "payment", "transfer"]),
    st.integers(0, len(DEALERS) - 1),
    st.integers(0, len(PRODUCTS) - 1),
    st.integers(0, 420),  # day offset
    st.integers(1, 9),  # quantity
    st.integers(1, 30_000),  # cents
    st.booleans(),  # adjustment sign
)
group_bys = st.lists(st.sampled_from(reports.GROUP_KEYS), unique=True, max_size=4)
filters = st.fixed_dictionaries(
    {
        "region": st.sampled_from([None, None, "RA", "RB", "RA1"]),
        "dealer": st.sampled_from([None, None, None, "DA", "DA1", "DB", "SA"]),
        "category": st.sampled_from([None, None, "parts"]),
        "sku": st.sampled_from([None, None, None, "P2"]),
    }
)


def _base():
    regions = {}
    for code, parent in REGIONS:
        p = regions.get(parent)
        regions[code] = Region(code=code, name=f"区域{code}", parent=p, path=(p.path if p else "/") + code + "/")
        db.session.add(regions[code])
    dealers = {}
    for code, region in DEALERS:
        dealers[code] = Dealer(code=code, name=f"经销商{code}", region=regions[region], tier="A", channel_type="chain",
                               parent=dealers.get(PARENTS.get(code)))  # fmt: skip
        db.session.add(dealers[code])
    products = {}
    for sku, category, floor in PRODUCTS:
        products[sku] = Product(sku=sku, name=f"产品{sku}", category=category, unit="pc", list_price=Decimal("100"),
                                min_resale_price=Decimal(floor) if floor else None)  # fmt: skip
        db.session.add(products[sku])
    db.session.flush()
    orders = {}
    for code, dealer in dealers.items():
        order = Order(number=f"SO-{next(_seq)}", dealer_id=dealer.id, status="shipped", net=0, tax=0, gross=0,
                      created_by="t")  # fmt: skip
        db.session.add(order)
        db.session.flush()
        for n, product in enumerate(products.values()):
            line = OrderLine(order_id=order.id, line_no=n + 1, product_id=product.id, sku=product.sku, quantity=999,
                             list_price=100, unit_price=100, tax_rate=Decimal("0.13"), net=0, tax=0,
                             gross=0)  # fmt: skip
            db.session.add(line)
            db.session.flush()
            orders[(code, product.sku)] = (order, line)
    return regions, dealers, products, orders


def _ship(dealer, product, order_and_line, on, qty, cents, seller=None):
    """HQ's shipment (sell-in), or with `seller` a distributor's transfer to its sub-dealer (§16), as shipping
    writes them."""
    order, line = order_and_line
    n = next(_seq)
    gross = money(Decimal(cents) / 100 * qty)
    invoice = LedgerEntry(dealer_id=dealer.id, type="invoice", number=f"INV-{n}", entry_date=on,
                          due_on=on + dt.timedelta(days=30), amount=gross, created_by="t")  # fmt: skip
    db.session.add(invoice)
    db.session.flush()
    shipment = Shipment(number=f"DN-{n}", order_id=order.id, dealer_id=dealer.id, shipped_on=on, net=gross, tax=0,
                        gross=gross, invoice_id=invoice.id, request_hash="x", created_by="t",
                        seller_id=seller.id if seller else None)  # fmt: skip
    db.session.add(shipment)
    db.session.flush()
    db.session.add(ShipmentLine(shipment_id=shipment.id, order_line_id=line.id, product_id=product.id, sku=product.sku,
                                quantity=qty, unit_price=gross, tax_rate=0, net=gross, tax=0, gross=gross))  # fmt: skip
    db.session.flush()
    if seller is None:
        add_to_channel([(dealer.id, product.id, on, {"sell_in_qty": qty, "sell_in_amount": gross})])  # as shipping does
        return
    from portal.inventory.models import DealerStockMove

    out = DealerStockMove(dealer_id=seller.id, product_id=product.id, sku=product.sku, quantity=-qty, kind="transfer",
                          moved_on=on, shipment_id=shipment.id, created_by="t")  # fmt: skip
    db.session.add(out)
    db.session.refresh(shipment)
    add_transfer_to_channel(shipment, [out])


def _move(dealer, product, on, qty, kind):
    from portal.inventory.models import DealerStockMove

    move = DealerStockMove(dealer_id=dealer.id, product_id=product.id, sku=product.sku, quantity=qty, kind=kind,
                           moved_on=on, created_by="t")  # fmt: skip
    db.session.add(move)
    add_moves_to_channel([move])  # as the writers do


def _apply(events, dealers, products, orders):
    """Write the events; answer the plain facts the Python model reads."""
    facts = []
    dcodes, skus = [d for d, _r in DEALERS], [p for p, _c, _f in PRODUCTS]
    for kind, di, pi, day, qty, cents, sign in events:
        dealer, product = dealers[dcodes[di]], products[skus[pi]]
        on = START + dt.timedelta(days=day)
        price = money(Decimal(cents) / 100)
        fact = {"kind": kind, "dealer": dealer.code, "sku": product.sku, "on": on, "qty": qty}
        if kind == "ship":
            _ship(dealer, product, orders[(dealer.code, product.sku)], on, qty, cents)
            fact["amount"] = money(price * qty)
        elif kind == "transfer":  # §16: always DA to its sub-dealer SA, out of DA's stock
            sub, dist = dealers["SA"], dealers["DA"]
            _ship(sub, product, orders[("SA", product.sku)], on, qty, cents, seller=dist)
            facts.append({"kind": "transfer_out", "dealer": "DA", "sku": product.sku, "on": on, "qty": -qty})
            fact.update(dealer="SA", amount=money(price * qty))
        elif kind == "receipt":
            _move(dealer, product, on, qty, "receipt")
        elif kind == "adjust":
            fact["qty"] = qty if sign else -qty
            _move(dealer, product, on, fact["qty"], "adjustment")
        elif kind == "sale":
            World.add_sold(dealer.id, product, on, qty, price)
            fact["amount"] = money(price * qty)
            fact["price"] = price
            fact["floor"] = product.min_resale_price
        else:
            n = next(_seq)
            db.session.add(LedgerEntry(dealer_id=dealer.id, type="payment", number=f"BANK-{n}", entry_date=on,
                                       amount=price, created_by="t"))  # fmt: skip
            fact["amount"] = price
        facts.append(fact)
    db.session.flush()
    return facts


# ---------------------------------------------------------------- the Python model


def _region_row(dealer_region_path: str, anchor: str, paths: dict[str, str]) -> str | None:
    """The region row a dealer counts in: the child of the anchor whose subtree holds it, or the anchor itself."""
    if dealer_region_path == paths[anchor]:
        return anchor
    for code, path in paths.items():
        parent = dict(REGIONS)[code]
        if parent == anchor and dealer_region_path.startswith(path):
            return code
    return None


def _model(facts, date_from, date_to, group_by, flt, scope_path):
    paths = {}
    for code, parent in REGIONS:
        paths[code] = (paths[parent] if parent else "/") + code + "/"
    dealer_path = {code: paths[region] for code, region in DEALERS}
    category = {sku: cat for sku, cat, _f in PRODUCTS}
    anchor = flt["region"] or ("RA" if scope_path else "ROOT")

    def visible(f):
        path = dealer_path[f["dealer"]]
        if scope_path and not path.startswith(scope_path):
            return False
        if flt["region"] and not path.startswith(paths[flt["region"]]):
            return False
        if flt["dealer"] and f["dealer"] != flt["dealer"]:
            return False
        if f["kind"] == "payment":
            return True
        if flt["category"] and category[f["sku"]] != flt["category"]:
            return False
        return not (flt["sku"] and f["sku"] != flt["sku"])

    with_cash = not (flt["category"] or flt["sku"] or "category" in group_by or "product" in group_by)
    monthly = "month" in group_by
    months = reports.month_starts(date_from, date_to) if monthly else [date_from]

    def key_of(f, month):
        out = []
        for k in group_by:
            if k == "region":
                out.append(_region_row(dealer_path[f["dealer"]], anchor, paths))
            elif k == "dealer":
                out.append(f["dealer"])
            elif k == "level":
                out.append(2 if f["dealer"] in PARENTS else 1)
            elif k == "category":
                out.append(category[f["sku"]])
            elif k == "product":
                out.append(f["sku"])
            else:
                out.append(month.strftime("%Y-%m"))
        return tuple(out)

    def month_of(day):
        return day.replace(day=1) if monthly else date_from

    rows = defaultdict(lambda: defaultdict(lambda: Decimal(0)))
    seen_groups = set()
    for f in facts:
        if not visible(f) or (f["kind"] == "payment" and not with_cash):
            continue
        if f["kind"] in ("receipt", "adjust", "sale", "transfer_out"):
            if f["on"] > date_to:
                continue
            for m in months:  # stock counts in every bucket whose end is on or after the movement
                end = min(date_to, reports.month_end(m)) if monthly else date_to
                start = max(date_from, m) if monthly else date_from
                key = key_of(f, m)
                signed = -f["qty"] if f["kind"] == "sale" else f["qty"]
                if f["on"] <= end:
                    rows[key]["ending_stock"] += signed
                if f["on"] < start:
                    rows[key]["opening_stock"] += signed
                seen_groups.add(key)
        if not (date_from <= f["on"] <= date_to):
            continue
        key = key_of(f, month_of(f["on"]))
        if f["kind"] == "ship":
            rows[key]["sell_in_qty"] += f["qty"]
            rows[key]["sell_in_amount"] += f["amount"]
        elif f["kind"] == "transfer":
            rows[key]["transfer_in_qty"] += f["qty"]
            rows[key]["transfer_in_amount"] += f["amount"]
        elif f["kind"] == "sale":
            rows[key]["sell_through_qty"] += f["qty"]
            rows[key]["sell_through_amount"] += f["amount"]
        elif f["kind"] == "payment":
            rows[key]["cash_received"] += f["amount"]
    out = {}
    for key, m in rows.items():
        if all(v == 0 for v in m.values()):
            continue
        out[key] = {
            "sell_in_qty": int(m["sell_in_qty"]),
            "sell_in_amount": money(m["sell_in_amount"]),
            "transfer_in_qty": int(m["transfer_in_qty"]),
            "transfer_in_amount": money(m["transfer_in_amount"]),
            "sell_through_qty": int(m["sell_through_qty"]),
            "sell_through_amount": money(m["sell_through_amount"]),
            "opening_stock": int(m["opening_stock"]),
            "ending_stock": int(m["ending_stock"]),
            "cash_received": money(m["cash_received"]) if with_cash else None,
        }
    return out


def _key_of_row(row, group_by):
    names = {"region": "region_code", "level": "level", "dealer": "dealer_code", "category": "category",
             "product": "sku", "month": "month"}  # fmt: skip
    return tuple(row[names[k]] for k in group_by)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=st.lists(event, min_size=1, max_size=30),
    start=st.integers(0, 400),
    length=st.integers(0, 200),
    group_by=group_bys,
    flt=filters,
    as_region=st.booleans(),
)
def test_channel_flow_equals_the_sums_of_the_underlying_rows(app, events, start, length, group_by, flt, as_region):
    with app.test_request_context():
        try:
            _regions, dealers, products, orders = _base()
            facts = _apply(events, dealers, products, orders)
            date_from = START + dt.timedelta(days=start)
            date_to = date_from + dt.timedelta(days=length)
            scope = Scope("region", region_path="/ROOT/RA/") if as_region else Scope("hq")
            if as_region and flt["region"] == "RB":
                flt = {**flt, "region": None}
            if as_region and flt["dealer"] == "DB":
                with pytest.raises(Invalid):
                    reports.channel_flow(scope, date_from, date_to, group_by, **flt)
                flt = {**flt, "dealer": None}
            result = reports.channel_flow(scope, date_from, date_to, group_by, **flt)
            expected = _model(facts, date_from, date_to, group_by, flt, "/ROOT/RA/" if as_region else None)
            got = {}
            for row in result["rows"]:
                got[_key_of_row(row, group_by)] = {k: row[k] for k in next(iter(expected.values()), row) if k in row}
            assert set(got) == set(expected)
            rates = {_key_of_row(row, group_by): row["sell_through_rate"] for row in result["rows"]}
            apart = flt["dealer"] == "SA" or "level" in group_by or "dealer" in group_by  # §16: sub-dealers apart
            for key, want in expected.items():
                assert got[key] == want, key
                base = want["opening_stock"] + want["sell_in_qty"] + (want["transfer_in_qty"] if apart else 0)
                rate = (Decimal(want["sell_through_qty"]) / base).quantize(Decimal("0.0001")) if base > 0 else None
                assert rates[key] == rate, key
            # the totals are the sums of the underlying rows (whatever the grouping)
            flat = _model(facts, date_from, date_to, [], flt, "/ROOT/RA/" if as_region else None)
            total = next(iter(flat.values()), None)
            t = result["totals"]
            if total is None:
                assert t["sell_in_qty"] == t["sell_through_qty"] == t["ending_stock"] == 0
            else:
                if "category" in group_by or "product" in group_by:
                    assert t["cash_received"] is None
                    total["cash_received"] = None
                for k, v in total.items():
                    assert t[k] == v, k
                # transfers come from outside only into one sub-dealer's report (§16)
                base = total["opening_stock"] + total["sell_in_qty"] + (
                    total["transfer_in_qty"] if flt["dealer"] == "SA" else 0)
                rate = (Decimal(total["sell_through_qty"]) / base).quantize(Decimal("0.0001")) if base > 0 else None
                assert t["sell_through_rate"] == rate
        finally:
            db.session.rollback()


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(event, min_size=1, max_size=30), start=st.integers(0, 300), length=st.integers(0, 120))
def test_price_monitoring_sums_the_lines_below_the_floor(app, events, start, length):
    with app.test_request_context():
        try:
            _regions, dealers, products, orders = _base()
            facts = _apply(events, dealers, products, orders)
            date_from = START + dt.timedelta(days=start)
            date_to = date_from + dt.timedelta(days=length)
            result = reports.price_monitoring(Scope("hq"), date_from, date_to)
            below = [f for f in facts if f["kind"] == "sale" and f["floor"] is not None and f["price"] < f["floor"]
                     and date_from <= f["on"] <= date_to]  # fmt: skip
            assert result["totals"]["lines"] == len(below)
            assert result["totals"]["quantity"] == sum(f["qty"] for f in below)
            assert result["totals"]["gap"] == money(sum(((f["floor"] - f["price"]) * f["qty"] for f in below),
                                                         Decimal(0)))  # fmt: skip
            for row in result["rows"]:
                mine = [f for f in below if f["dealer"] == row["dealer_code"] and f["sku"] == row["sku"]]
                assert row["worst_price"] == min(f["price"] for f in mine)
            lines = db.session.execute(reports.price_monitoring_lines(Scope("hq"), date_from, date_to)).all()
            assert len(lines) == len(below)
        finally:
            db.session.rollback()


def test_partial_months_at_the_edges_are_exact(app):
    """A period from mid-January to mid-March: January and March from the lines, February from the sums."""
    with app.test_request_context():
        try:
            _regions, dealers, products, _orders = _base()
            d, p = dealers["DA"], products["P2"]
            _move(d, p, dt.date(2025, 1, 2), 100, "receipt")
            for day in (dt.date(2025, 1, 14), dt.date(2025, 1, 15), dt.date(2025, 2, 1), dt.date(2025, 2, 28),
                        dt.date(2025, 3, 15), dt.date(2025, 3, 16)):  # fmt: skip
                World.add_sold(d.id, p, day, 2, "10.00")
            db.session.flush()
            hq = Scope("hq")
            r = reports.channel_flow(hq, dt.date(2025, 1, 15), dt.date(2025, 3, 15), [])
            assert r["totals"]["sell_through_qty"] == 8 and r["totals"]["sell_through_amount"] == Decimal("80.00")
            assert r["totals"]["opening_stock"] == 98 and r["totals"]["ending_stock"] == 90
            assert r["totals"]["sell_through_rate"] == Decimal("0.0816")  # 8 / (98 + 0)
            assert r["totals"]["days_of_inventory"] == Decimal("675.0")  # 90 ÷ (8 / 60 days)
            by_month = reports.channel_flow(hq, dt.date(2025, 1, 15), dt.date(2025, 3, 15), ["month"])
            assert [(x["month"], x["sell_through_qty"], x["ending_stock"]) for x in by_month["rows"]] == [
                ("2025-01", 2, 96), ("2025-02", 4, 92), ("2025-03", 2, 90)]  # fmt: skip
            assert by_month["totals"]["ending_stock"] == 90 and by_month["totals"]["opening_stock"] == 98
        finally:
            db.session.rollback()


def test_bad_group_by_and_periods_are_refused(app):
    with app.test_request_context():
        hq = Scope("hq")
        with pytest.raises(Invalid):
            reports.channel_flow(hq, dt.date(2025, 1, 1), dt.date(2025, 2, 1), ["region", "region"])
        with pytest.raises(Invalid):
            reports.channel_flow(hq, dt.date(2025, 1, 1), dt.date(2025, 2, 1), ["city"])
        with pytest.raises(Invalid):
            reports.channel_flow(hq, dt.date(2025, 2, 1), dt.date(2025, 1, 1), ["region"])
        with pytest.raises(Invalid):
            reports.channel_flow(hq, dt.date(2020, 1, 1), dt.date(2026, 1, 1), ["region"])


# ---------------------------------------------------------------- a small fixed channel for the API and page tests


def fixed_channel() -> None:
    """ROOT → RA (DA) → RA1 (DA1); ROOT → RB (DB); DR directly in ROOT (nothing moves there). Q1 2026:

    DA  P1 (parts, floor 100): 10 shipped and received in Dec 2025; 5 shipped 2026-01-10 (150.00 each), received
        01-12; sold 3 at 90.00 on 01-20 (below floor) and 2 at 120.00 on 02-15; paid 500.00 on 02-01.
    DA1 P2 (vehicles): 2 shipped 02-05 (200.00 each), received 02-06; 1 sold at 300.00 on 03-01.
    DB  P3 (parts, floor 50): 4 shipped 01-15 (40.00), received 01-16; 4 sold at 45.00 on 03-10; paid 300.00 on 03-01.
    """
    _regions, dealers, products, orders = _base()
    d = dt.date
    da, da1, db_ = dealers["DA"], dealers["DA1"], dealers["DB"]
    p1, p2, p3 = products["P1"], products["P2"], products["P3"]
    _ship(da, p1, orders[("DA", "P1")], d(2025, 12, 18), 10, 15000)
    _move(da, p1, d(2025, 12, 20), 10, "receipt")
    _ship(da, p1, orders[("DA", "P1")], d(2026, 1, 10), 5, 15000)
    _move(da, p1, d(2026, 1, 12), 5, "receipt")
    World.add_sold(da.id, p1, d(2026, 1, 20), 3, "90.00", city="上海")
    World.add_sold(da.id, p1, d(2026, 2, 15), 2, "120.00")
    _ship(da1, p2, orders[("DA1", "P2")], d(2026, 2, 5), 2, 20000)
    _move(da1, p2, d(2026, 2, 6), 2, "receipt")
    World.add_sold(da1.id, p2, d(2026, 3, 1), 1, "300.00")
    _ship(db_, p3, orders[("DB", "P3")], d(2026, 1, 15), 4, 4000)
    _move(db_, p3, d(2026, 1, 16), 4, "receipt")
    World.add_sold(db_.id, p3, d(2026, 3, 10), 4, "45.00")
    for dealer, amount, on in ((da, "500.00", d(2026, 2, 1)), (db_, "300.00", d(2026, 3, 1))):
        db.session.add(LedgerEntry(dealer_id=dealer.id, type="payment", number=f"BANK-{next(_seq)}", entry_date=on,
                                   amount=Decimal(amount), created_by="t"))  # fmt: skip
