"""Tenancy over every route, including routes nobody has written yet.

The test walks `app.url_map`. Each route whose URL carries an identifier must say what it points at
(`@tenant_route(kind)`) or why it points at nothing dealer-owned (`@not_tenant_route(reason)`). For each
kind, an object is made that belongs to dealer A in region A; users of another dealer and of another
region then call the route with every method. The answer must be exactly the answer for a missing
object (404, or 403 where the caller's role may not use the route at all), and the database must not
change. A route that cannot be classified fails the test until someone classifies it.
"""

from __future__ import annotations

import pytest
from flask import Flask

from portal.platform.auth import role_can
from portal.platform.tenancy import route_classification, routes_with_identifiers, unclassified_routes
from tests.conftest import login, page_csrf

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


@pytest.fixture
def channel(world):
    """Region A (with a sub-region) holding dealer A; region B holding dealer B; outsiders of B."""
    world.region("RA")
    world.region("RA1", parent="RA")
    world.region("RB")
    world.dealer("DA", "RA1", name="甲经销商")
    world.dealer("DB", "RB", name="乙经销商")
    invoice = world.invoice("DA", "INV-A-1", "800.00")
    world.product("P-1")
    world.stock("P-1", 10)
    world.credit_limit("DA", "100000")
    order = world.order("DA", [("P-1", 3)])
    shipment = world.shipment(order, [("P-1", 1)])
    payment = world.payment("DA", "300.00", reference="BANK-A-1")
    insider = world.user("dealer_staff", dealer="DA", username="insider.staff")
    statement = world.statement("DA", "2026-01")  # INV-A-1 and BANK-A-1 are dated in January 2026
    ret, discrepancy = _return_and_discrepancy(world, order)
    return {
        "insider_user": insider,
        "invoice": invoice,
        "order": order,
        "shipment": shipment,
        "payment": payment,
        "application": world.application_of(payment),
        "job": world.job(insider),
        "statement": statement,
        "dispute": _dispute(world, statement),
        "rebate": world.rebate_programme("RB-A", scope="dealer:DA"),  # active, covering the insider dealer only
        "contact": world.contact("DA"),  # a contact and a ship-to address of the insider dealer (its overview)
        "address": world.address("DA"),
        "credit_request": _credit_request(world),  # §14: a pending increase request and a payment notice of DA
        "payment_notice": _payment_notice(world),
        "return": ret,  # §13: a return of the insider dealer and a delivery discrepancy declared at a receipt
        "discrepancy": discrepancy,
        "outsiders": {
            "dealer_admin of another dealer": world.user("dealer_admin", dealer="DB", username="other.dealer"),
            "region_manager of another region": world.user("region_manager", region="RB", username="other.region"),
            # §16: another distributor's sub-dealer
            "dealer_admin of another dealer's sub-dealer": _sub_dealer_admin(world, "DB", "DB-S1", "other.sub"),
        },
        # §16: the insider dealer's own sub-dealer: buys from it, may see its name as its seller, never its objects
        "relatives": {
            "dealer_admin of the dealer's sub-dealer": _sub_dealer_admin(world, "DA", "DA-S1", "child.sub"),
        },
        "price_list": _seller_price_list(world, "DA"),  # the insider dealer's list for its sub-dealers
        "target": _target(world, "DA"),  # §15: the insider dealer's target (its lists and exports leak nothing)
    }


def _target(world, dealer: str) -> None:
    import datetime as dt
    from decimal import Decimal

    from portal.extensions import db
    from portal.targets.models import Target

    world.run(lambda: db.session.add(Target(month=dt.date(2026, 1, 1), dealer_id=world._dealer_obj(dealer).id,
                                            measure="sell_in_amount", amount=Decimal("4321.00"), updated_by="t")))


def _seller_price_list(world, seller: str) -> int:
    from decimal import Decimal

    from portal.catalog import services

    data = {"name": f"{seller} 二级价格", "scope": "all", "priority": 0,
            "rules": [{"sku": "P-1", "unit_price": Decimal("1")}]}  # fmt: skip
    return world._in_request(lambda: services.save_price_list(None, data, seller=world._dealer_obj(seller)).id)


def _sub_dealer_admin(world, parent: str, code: str, username: str) -> str:
    world.sub_dealer(parent, code, name=f"{code} 二级经销商")
    return world.user("dealer_admin", dealer=code, username=username)


def _credit_request(world) -> int:
    import datetime as dt
    from decimal import Decimal

    from portal.credit import requests
    from portal.platform.timeutil import today

    until = today() + dt.timedelta(days=30)
    return world._in_request(lambda: requests.create_request(
        None, world._dealer_obj("DA"), amount=Decimal("5000"), valid_until=until, reason="旺季").id)


def _payment_notice(world) -> int:
    import datetime as dt
    from decimal import Decimal

    from portal.credit import notices

    return world._in_request(lambda: notices.send_notice(
        None, world._dealer_obj("DA"), amount=Decimal("300"), paid_on=dt.date(2026, 1, 20), reference="PN-A-1").id)


def _return_and_discrepancy(world, order: str) -> tuple[str, str]:
    """The rest of the order (2 × P-1) shipped and received with one declared short (a discrepancy), the other one
    asked back (a return); (return number, discrepancy number)."""
    from portal.extensions import db
    from portal.returns import services as returns
    from portal.shipping import services as shipping
    from portal.shipping.models import Shipment

    number = world.shipment(order, [("P-1", 2)])

    def make():
        shipment = db.session.query(Shipment).filter_by(number=number).one()
        shipping.receive(None, shipment, discrepancies=[{"sku": "P-1", "quantity": 1, "kind": "short"}])
        ret = returns.request_return(None, world._dealer_obj("DA"), shipment_number=number,
                                     lines=[{"sku": "P-1", "quantity": 1}], reason="damaged")  # fmt: skip
        (claim,) = returns_of(shipment)
        return ret.number, claim

    def returns_of(shipment):
        from portal.returns.models import DeliveryDiscrepancy

        return [d.number for d in db.session.query(DeliveryDiscrepancy).filter_by(shipment_id=shipment.id)]

    return world._in_request(make)


def _dispute(world, statement_id: int) -> int:
    """An open dispute of the insider dealer on the first line of its statement."""
    from portal.extensions import db
    from portal.statements import services
    from portal.statements.models import Statement

    line_id = world.statement_lines(statement_id)[0]

    def make():
        statement = db.session.get(Statement, statement_id)
        return services.dispute(None, statement, [line_id], "not our invoice").id

    return world._in_request(make)


# What each kind's identifier is for the insider object, and for an object that does not exist.
KIND_ARGS = {
    "dealer": (
        lambda ch: {"code": "DA", "dealer": "DA", "contact_id": ch["contact"], "address_id": ch["address"]},
        {"code": "NO-SUCH", "dealer": "NO-SUCH", "contact_id": 987654, "address_id": 987654},
    ),
    "region": (lambda ch: {"code": "RA1"}, {"code": "NO-SUCH"}),
    "user": (lambda ch: {"username": ch["insider_user"]}, {"username": "no.such.user"}),
    "ledger_entry": (lambda ch: {"entry_id": ch["payment"]}, {"entry_id": 987654}),
    "application": (lambda ch: {"application_id": ch["application"]}, {"application_id": 987654}),
    "job": (lambda ch: {"job_id": ch["job"]}, {"job_id": "00000000-0000-0000-0000-000000000000"}),
    "order": (lambda ch: {"number": ch["order"]}, {"number": "SO-209901-999999"}),
    "track": (lambda ch: {"query": ch["order"]}, {"query": "SO-209901-999999"}),
    "shipment": (lambda ch: {"number": ch["shipment"]}, {"number": "DN-209901-999999"}),
    "statement": (lambda ch: {"statement_id": ch["statement"]}, {"statement_id": 987654}),
    "dispute": (lambda ch: {"dispute_id": ch["dispute"]}, {"dispute_id": 987654}),
    # a rebate programme by its code (with the insider dealer where a route also names one)
    "rebate": (lambda ch: {"code": ch["rebate"], "dealer": "DA"}, {"code": "NO-SUCH", "dealer": "NO-SUCH"}),
    "credit_request": (lambda ch: {"request_id": ch["credit_request"]}, {"request_id": 987654}),
    "payment_notice": (lambda ch: {"notice_id": ch["payment_notice"]}, {"notice_id": 987654}),
    "rebate_settlement": (lambda ch: {"code": ch["rebate"], "dealer": "DA"}, {"code": "NO-SUCH", "dealer": "NO-SUCH"}),
    "return": (lambda ch: {"number": ch["return"]}, {"number": "RT-209901-999999"}),
    "discrepancy": (lambda ch: {"number": ch["discrepancy"]}, {"number": "DC-209901-999999"}),
    "price_list": (lambda ch: {"price_list_id": ch["price_list"]}, {"price_list_id": 987654}),
}


def _url(rule, values: dict) -> str:
    missing = set(rule.arguments) - set(values)
    assert not missing, f"{rule.rule}: the tenancy test cannot fill {missing}; extend KIND_ARGS"
    path = rule.rule
    for name in rule.arguments:
        path = path.replace(f"<{name}>", str(values[name]))
        for conv in ("string", "int", "path"):
            path = path.replace(f"<{conv}:{name}>", str(values[name]))
    return path


def _call(client, method: str, url: str, csrf: str):
    headers = {"X-CSRFToken": csrf}
    if url.startswith("/api/"):
        return client.open(url, method=method, json={} if method in WRITE_METHODS else None, headers=headers)
    return client.open(
        url, method=method, data={"csrf_token": csrf} if method in WRITE_METHODS else None, headers=headers
    )


def _error_code(resp):
    body = resp.get_json(silent=True)
    return body["error"]["code"] if body and "error" in body else None


def test_every_route_with_an_identifier_is_classified(app):
    assert unclassified_routes(app) == []


def test_a_route_added_without_classification_fails_the_walk(app):
    probe = Flask("probe")

    @probe.route("/things/<thing_id>")
    def thing(thing_id):  # pragma: no cover - never called
        return thing_id

    @probe.route("/lang2/<code>")
    def exempt(code):  # pragma: no cover
        return code

    from portal.platform.tenancy import not_tenant_route

    probe.view_functions["exempt"] = not_tenant_route("a language code")(exempt)
    assert unclassified_routes(probe) == ["/things/<thing_id> (thing)"]


def test_every_kind_in_use_has_identifiers_in_this_test(app):
    kinds = {
        route_classification(view)[1]
        for _rule, view in routes_with_identifiers(app)
        if route_classification(view)[0] == "kind"
    }
    assert kinds <= set(KIND_ARGS), f"classify the new kinds in KIND_ARGS: {kinds - set(KIND_ARGS)}"


def test_objects_of_other_tenants_answer_exactly_like_missing_ones(app, world, channel):
    checked = 0
    for label, username in {**channel["outsiders"], **channel["relatives"]}.items():
        client = app.test_client()
        assert login(client, username).status_code == 302
        csrf = page_csrf(client)
        role = world.get(__import__("portal.dealers.models", fromlist=["User"]).User, username=username)["role"]
        before = world.snapshot()
        for rule, view in routes_with_identifiers(app):
            kind_or_exempt, kind = route_classification(view)
            if kind_or_exempt != "kind":
                continue
            insider_args, missing_args = KIND_ARGS[kind]
            permission = getattr(view, "_permission", None)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                resp = _call(client, method, _url(rule, insider_args(channel)), csrf)
                missing = _call(client, method, _url(rule, missing_args), csrf)
                where = f"{label}: {method} {rule.rule}"
                expected = 404 if permission is None or role_can(role, permission) else 403
                assert resp.status_code == expected, f"{where} answered {resp.status_code}, expected {expected}"
                assert missing.status_code == resp.status_code, f"{where}: differs from a missing object"
                assert _error_code(resp) == _error_code(missing), f"{where}: error differs from a missing object"
                assert "甲经销商" not in resp.get_data(as_text=True), f"{where} reveals the dealer's name"
                checked += 1
        assert world.snapshot() == before, f"{label}: the database changed"
    assert checked >= 20


def test_lists_and_exports_show_nothing_outside_the_scope(app, world, channel):
    """Every GET route without identifiers (lists, exports, home pages) as an outsider, and as the dealer's own
    sub-dealer (which may name its seller, nothing of what the seller holds)."""
    relatives = set(channel["relatives"])
    for label, username in {**channel["outsiders"], **channel["relatives"]}.items():
        client = app.test_client()
        login(client, username)
        for rule in app.url_map.iter_rules():
            if rule.arguments or "GET" not in rule.methods or rule.endpoint.endswith("static"):
                continue
            for suffix in ("", "?format=csv"):
                resp = client.get(rule.rule + suffix)
                text = resp.get_data(as_text=True)
                if label not in relatives:
                    assert "甲经销商" not in text and "DA" not in text.split(), f"{label}: {rule.rule}{suffix} leaks"
                assert "insider.staff" not in text, f"{label}: {rule.rule}{suffix} leaks a user"
                assert "INV-A-1" not in text and "BANK-A-1" not in text, f"{label}: {rule.rule}{suffix} leaks"
                assert "SO-" not in text, f"{label}: {rule.rule}{suffix} leaks an order"
