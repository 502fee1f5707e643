"""Work queues (PRODUCT.md §12): each home page starts with what waits for this person, oldest first, with its age,
each item one click from its action; the queue's total and a link to all of it. One test per role's queues."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from portal.extensions import db
from portal.platform.timeutil import freeze, today
from tests.conftest import login

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def ago(days: float = 0, hours: float = 0) -> dt.datetime:
    return NOW - dt.timedelta(days=days, hours=hours)


def main(client, url: str = "/home") -> str:
    resp = client.get(url)
    assert resp.status_code == 200, url
    return resp.get_data(as_text=True).split("<main", 1)[1].split("</main>", 1)[0]


def queue(html: str, key: str) -> str | None:
    """The HTML of one queue's card on a home page (None when the queue is not shown: nothing waits in it)."""
    m = re.search(rf'<div class="card h-100 queue" data-queue="{key}"(.*?)\n    </div>\n', html, re.S)
    return m.group(1) if m else None


def items(card: str, attr: str) -> list[str]:
    """The items' identifiers in page order."""
    return re.findall(rf'{attr}="([^"]+)" data-queue-item', card)


def ages(card: str) -> list[str]:
    return [a.strip() for a in re.findall(r'class="badge queue-age [^"]*" data-age="[^"]*"[^>]*>([^<]*)<', card)]


def plain(card: str) -> str:
    """The card's text (codes and amounts are in their own no-wrap spans)."""
    return re.sub(r"<[^>]+>", "", card)


def total(card: str) -> int:
    return int(re.search(r"data-total>(\d+)<", card).group(1))


@pytest.fixture
def channel(world):
    world.region("CN")
    world.region("EA", parent="CN", name="华东", approval_limit="10000")
    world.region("SH", parent="EA", name="上海")
    world.region("NO", parent="CN", name="华北", approval_limit="10000")
    world.dealer("SH-1", "SH", name="上海一号")
    world.dealer("HZ-2", "EA", name="杭州二号")
    world.dealer("BJ-1", "NO", name="北京一号")
    world.product("P-1", list_price="1000.00")
    world.product("CAR-1", list_price="100000.00", build_to_order=True, category="vehicles")
    world.stock("P-1", 500)
    world.product("B-1", list_price="100.00")  # scarce at HQ: approved orders of it wait (backorders)
    world.stock("B-1", 2)
    return {
        "finance": world.user("finance", username="fin"),
        "cm": world.user("channel_manager", username="cm"),
        "admin": world.user("hq_admin", username="admin"),
        "rm_ea": world.user("region_manager", region="EA", username="rm.ea"),
        "rm_no": world.user("region_manager", region="NO", username="rm.no"),
        "sh_admin": world.user("dealer_admin", dealer="SH-1", username="sh.admin"),
        "sh_staff": world.user("dealer_staff", dealer="SH-1", username="sh.staff"),
        "bj_admin": world.user("dealer_admin", dealer="BJ-1", username="bj.admin"),
    }


def _statement(world, dealer: str, issued: dt.datetime, amount: str = "1000.00") -> int:
    """An invoice in the month before `issued`, then the dealer's statement of that month issued at `issued`."""
    last_month_end = issued.date().replace(day=1) - dt.timedelta(days=1)
    world.invoice(dealer, amount=amount, issued_on=last_month_end.replace(day=2))
    with freeze(issued):
        return world.statement(dealer, last_month_end.strftime("%Y-%m"))


def _promised(world, order: str) -> dt.date:
    """The promised date HQ stock gave the order's waiting line."""
    from portal.orders.models import Order, OrderLine

    def read():
        order_id = db.session.query(Order.id).filter_by(number=order).scalar()
        return db.session.query(OrderLine.promised_on).filter(OrderLine.order_id == order_id,
                                                              OrderLine.backordered > 0).scalar()  # fmt: skip

    found = world.run(read)
    assert found is not None
    return found


def _review(world, dealer: str, quantity: int, at: dt.datetime) -> str:
    """An order that lands in credit review at `at` (the dealer has no credit)."""
    with freeze(at):
        return world.order(dealer, [("P-1", quantity)])


# ------------------------------------------------------------------ finance


def test_finance_sees_open_disputes_oldest_first_with_their_age(client, world, channel):
    older = _statement(world, "SH-1", ago(20))
    newer = _statement(world, "BJ-1", ago(20))
    late = world.dispute(newer, "少了一笔回款", at=ago(3))
    early = world.dispute(older, "发票金额不对", at=ago(5, 2))
    login(client, channel["finance"])
    card = queue(main(client), "disputes")
    assert items(card, "data-dispute") == [str(early), str(late)]
    assert ages(card) == ["5 d", "3 d"]
    assert (
        f'href="/statements/{older}#dispute-{early}"' in card
        and "发票金额不对" in card
        and "SH-1 上海一号" in plain(card)
    )
    assert 'href="/disputes?status=open"' in card and total(card) == 2


def test_statements_unconfirmed_ten_days_after_issue(client, world, channel):
    stale = _statement(world, "SH-1", ago(12))
    exactly = _statement(world, "HZ-2", ago(10))
    fresh = _statement(world, "BJ-1", ago(9))
    login(client, channel["finance"])
    card = queue(main(client), "stale_statements")
    assert items(card, "data-statement") == [str(stale), str(exactly)]  # 9 days after issue: not yet
    assert ages(card) == ["12 d", "10 d"] and str(fresh) not in items(card, "data-statement")
    assert f'href="/statements/{stale}"' in card and "Statements unconfirmed after 10 days" in card

    from portal.statements.models import Statement

    world.run(lambda: setattr(db.session.get(Statement, stale), "status", "confirmed"))
    card = queue(main(client), "stale_statements")
    assert items(card, "data-statement") == [str(exactly)]


def test_unapplied_cash_holds_payments_not_fully_applied(client, world, channel):
    world.invoice("SH-1", amount="300.00", issued_on=today() - dt.timedelta(days=40))
    part = world.payment("SH-1", "500.00", received_on=today() - dt.timedelta(days=6), reference="BANK-PART")
    world.invoice("BJ-1", amount="800.00", issued_on=today() - dt.timedelta(days=40))
    world.payment("BJ-1", "800.00", received_on=today() - dt.timedelta(days=8), reference="BANK-FULL")
    none = world.payment("HZ-2", "100.00", received_on=today() - dt.timedelta(days=2), reference="BANK-NONE")
    login(client, channel["finance"])
    card = queue(main(client), "unapplied_cash")
    assert items(card, "data-entry") == [str(part), str(none)]  # the fully applied one is not waiting
    assert "200.00 of 500.00 CNY unapplied" in card and "100.00 of 100.00 CNY unapplied" in card
    assert ages(card) == ["6 d", "2 d"] and f'href="/entries/{part}"' in card


def test_dealers_on_hold_and_failed_jobs(client, world, channel):
    world.hold("BJ-1", "多次逾期", at=ago(9))
    world.hold("SH-1", "资料不全", at=ago(1, 3))
    recent = world.failed_job(channel["finance"], "payment_import", finished_at=ago(0, 5))
    older = world.failed_job(None, "overdue_scan", finished_at=ago(4))
    world.failed_job(None, "overdue_scan", finished_at=ago(15))  # failed too long ago: no longer waiting
    dealers_own = world.failed_job(channel["sh_staff"], "sell_through_import", finished_at=ago(1))
    world.job(channel["finance"])  # finished: nothing to do
    login(client, channel["finance"])
    html = main(client)
    holds = queue(html, "credit_holds")
    assert items(holds, "data-dealer") == ["BJ-1", "SH-1"] and ages(holds) == ["9 d", "1 d"]
    assert "多次逾期" in holds and 'href="/dealers/BJ-1/credit"' in holds
    jobs = queue(html, "failed_jobs")
    assert items(jobs, "data-job") == [older, recent] and ages(jobs) == ["4 d", "5 h"]
    assert dealers_own not in jobs  # a dealer's sell-through import is the dealer's business
    assert "started by fin" in jobs and "started by the schedule" in jobs and f'href="/jobs/{recent}"' in jobs
    client2 = client.application.test_client()
    login(client2, channel["admin"])
    admin_jobs = queue(main(client2), "failed_jobs")
    assert items(admin_jobs, "data-job") == [older, dealers_own, recent]  # every kind for the administrator


def test_finance_queue_order_and_friendly_empty_state(client, world, channel):
    login(client, channel["finance"])
    html = main(client)
    assert "data-queues-empty" in html and "Nothing is waiting for you." in html
    assert "Open disputes" in html and "Failed jobs" in html  # the all-clear names what was checked
    world.hold("SH-1", at=ago(2))
    html = main(client)
    assert "data-queues-empty" not in html and queue(html, "credit_holds")
    clear = re.search(r"data-queues-clear>(.*?)</p>", html, re.S).group(1)
    assert "Open disputes" in clear and "Dealers on credit hold" not in clear


def test_a_queue_shows_ten_items_its_total_and_a_link_to_all(client, world, channel):
    world.credit_limit("SH-1", "0")
    numbers = [_review(world, "SH-1", 1, ago(days=20 - n)) for n in range(13)]
    login(client, channel["cm"])
    card = queue(main(client), "approvals")
    assert items(card, "data-order") == numbers[:10] and total(card) == 13
    assert "3 more" in card and 'href="/approvals"' in card
    html = main(client, "/home/queues/approvals")
    assert re.findall(r'data-order="([^"]+)" data-queue-item', html) == numbers  # every one, oldest first


# ------------------------------------------------------------------ region manager


def test_region_manager_approves_within_its_limit_and_follows_the_rest(client, world, channel):
    world.credit_limit("SH-1", "5000")
    world.credit_limit("HZ-2", "0")
    within = _review(world, "SH-1", 10, ago(2))  # 11,300 − 5,000 = 6,300 over: within EA's 10,000
    beyond = _review(world, "HZ-2", 20, ago(4))  # 22,600 over: HQ only
    other_region = _review(world, "BJ-1", 1, ago(6))
    login(client, channel["rm_ea"])
    html = main(client)
    mine, hq = queue(html, "approvals"), queue(html, "waiting_for_hq")
    assert items(mine, "data-order") == [within] and ages(mine) == ["2 d"]
    assert "Orders awaiting your approval" in mine and "6,300.00 CNY over available credit" in mine
    assert items(hq, "data-order") == [beyond] and "22,600.00 CNY over available credit" in hq
    assert "Beyond your limit: waiting for HQ" in hq and f'href="/orders/{beyond}"' in hq
    assert other_region not in html and "北京一号" not in html


# ------------------------------------------------------------------ channel manager


def test_channel_manager_sees_approvals_backorders_and_built_units(client, world, channel):
    world.credit_limit("SH-1", "10000000")
    world.credit_limit("BJ-1", "10000000")
    world.credit_limit("HZ-2", "0")
    review = _review(world, "HZ-2", 1, ago(1))
    with freeze(ago(8)):
        first = world.order("BJ-1", [("B-1", 5)])  # 2 allocated, 3 wait
    with freeze(ago(3)):
        second = world.order("SH-1", [("B-1", 4)])  # all 4 wait
    promised = _promised(world, second)
    with freeze(ago(12)):
        cars = world.order("SH-1", [("CAR-1", 2)])
    serials = world.serials(cars)
    world.mes_events([{"event_id": f"done-{s}", "serial": s, "stage": "completed", "occurred_at": ago(2 + n)}
                      for n, s in enumerate(serials)])  # fmt: skip
    login(client, channel["cm"])
    html = main(client)
    assert items(queue(html, "approvals"), "data-order") == [review]
    back = queue(html, "backorders")
    assert items(back, "data-order") == [first, second] and ages(back) == ["8 d", "3 d"]
    assert "B-1 × 3 backordered" in back and "B-1 × 4 backordered" in back
    assert f"promised {promised.isoformat()}" in back and "BJ-1 北京一号" in plain(back)
    built = queue(html, "built_units")
    assert items(built, "data-order") == [cars] and ages(built) == ["3 d"]  # since the first unit was built
    assert "2 built unit(s)" in built and f'href="/orders/{cars}/ship"' in built


def test_hq_admin_sees_failed_jobs_approvals_and_holds(client, world, channel):
    world.hold("HZ-2", at=ago(3))
    review = _review(world, "BJ-1", 1, ago(1))
    login(client, channel["admin"])
    html = main(client)
    keys = re.findall(r'data-queue="([a-z_]+)"', html)
    assert keys == ["approvals", "credit_holds"]  # failed jobs: nothing waits there
    assert items(queue(html, "approvals"), "data-order") == [review]
    assert "Channel overview" in html  # then the overview as before


# ------------------------------------------------------------------ dealers


def test_dealer_admin_sees_statements_shipments_and_backorders_of_its_own(client, world, channel):
    world.credit_limit("SH-1", "10000000")
    world.credit_limit("BJ-1", "10000000")
    statement = _statement(world, "SH-1", ago(4))
    other_statement = _statement(world, "BJ-1", ago(4))
    with freeze(ago(6)):
        order = world.order("SH-1", [("P-1", 6), ("B-1", 5)])  # 3 of B-1 wait
        other = world.order("BJ-1", [("P-1", 6), ("B-1", 4)])
    with freeze(ago(5)):
        early = world.shipment(order, [("P-1", 2)])
        world.shipment(other, [("P-1", 2)])
    with freeze(ago(1)):
        late = world.shipment(order, [("P-1", 1)])
    promised = _promised(world, order)
    login(client, channel["sh_admin"])
    html = main(client)
    st = queue(html, "statements_to_confirm")
    assert items(st, "data-statement") == [str(statement)] and ages(st) == ["4 d"] and "data-statements" in html
    ships = queue(html, "shipments_to_receive")
    assert items(ships, "data-shipment") == [early, late] and ages(ships) == ["5 d", "1 d"]
    assert (
        f'href="/shipments/{early}"' in ships and "2 pieces" in ships and 'href="/shipments?status=in_transit"' in ships
    )
    back = queue(html, "backorders")
    assert items(back, "data-order") == [order] and "B-1 × 3 backordered" in back
    assert f"promised {promised.isoformat()}" in back and "上海一号" not in back
    assert other not in html and str(other_statement) not in items(st, "data-statement")

    client2 = client.application.test_client()
    login(client2, channel["sh_staff"])
    staff = main(client2)
    assert queue(staff, "statements_to_confirm") is None and "data-statements" not in staff
    assert items(queue(staff, "shipments_to_receive"), "data-shipment") == [early, late]
