"""The work queues of §14 (PRODUCT.md §12): finance sees payment notices to match, unmatched bank receipts and
credit increase requests beyond the regions' limits; a region manager sees its region's requests within its limit and
its dealers' broken payment promises — oldest first, scoped, each one click from where it is handled."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from portal.extensions import db
from portal.platform.timeutil import freeze, today
from tests.conftest import login
from tests.test_work_queues import NOW, ago, items, main, plain, queue, total


@pytest.fixture
def channel(world):
    world.region("CN")
    world.region("EA", parent="CN", name="华东", approval_limit="10000")
    world.region("NO", parent="CN", name="华北", approval_limit="10000")
    world.dealer("SH-1", "EA", name="上海一号")
    world.dealer("BJ-1", "NO", name="北京一号")
    return {
        "finance": world.user("finance", username="fin"),
        "rm_ea": world.user("region_manager", region="EA", username="rm.ea"),
        "sh_admin": world.user("dealer_admin", dealer="SH-1", username="sh.admin"),
    }


def _request(world, dealer: str, amount: str, at: dt.datetime) -> int:
    from portal.credit import requests

    with freeze(at):
        return world._in_request(lambda: requests.create_request(
            None, world._dealer_obj(dealer), amount=Decimal(amount), valid_until=today() + dt.timedelta(days=20),
            reason="旺季备货").id)  # fmt: skip


def _notice(world, dealer: str, reference: str, at: dt.datetime) -> int:
    from portal.credit import notices

    with freeze(at):
        return world._in_request(lambda: notices.send_notice(
            None, world._dealer_obj(dealer), amount=Decimal("8800.00"), paid_on=today(), reference=reference).id)


def _receipt(world, serial: str, on: dt.date) -> int:
    from portal.banking.models import UnmatchedReceipt

    def make():
        row = UnmatchedReceipt(bank="icbc", serial=serial, received_on=on, amount=Decimal("1234.50"),
                               payer_account="6222020000000001", payer_name="无名贸易")  # fmt: skip
        db.session.add(row)
        db.session.flush()
        return row.id

    return world.run(make)


def _broken_promise(world, dealer: str, promised_on: dt.date, settled_at: dt.datetime) -> int:
    from portal.collections.models import PromiseToPay

    def make():
        row = PromiseToPay(dealer_id=world._dealer_obj(dealer).id, amount=Decimal("5000.00"), promised_on=promised_on,
                           status="broken", settled_at=settled_at, created_by="fin")  # fmt: skip
        db.session.add(row)
        db.session.flush()
        return row.id

    return world.run(make)


def test_finance_sees_notices_receipts_and_requests_beyond_the_regions_oldest_first(client, world, channel):
    late = _notice(world, "SH-1", "PN-2", ago(1))
    early = _notice(world, "BJ-1", "PN-1", ago(3))
    old = _receipt(world, "BK-OLD", NOW.date() - dt.timedelta(days=4))
    new = _receipt(world, "BK-NEW", NOW.date() - dt.timedelta(days=1))
    big = _request(world, "SH-1", "50000", ago(2))  # beyond EA's 10,000: finance decides
    _request(world, "SH-1", "5000", ago(2))  # within: the region's
    login(client, channel["finance"])
    html = main(client)
    notices = queue(html, "payment_notices")
    assert items(notices, "data-notice") == [str(early), str(late)]
    assert "8,800.00" in plain(notices) and f"/payment-notices/{early}" in notices
    receipts = queue(html, "unmatched_receipts")
    assert items(receipts, "data-receipt") == [str(old), str(new)]
    assert f"#receipt-{old}" in receipts and "1,234.50" in plain(receipts)
    requests = queue(html, "credit_requests")
    assert items(requests, "data-request") == [str(big)] and total(requests) == 1
    assert f"#request-{big}" in requests


def test_a_matched_notice_and_a_decided_receipt_leave_the_queue(client, world, channel):
    from portal.banking.models import UnmatchedReceipt

    notice = _notice(world, "SH-1", "PN-9", ago(1))
    receipt = _receipt(world, "BK-9", NOW.date())
    world.payment("SH-1", amount="8800.00", reference="PN-9")  # the payment arrives: the notice is matched
    world.run(lambda: setattr(db.session.get(UnmatchedReceipt, receipt), "status", "dismissed"))
    login(client, channel["finance"])
    html = main(client)
    assert queue(html, "payment_notices") is None and queue(html, "unmatched_receipts") is None
    assert notice


def test_a_region_manager_sees_its_requests_and_broken_promises_only(client, world, channel):
    mine = _request(world, "SH-1", "5000", ago(1))
    _request(world, "SH-1", "50000", ago(1))  # finance's
    _request(world, "BJ-1", "5000", ago(1))  # another region's
    broken = _broken_promise(world, "SH-1", NOW.date() - dt.timedelta(days=3), ago(2))
    _broken_promise(world, "BJ-1", NOW.date() - dt.timedelta(days=3), ago(2))
    login(client, channel["rm_ea"])
    html = main(client)
    assert items(queue(html, "credit_requests"), "data-request") == [str(mine)]
    promises = queue(html, "broken_promises")
    assert items(promises, "data-promise") == [str(broken)]
    assert "/collections/SH-1" in promises and "5,000.00" in plain(promises)


def test_a_broken_promise_followed_by_a_new_one_waits_no_more(client, world, channel):
    from portal.collections.models import PromiseToPay

    _broken_promise(world, "SH-1", NOW.date() - dt.timedelta(days=3), ago(2))

    def promise_again():
        db.session.add(PromiseToPay(dealer_id=world._dealer_obj("SH-1").id, amount=Decimal("5000.00"),
                                    promised_on=NOW.date() + dt.timedelta(days=5), created_by="rm.ea"))  # fmt: skip

    world.run(promise_again)
    login(client, channel["rm_ea"])
    assert queue(main(client), "broken_promises") is None


def test_dealers_have_none_of_these_queues(client, world, channel):
    _notice(world, "SH-1", "PN-1", ago(1))
    login(client, channel["sh_admin"])
    html = main(client)
    assert queue(html, "payment_notices") is None and queue(html, "credit_requests") is None
