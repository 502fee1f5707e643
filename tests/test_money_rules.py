"""The money rules at their edges, deterministic (issue 26): each test here fails for one plausible one-line bug that
the broader tests let through — a bucket bound off by one day, half-even for half-up, tax rounded on the order's
total instead of per line, exposure that forgets orders past `approved`, the credit gate's `<=` turned into `<`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from portal.catalog.pricing import price_line
from portal.credit import reports
from portal.credit import services as credit
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.orders.models import Order
from portal.platform.tenancy import Scope

AS_OF = dt.date(2026, 6, 30)

# days past due → bucket (PRODUCT.md §5: days = D − due_date; ≤ 0 not due, then 1–30, 31–60, 61–90, over 90);
# every invoice has its own amount, so a misplaced one shows in two buckets' sums.
EDGES = {
    0: ("not_due", "1.00"),
    1: ("1_30", "2.00"),
    30: ("1_30", "4.00"),
    31: ("31_60", "8.00"),
    60: ("31_60", "16.00"),
    61: ("61_90", "32.00"),
    90: ("61_90", "64.00"),
    91: ("over_90", "128.00"),
}


@pytest.fixture
def edged(world):
    """One dealer with one open invoice at each bucket edge, in a region of its own."""
    world.region("EDGE")
    dealer = world.dealer("EDGE-1", "EDGE")
    for days, (_bucket, amount) in EDGES.items():
        due = AS_OF - dt.timedelta(days=days)
        world.invoice(dealer, f"E{days}", amount, issued_on=due - dt.timedelta(days=30), due_on=due)
    return dealer


def _expected() -> dict:
    out = {b: Decimal("0.00") for b in reports.BUCKETS}
    for bucket, amount in EDGES.values():
        out[bucket] += Decimal(amount)
    return out


def test_each_invoice_at_a_bucket_edge_lands_in_its_bucket(app, edged):
    expected = _expected()
    assert expected == {
        "not_due": Decimal("1.00"),
        "1_30": Decimal("6.00"),
        "31_60": Decimal("24.00"),
        "61_90": Decimal("96.00"),
        "over_90": Decimal("128.00"),
    }
    with app.test_request_context():
        hq = Scope("hq")
        for group_by in ("dealer", "region", "total"):
            result = reports.ageing(hq, AS_OF, group_by)
            row = result["totals"] if group_by == "total" else next(r for r in result["rows"] if "EDGE" in r["key"])
            assert {b: row[b] for b in reports.BUCKETS} == expected, group_by
            assert row["total"] == Decimal("255.00")
        regions, dealers = reports.ageing_by_region_and_dealer(hq, AS_OF)
        dealer_row = next(r for r in dealers["rows"] if r["key"] == edged)
        assert {b: dealer_row[b] for b in reports.BUCKETS} == expected


def test_the_overdue_scan_counts_days_past_due_from_the_day_after_the_due_date(app, edged):
    from portal.credit.overdue import overdue_by_dealer

    with app.test_request_context():
        dealer_id = db.session.query(Dealer.id).filter_by(code=edged).scalar()
        amount, oldest = overdue_by_dealer(AS_OF)[dealer_id]
        assert amount == Decimal("254.00")  # all but the invoice due today
        assert oldest == AS_OF - dt.timedelta(days=91)
        assert credit.oldest_overdue_days(dealer_id, AS_OF) == 91
        assert dealer_id not in overdue_by_dealer(AS_OF - dt.timedelta(days=92))


def test_tax_is_rounded_half_up_on_a_real_tie():
    # 12.50 × 13 % = 1.625: half-up gives 1.63, half-even would give 1.62
    assert price_line(Decimal("12.50"), 1, Decimal("0.13")) == {
        "net": Decimal("12.50"),
        "tax": Decimal("1.63"),
        "gross": Decimal("14.13"),
    }
    # 0.05 × 13 % = 0.0065 → 0.01 (and a negative tie is not reached: quantities are positive)
    assert price_line(Decimal("0.05"), 1, Decimal("0.13"))["tax"] == Decimal("0.01")


@pytest.fixture
def shop(world):
    world.region("MR")
    dealer = world.dealer("MR-1", "MR")
    world.user("dealer_staff", dealer=dealer, username="mr.staff")
    world.credit_limit(dealer, "100000.00")
    return dealer


def test_tax_is_rounded_per_line_not_on_the_total(client, world, shop):
    skus = [world.product(f"TINY-{n}", list_price="0.05") for n in range(3)]
    answer = client.post(
        "/api/v1/orders",
        json={"lines": [{"sku": s, "quantity": 1} for s in skus]},
        headers=world.auth("mr.staff"),
    )
    assert answer.status_code == 201, answer.get_json()
    order = answer.get_json()
    assert [ln["tax"] for ln in order["lines"]] == ["0.01", "0.01", "0.01"]
    # per line: 3 × 0.01 = 0.03; rounding the total's tax (0.15 × 13 % = 0.0195) would give 0.02
    assert (order["net"], order["tax"], order["gross"]) == ("0.15", "0.03", "0.18")


def test_an_order_line_with_a_tie_is_stored_half_up(client, world, shop):
    sku = world.product("TIE-1", list_price="12.50")
    line = {"sku": sku, "quantity": 1}
    answer = client.post("/api/v1/orders", json={"lines": [line]}, headers=world.auth("mr.staff"))
    assert answer.status_code == 201, answer.get_json()
    assert (answer.get_json()["tax"], answer.get_json()["gross"]) == ("1.63", "14.13")


def _status(world, number: str) -> str:
    return world.get(Order, number=number)["status"]


@pytest.mark.parametrize("limit, status", [("113.00", "approved"), ("112.99", "credit_review")])
def test_the_gate_approves_exactly_the_available_credit_and_not_a_cent_more(client, world, limit, status):
    world.region("GATE")
    dealer = world.dealer(region="GATE")
    world.user("dealer_staff", dealer=dealer, username=f"gate.{limit}")
    world.credit_limit(dealer, limit)
    sku = world.product(list_price="100.00")  # gross 113.00
    answer = client.post(
        "/api/v1/orders", json={"lines": [{"sku": sku, "quantity": 1}]}, headers=world.auth(f"gate.{limit}")
    )
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["gross"] == "113.00"
    assert answer.get_json()["status"] == status


def _past(hours: int) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)


@pytest.mark.parametrize("stage, order_status", [("body", "in_production"), ("completed", "built")])
def test_exposure_counts_orders_in_production_and_built_until_they_are_invoiced(
    app, client, world, stage, order_status
):
    world.region("EXP")
    dealer = world.dealer(region="EXP")
    staff = world.user("dealer_staff", dealer=dealer)
    world.credit_limit(dealer, "800.00")
    car = world.product(list_price="400.00", build_to_order=True)  # gross 452.00 a unit
    first = world.order(dealer, [(car, 1)])
    assert _status(world, first) == "approved"
    (serial,) = world.serials(first)
    event = {"event_id": f"ev-{serial}", "serial": serial, "stage": stage, "occurred_at": _past(2)}
    outcome = world.mes_events([event])
    assert outcome[0]["status"] == "accepted", outcome
    assert _status(world, first) == order_status

    answer = client.get(f"/api/v1/dealers/{dealer}/credit", headers=world.auth(staff)).get_json()
    assert (answer["open_orders"], answer["exposure"], answer["available"]) == ("452.00", "452.00", "348.00")
    # a second order of the same gross no longer fits: it waits for an approver
    second = world.order(dealer, [(car, 1)])
    assert _status(world, second) == "credit_review"
