"""Opening a notification marks it read and takes the reader to its page: from the notification list, the bell's menu
and the dealer's home. Only the owner's (another user's answers 404 like a missing one, and stays unread); only a
link inside the portal is followed (no open redirect)."""

from __future__ import annotations

import pytest

from portal.notify.models import Notification
from portal.notify.views import safe_link
from tests.conftest import login


@pytest.fixture
def people(world):
    world.region("EA")
    world.dealer("SH-1", "EA")
    return {
        "owner": world.user("dealer_admin", dealer="SH-1", username="owner"),
        "other": world.user("dealer_admin", dealer="SH-1", username="other"),
    }


def test_opening_marks_read_and_redirects_to_its_link(client, world, people):
    note = world.notification("owner", link="/orders?status=approved", title="订单已审批")
    login(client, "owner")
    listing = client.get("/notifications").get_data(as_text=True)
    assert f'href="/notifications/{note}/open"' in listing and "data-unread" in listing
    resp = client.get(f"/notifications/{note}/open")
    assert resp.status_code == 302 and resp.headers["Location"] == "/orders?status=approved"
    assert world.get(Notification, id=note)["read_at"] is not None
    assert "data-unread" not in client.get("/notifications").get_data(as_text=True)
    again = client.get(f"/notifications/{note}/open")  # opened again: still read, same page, read time kept
    assert again.headers["Location"] == "/orders?status=approved"


def test_the_bell_menu_and_the_dealer_home_open_through_the_same_route(client, world, people):
    first = world.notification("owner", link="/statements", title="对账单已出")
    second = world.notification("owner", link="/orders", title="订单已发运")
    login(client, "owner")
    home = client.get("/home").get_data(as_text=True)
    bell = home.split("data-bell-menu", 1)[1].split("</ul>", 1)[0]
    assert f'href="/notifications/{first}/open"' in bell and f'href="/notifications/{second}/open"' in bell
    assert "data-bell-all" in bell
    main = home.split("<main", 1)[1]
    assert f'href="/notifications/{first}/open"' in main  # the home page's notices
    client.get(f"/notifications/{first}/open")
    bell = client.get("/home").get_data(as_text=True).split("data-bell-menu", 1)[1].split("</ul>", 1)[0]
    assert f"/notifications/{first}/open" not in bell and f"/notifications/{second}/open" in bell  # unread only
    client.get(f"/notifications/{second}/open")
    bell = client.get("/home").get_data(as_text=True).split("data-bell-menu", 1)[1].split("</ul>", 1)[0]
    assert "No unread notifications." in bell


def test_another_users_notification_answers_404_and_stays_unread(client, world, people):
    theirs = world.notification("other", link="/orders")
    login(client, "owner")
    resp = client.get(f"/notifications/{theirs}/open")
    missing = client.get("/notifications/987654/open")
    assert resp.status_code == missing.status_code == 404
    assert resp.get_data(as_text=True) == missing.get_data(as_text=True).replace("987654", str(theirs))
    assert world.get(Notification, id=theirs)["read_at"] is None


@pytest.mark.parametrize(
    "link",
    [
        "https://evil.example/phish",
        "//evil.example/phish",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
        "/orders\r\nLocation: https://evil.example",
        "",
        None,
    ],
)
def test_only_links_inside_the_portal_are_followed(client, world, people, link):
    note = world.notification("owner", link=link)
    login(client, "owner")
    resp = client.get(f"/notifications/{note}/open")
    assert resp.status_code == 302 and resp.headers["Location"] == "/notifications"
    assert world.get(Notification, id=note)["read_at"] is not None


def test_safe_link():
    assert safe_link("/statements/12#dispute-3") == "/statements/12#dispute-3"
    assert safe_link("/jobs/abc?x=1") == "/jobs/abc?x=1"
    for bad in ("//x.example", "https://x.example", "/\\x.example", "x/y", "/a\tb", "mailto:x@y"):
        assert safe_link(bad) is None, bad


def test_logged_out_opening_asks_to_log_in(client, world, people):
    note = world.notification("owner", link="/orders")
    resp = client.get(f"/notifications/{note}/open")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert world.get(Notification, id=note)["read_at"] is None
