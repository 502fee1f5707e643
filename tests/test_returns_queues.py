"""Returns and discrepancies in the work queues (§12, §13): the channel manager decides requested returns, receives
shipped-back ones and resolves open discrepancies; the dealer administrator ships approved returns back. Each item
links to where the action is done, oldest first."""

from __future__ import annotations

from tests.test_returns import ask, call, shop  # noqa: F401 (the fixture)


def queues(client, world, who) -> dict:
    resp = client.get("/api/v1/home/queues", headers=world.auth(who))
    assert resp.status_code == 200
    return {q["key"]: q for q in resp.get_json()["queues"]}


def test_each_step_lands_in_the_next_persons_queue(client, world, shop):  # noqa: F811
    first = ask(client, world, shop, [{"sku": "OIL-1", "quantity": 1}])["number"]
    second = ask(client, world, shop, [{"sku": "OIL-1", "quantity": 2}])["number"]
    to_decide = queues(client, world, "cm")["returns_to_decide"]
    assert to_decide["total"] == 2 and [i["key"] for i in to_decide["items"]] == [first, second]
    assert to_decide["items"][0]["link"] == f"/returns/{first}"
    call(client, world, "cm", f"/returns/{first}/approve")
    assert [i["key"] for i in queues(client, world, "sh.admin")["returns_to_ship"]["items"]] == [first]
    call(client, world, "sh.admin", f"/returns/{first}/ship-back")
    hq = queues(client, world, "cm")
    assert [i["key"] for i in hq["returns_to_receive"]["items"]] == [first]
    assert [i["key"] for i in hq["returns_to_decide"]["items"]] == [second]
    assert queues(client, world, "sh.admin")["returns_to_ship"]["total"] == 0
    # another dealer's administrator sees none of it
    assert queues(client, world, "xa.admin").get("returns_to_ship", {"total": 0})["total"] == 0
