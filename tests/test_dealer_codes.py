"""Dealer and region codes are unique regardless of case (ok-002 beside OK-002 was possible): a case variant is refused
like any duplicate (API and browser 422, the database's unique index, a concurrent create 409), codes are kept as they
were given, and a code in any case finds its dealer or region, inside the caller's scope only."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from portal.dealers.models import Dealer, Region
from portal.extensions import db
from tests.conftest import login, page_csrf

DEALER = {"code": "OK-002", "name": "欧凯汽车", "region_code": "EAST", "tier": "B", "channel_type": "chain"}


@pytest.fixture
def hq(world) -> dict:
    world.region("EAST")
    return world.auth(world.user("channel_manager"))


def test_the_api_refuses_a_case_variant_of_an_existing_code(client, world, hq):
    assert client.post("/api/v1/dealers", json=DEALER, headers=hq).status_code == 201
    resp = client.post("/api/v1/dealers", json={**DEALER, "code": "ok-002", "name": "另一家"}, headers=hq)
    assert resp.status_code == 422
    assert resp.get_json()["error"]["fields"] == {"code": ["Dealer OK-002 already exists."]}
    assert world.count(Dealer) == 1 and world.get(Dealer, code="OK-002")["name"] == "欧凯汽车"

    admin = world.auth(world.user("hq_admin"))
    resp = client.post("/api/v1/regions", json={"code": "east", "name": "东"}, headers=admin)
    assert resp.status_code == 422
    assert resp.get_json()["error"]["fields"] == {"code": ["Region EAST already exists."]}
    assert world.count(Region) == 1


def test_the_browser_form_refuses_it_too(client, world, hq):
    world.dealer("OK-002", "EAST")
    login(client, world.user("channel_manager"))
    form = {**DEALER, "code": "ok-002", "payment_terms_days": "30", "status": "active",
            "csrf_token": page_csrf(client, "/dealers/new")}  # fmt: skip
    resp = client.post("/dealers/new", data=form)
    assert resp.status_code == 422 and "Dealer OK-002 already exists." in resp.get_data(as_text=True)
    assert world.count(Dealer) == 1


def test_the_database_refuses_it_whoever_writes(world):
    world.region("EAST")
    world.dealer("OK-002", "EAST")
    with pytest.raises(IntegrityError):
        world.dealer("ok-002", "EAST")
    with pytest.raises(IntegrityError):
        world.region("east")
    assert world.count(Dealer) == 1 and world.count(Region) == 1


def test_the_upgrade_stops_on_existing_case_variants_and_names_them(app, world):
    """Variants made before the migration name different dealers: `flask db upgrade` refuses to guess and names them,
    people rename one, the upgrade then goes through."""
    from alembic import command
    from flask_migrate import downgrade, upgrade

    world.region("EAST")
    world.dealer("OK-002", "EAST")
    with app.app_context():
        downgrade(revision="0010")
    try:
        with app.app_context():  # the table as revision 0010 has it (the model has later columns)
            t = Dealer.__table__.c
            old = db.session.execute(select(t.region_id, t.tier, t.channel_type).where(t.code == "OK-002")).one()
            db.session.execute(insert(Dealer.__table__).values(
                code="ok-002", name="Variant", region_id=old.region_id, tier=old.tier, channel_type=old.channel_type,
                payment_terms_days=30, status="active", created_at=dt.datetime.now(dt.UTC)))  # fmt: skip
            db.session.commit()
        with app.app_context(), pytest.raises(RuntimeError, match="differ only in case") as refused:
            command.upgrade(app.extensions["migrate"].migrate.get_config(), "head")  # what `flask db upgrade` runs
        assert sorted(str(refused.value).split("dealers: ")[1].split(", ")) == ["OK-002", "ok-002"]
    finally:
        world.run(lambda: db.session.execute(delete(Dealer).where(Dealer.__table__.c.code == "ok-002")))
        with app.app_context():
            upgrade()
    with pytest.raises(IntegrityError):
        world.dealer("ok-002", "EAST")


def test_codes_are_kept_as_given_and_found_in_any_case(client, world, hq):
    created = client.post("/api/v1/dealers", json={**DEALER, "code": "Ok-002"}, headers=hq).get_json()
    assert created["code"] == "Ok-002"
    world.credit_limit("Ok-002", "1000.00")
    for url in ("/api/v1/dealers/ok-002", "/api/v1/dealers/OK-002", "/api/v1/dealers/ok-002/credit"):
        resp = client.get(url, headers=hq)
        assert resp.status_code == 200, url
    assert client.get("/api/v1/dealers/ok-002", headers=hq).get_json()["code"] == "Ok-002"
    assert client.get("/api/v1/regions/east", headers=world.auth(world.user("hq_admin"))).get_json()["code"] == "EAST"
    listed = client.get("/api/v1/dealers?region=east", headers=hq).get_json()["items"]
    assert [d["code"] for d in listed] == ["Ok-002"]

    login(client, world.user("channel_manager"))
    page = client.get("/dealers/OK-002")
    assert page.status_code == 200 and "Ok-002" in page.get_data(as_text=True)


def test_another_dealers_code_in_any_case_is_still_a_404(client, world):
    world.region("EAST")
    world.dealer("OK-002", "EAST")
    staff = world.auth(world.user("dealer_staff", dealer=world.dealer("OK-003", "EAST")))
    assert client.get("/api/v1/dealers/ok-003", headers=staff).status_code == 200
    for code in ("OK-002", "ok-002", "NOPE"):
        assert client.get(f"/api/v1/dealers/{code}", headers=staff).status_code == 404


@pytest.mark.postgres
def test_racing_creates_of_two_case_variants_store_one_dealer(app, world, hq, is_postgres, monkeypatch):
    if not is_postgres:
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL)")
    from portal.dealers import services

    barrier = threading.Barrier(2)
    original = services.region_by_code

    def slow_region_by_code(*args, **kwargs):
        region = original(*args, **kwargs)
        barrier.wait(timeout=5)  # both requests pass the duplicate check before either inserts
        return region

    monkeypatch.setattr(services, "region_by_code", slow_region_by_code)
    results: list[tuple[int, dict]] = []

    def create(code: str) -> None:
        resp = app.test_client().post("/api/v1/dealers", json={**DEALER, "code": code}, headers=hq)
        results.append((resp.status_code, resp.get_json()))

    threads = [threading.Thread(target=create, args=(code,)) for code in ("OK-002", "ok-002")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(status for status, _body in results) == [201, 409], results
    assert next(body for status, body in results if status == 409)["error"]["code"] == "conflict"
    assert world.count(Dealer) == 1
