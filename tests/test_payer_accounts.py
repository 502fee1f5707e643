"""Payer accounts (PRODUCT.md §14): finance registers them for any dealer, a dealer admin for its own; stored as
digits; an account number of another dealer is a conflict; deactivated accounts no longer match; scoped reads."""

from __future__ import annotations

import pytest

from portal.banking.models import PayerAccount


@pytest.fixture
def people(world):
    world.region("EAST")
    world.region("WEST")
    world.dealer("SH-1", "EAST")
    world.dealer("SH-2", "EAST")
    world.dealer("CD-1", "WEST")
    for role, name, attached in (
        ("finance", "fin", {}),
        ("dealer_admin", "adm1", {"dealer": "SH-1"}),
        ("dealer_staff", "staff1", {"dealer": "SH-1"}),
        ("dealer_admin", "adm2", {"dealer": "SH-2"}),
        ("region_manager", "rm.west", {"region": "WEST"}),
        ("region_manager", "rm.east", {"region": "EAST"}),
        ("channel_manager", "cm", {}),
    ):
        world.user(role, username=name, **attached)
    return {name: world.auth(name) for name in ("fin", "adm1", "staff1", "adm2", "rm.west", "rm.east", "cm")}


def post(client, who, dealer, number, name="某公司"):
    return client.post(
        f"/api/v1/dealers/{dealer}/payer-accounts", json={"account_number": number, "account_name": name}, headers=who
    )


def test_finance_and_the_dealers_admin_register_accounts_stored_as_digits(client, people, world):
    resp = post(client, people["fin"], "SH-1", "6222 0210-0100 1234", "上海甲")
    assert resp.status_code == 201
    assert resp.get_json() | {"created_at": None} == {"account_number": "6222021001001234", "account_name": "上海甲",
                                                      "active": True, "dealer_code": "SH-1", "created_by": "fin",
                                                      "created_at": None}  # fmt: skip
    assert post(client, people["adm1"], "SH-1", "6222000000000001").status_code == 201
    listed = client.get("/api/v1/dealers/SH-1/payer-accounts", headers=people["adm1"]).get_json()["items"]
    assert [a["account_number"] for a in listed] == ["6222021001001234", "6222000000000001"]


def test_another_dealers_account_number_is_a_conflict(client, people, world):
    assert post(client, people["fin"], "SH-1", "6222021001001234").status_code == 201
    resp = post(client, people["adm2"], "SH-2", "6222-0210-0100-1234")
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "payer_account_taken"
    client.post("/api/v1/dealers/SH-1/payer-accounts/deactivate", json={"account_number": "6222021001001234"},
                headers=people["fin"])  # fmt: skip
    assert post(client, people["fin"], "SH-2", "6222021001001234").status_code == 409  # inactive: still SH-1's
    assert world.get(PayerAccount, account_number="6222021001001234")["dealer_id"] is not None
    assert world.count(PayerAccount) == 1


def test_registering_again_reactivates_with_the_new_name(client, people, world):
    post(client, people["adm1"], "SH-1", "6222000000000001", "旧名")
    resp = client.post("/api/v1/dealers/SH-1/payer-accounts/deactivate", json={"account_number": "6222000000000001"},
                       headers=people["adm1"])  # fmt: skip
    assert resp.status_code == 200 and resp.get_json()["active"] is False
    again = post(client, people["adm1"], "SH-1", "6222000000000001", "新名")
    assert again.status_code == 201 and again.get_json()["active"] is True
    assert again.get_json()["account_name"] == "新名"
    assert world.count(PayerAccount) == 1


@pytest.mark.parametrize(
    "body,field",
    [
        ({"account_number": "12-34", "account_name": "x"}, "account_number"),
        ({"account_number": "62220000000001", "account_name": "  "}, "account_name"),
        ({"account_number": "62220000000001"}, "account_name"),
        ({"account_number": "62220000000001", "account_name": "x", "extra": 1}, "extra"),
    ],
)
def test_bad_input_is_refused_whole(client, people, world, body, field):
    resp = client.post("/api/v1/dealers/SH-1/payer-accounts", json=body, headers=people["fin"])
    assert resp.status_code == 422 and field in resp.get_json()["error"]["fields"]
    assert world.count(PayerAccount) == 0


def test_deactivating_an_account_the_dealer_does_not_hold_is_refused(client, people, world):
    post(client, people["fin"], "SH-2", "6222000000000002")
    resp = client.post("/api/v1/dealers/SH-1/payer-accounts/deactivate", json={"account_number": "6222000000000002"},
                       headers=people["fin"])  # fmt: skip
    assert resp.status_code == 422 and world.get(PayerAccount, account_number="6222000000000002")["active"] is True


def test_scope(client, people, world):
    post(client, people["fin"], "SH-1", "6222000000000001")
    # another dealer's admin, a region manager of another region: the dealer does not exist for them
    assert post(client, people["adm2"], "SH-1", "6222000000000009").status_code == 404
    assert client.get("/api/v1/dealers/SH-1/payer-accounts", headers=people["adm2"]).status_code == 404
    assert client.get("/api/v1/dealers/SH-1/payer-accounts", headers=people["rm.west"]).status_code == 404
    # reading: the region's manager and HQ; writing: finance and the dealer's admin only
    assert client.get("/api/v1/dealers/SH-1/payer-accounts", headers=people["rm.east"]).status_code == 200
    assert client.get("/api/v1/dealers/SH-1/payer-accounts", headers=people["cm"]).status_code == 200
    assert client.get("/api/v1/dealers/SH-1/payer-accounts", headers=people["staff1"]).status_code == 403
    for who in ("staff1", "rm.east", "cm"):
        assert post(client, people[who], "SH-1", "6222000000000009").status_code == 403
    assert world.count(PayerAccount) == 1


def test_the_page_registers_lists_and_deactivates(client, people, world):
    from tests.conftest import login, page_csrf

    login(client, "adm1")
    csrf = page_csrf(client, "/dealers/SH-1/payer-accounts")
    resp = client.post("/dealers/SH-1/payer-accounts", data={"csrf_token": csrf, "action": "register",
                                                             "account_number": "6222 0000 0000 0001",
                                                             "account_name": "上海甲"})  # fmt: skip
    assert resp.status_code == 302
    page = client.get("/dealers/SH-1/payer-accounts").get_data(as_text=True)
    assert "6222000000000001" in page and "上海甲" in page and "Deactivate" in page
    resp = client.post("/dealers/SH-1/payer-accounts", data={"csrf_token": csrf, "action": "register",
                                                             "account_number": "12", "account_name": "x"})  # fmt: skip
    assert resp.status_code == 422 and "6 to 40 digits" in resp.get_data(as_text=True)
    resp = client.post("/dealers/SH-1/payer-accounts", data={"csrf_token": csrf, "action": "deactivate",
                                                             "account_number": "6222000000000001"})  # fmt: skip
    assert resp.status_code == 302 and world.get(PayerAccount, account_number="6222000000000001")["active"] is False
    assert client.get("/dealers/SH-2/payer-accounts").status_code == 404
    assert "data-payer-accounts-link" in client.get("/dealers/SH-1/credit").get_data(as_text=True)
