"""A dealer's ship-to addresses (收货地址): one default per dealer, kept by the service.

The first address becomes the default; making another one the default takes it from the previous one; the default
cannot be switched off (another one is made the default instead); removing the default hands it to the oldest
remaining address. Removed addresses are kept, inactive, for the orders that were sent there.
"""

from __future__ import annotations

import pytest

from portal.dealers.models import DealerAddress
from tests.conftest import login, page_csrf

ADDRESS = {"label": "展厅", "address": "上海市浦东新区世纪大道1号", "recipient": "张强", "phone": "021-6234 5678"}


@pytest.fixture
def people(world):
    world.region("SH")
    world.dealer("SH-001", "SH")
    world.dealer("SH-002", "SH")
    return {
        "admin": world.user("dealer_admin", dealer="SH-001", username="sh001.admin"),
        "staff": world.user("dealer_staff", dealer="SH-001", username="sh001.staff"),
        "cm": world.user("channel_manager", username="cm.zhou"),
        "rm": world.user("region_manager", region="SH", username="rm.sh"),
    }


def defaults(world, dealer_id: int | None = None) -> list[str]:
    def read():
        rows = DealerAddress.query.filter_by(is_default=True)
        if dealer_id is not None:
            rows = rows.filter_by(dealer_id=dealer_id)
        return sorted(a.label for a in rows)

    return world.run(read)


def test_the_first_address_is_the_default_and_one_default_stays(client, world, people):
    auth = world.auth(people["admin"])
    first = client.post("/api/v1/dealers/SH-001/addresses", json=ADDRESS, headers=auth)
    assert first.status_code == 201 and first.get_json()["is_default"] is True
    second = client.post("/api/v1/dealers/SH-001/addresses", json={**ADDRESS, "label": "仓库"}, headers=auth)
    assert second.get_json()["is_default"] is False
    third = client.post(
        "/api/v1/dealers/SH-001/addresses", json={**ADDRESS, "label": "售后", "is_default": True}, headers=auth
    )
    assert third.get_json()["is_default"] is True
    assert defaults(world) == ["售后"]
    listed = client.get("/api/v1/dealers/SH-001/addresses", headers=world.auth(people["staff"])).get_json()
    assert [a["label"] for a in listed] == ["售后", "仓库", "展厅"]  # the default first

    made_default = client.patch(
        f"/api/v1/dealers/SH-001/addresses/{second.get_json()['id']}", json={"is_default": True}, headers=auth
    )
    assert made_default.status_code == 200 and defaults(world) == ["仓库"]


def test_the_default_cannot_be_switched_off_only_replaced(client, world, people):
    only = world.address("SH-001", "展厅")
    auth = world.auth(people["cm"])
    before = world.snapshot()
    resp = client.patch(
        f"/api/v1/dealers/SH-001/addresses/{only}", json={"is_default": False, "label": "新展厅"}, headers=auth
    )
    assert resp.status_code == 422 and "is_default" in resp.get_json()["error"]["fields"]
    assert world.snapshot() == before  # the label was not changed either: nothing half-written


def test_removing_the_default_hands_it_to_the_oldest_remaining_one(client, world, people):
    first = world.address("SH-001", "展厅")
    world.address("SH-001", "仓库")
    world.address("SH-001", "售后")
    world.address("SH-002", "总店")  # another dealer's default is untouched
    auth = world.auth(people["admin"])
    assert client.delete(f"/api/v1/dealers/SH-001/addresses/{first}", headers=auth).status_code == 200
    assert defaults(world) == ["仓库", "总店"]
    removed = world.get(DealerAddress, id=first)
    assert removed["active"] is False and removed["is_default"] is False  # kept for the orders sent there
    listed = client.get("/api/v1/dealers/SH-001/addresses", headers=auth).get_json()
    assert [a["label"] for a in listed] == ["仓库", "售后"]
    assert (
        client.patch(f"/api/v1/dealers/SH-001/addresses/{first}", json={"label": "x"}, headers=auth).status_code == 404
    )


def test_removing_the_last_address_leaves_none(client, world, people):
    only = world.address("SH-001", "展厅")
    assert (
        client.delete(f"/api/v1/dealers/SH-001/addresses/{only}", headers=world.auth(people["admin"])).status_code
        == 200
    )
    assert defaults(world) == []
    again = world.address("SH-001", "新展厅")
    assert world.get(DealerAddress, id=again)["is_default"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**ADDRESS, "label": ""}, "label"),
        ({**ADDRESS, "address": "   "}, "address"),
        ({**ADDRESS, "address": "x" * 301}, "address"),
        ({**ADDRESS, "phone": "n/a"}, "phone"),
        ({**ADDRESS, "is_default": "yes"}, "is_default"),
        ({"label": "仓库"}, "address"),
    ],
)
def test_bad_addresses_are_refused_whole(client, world, people, body, field):
    world.address("SH-001", "展厅")
    auth = world.auth(people["cm"])
    before = world.snapshot()
    resp = client.post("/api/v1/dealers/SH-001/addresses", json=body, headers=auth)
    assert resp.status_code == 422 and field in resp.get_json()["error"]["fields"]
    assert world.snapshot() == before


def test_roles_and_tenancy(client, world, people):
    ours, theirs = world.address("SH-001", "展厅"), world.address("SH-002", "总店")
    for who in ("staff", "rm"):
        auth = world.auth(people[who])
        assert client.post("/api/v1/dealers/SH-001/addresses", json=ADDRESS, headers=auth).status_code == 403
        assert client.delete(f"/api/v1/dealers/SH-001/addresses/{ours}", headers=auth).status_code == 403
    auth = world.auth(people["admin"])
    assert (
        client.patch(f"/api/v1/dealers/SH-001/addresses/{theirs}", json={"is_default": True}, headers=auth).status_code
        == 404
    )
    assert client.get("/api/v1/dealers/SH-002/addresses", headers=auth).status_code == 404
    assert defaults(world) == ["展厅", "总店"]


def test_the_overview_adds_and_switches_the_default(client, world, people):
    world.address("SH-001", "展厅")
    login(client, people["admin"])
    csrf = page_csrf(client, "/dealers/SH-001")
    bad = client.post(
        "/dealers/SH-001/addresses", data={"csrf_token": csrf, "address-label": "仓库", "address-address": ""}
    )
    assert bad.status_code == 422 and world.count(DealerAddress) == 1
    good = client.post(
        "/dealers/SH-001/addresses",
        data={
            "csrf_token": csrf,
            "address-label": "仓库",
            "address-address": "上海市嘉定区安亭镇2号",
            "address-is_default": "y",
        },
    )
    assert good.status_code == 302 and defaults(world) == ["仓库"]
    showroom = world.get(DealerAddress, label="展厅")["id"]
    switched = client.post(f"/dealers/SH-001/addresses/{showroom}/default", data={"csrf_token": csrf})
    assert switched.status_code == 302 and defaults(world) == ["展厅"]
    edit = client.post(
        f"/dealers/SH-001/addresses/{showroom}/edit",
        data={"csrf_token": csrf, "label": "旗舰展厅", "address": "上海市浦东新区世纪大道1号"},
    )
    assert edit.status_code == 302 and defaults(world) == ["旗舰展厅"]  # an unticked box keeps the default
    removed = client.post(f"/dealers/SH-001/addresses/{showroom}/delete", data={"csrf_token": csrf})
    assert removed.status_code == 302 and defaults(world) == ["仓库"]
