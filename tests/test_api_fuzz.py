"""API fuzzing (issue 9): schemathesis drives every operation of /api/v1/openapi.json as every role.

For each caller (the six roles and the two integration-token scopes) one test builds a small channel, then sends
each operation generated requests — valid ones (with the ids of real rows or generated ones) and invalid ones — and
checks every answer: never a 500, a status code and a body the document declares (an error always in the documented
shape, `{"error": {"code", "message", "fields"}}`), and invalid input refused with a 4xx.

Bounded and reproducible: API_FUZZ_EXAMPLES valid requests per operation and caller (default 2) and half as many
invalid ones (at least 1), a fixed seed (API_FUZZ_SEED), no shrinking. Run longer locally with e.g.
`API_FUZZ_EXAMPLES=50`; API_FUZZ_OPS narrows the run to the operations whose label contains that text (e.g.
`API_FUZZ_OPS="POST /api/v1/orders"`), API_FUZZ_REPORT names a file that collects every failure found.
"""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from portal.extensions import db

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "2"))
SEED = int(os.environ.get("API_FUZZ_SEED", "20261123"))
ONLY = os.environ.get("API_FUZZ_OPS", "")

CALLERS = (
    "dealer_staff",
    "dealer_admin",
    "region_manager",
    "channel_manager",
    "finance",
    "hq_admin",
    "token:erp",
    "token:production",
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
NEGATIVE_CHECKS = [*CHECKS, negative_data_rejection]


def _channel(world) -> dict:
    """Two regions under a root, three dealers, products, a price list, orders, a shipment, invoices and a payment, a
    statement with a dispute, a rebate programme with settlements, a job and notifications; a user of every role."""
    from portal.dealers.models import User
    from portal.notify.services import notify
    from portal.statements import services as statements
    from portal.statements.models import Statement

    world.region("CN")
    world.region("EAST", parent="CN")
    world.region("WEST", parent="CN")
    world.dealer("E1", "EAST", tier="A")
    world.dealer("E2", "EAST")
    world.dealer("W1", "WEST", tier="C")
    for code in ("E1", "E2", "W1"):
        world.credit_limit(code, "1000000.00")
    world.product("OIL-1", category="parts", list_price="100.00")
    world.product("CAR-1", category="vehicles", list_price="150000.00", build_to_order=True)
    price_list = world.price_list("tier:A", [{"sku": "OIL-1", "discount_pct": "10"}])
    world.stock("OIL-1", 500)
    users = {
        "dealer_staff": world.user("dealer_staff", dealer="E1", username="fz.staff"),
        "dealer_admin": world.user("dealer_admin", dealer="E1", username="fz.admin"),
        "region_manager": world.user("region_manager", region="EAST", username="fz.rm"),
        "channel_manager": world.user("channel_manager", username="fz.cm"),
        "finance": world.user("finance", username="fz.fin"),
        "hq_admin": world.user("hq_admin", username="fz.hq"),
    }
    other = world.user("dealer_staff", dealer="E1", username="fz.other")  # the one a PATCH /users may change
    parts = world.order("E1", [("OIL-1", 10)], username=users["dealer_staff"])
    car = world.order("E1", [("CAR-1", 1)], username=users["dealer_staff"])
    world.order("W1", [("OIL-1", 5)])
    shipment = world.shipment(parts, [("OIL-1", 4)])
    invoice = world.invoice("E1", amount="2000.00")
    world.payment("E1", amount="500.00")
    application = world.application_of(invoice)
    world.dealer_receipt("E1", "OIL-1", 20)
    world.sold("E1", "OIL-1", dt.date(2026, 2, 1), 5, "120.00")
    world.rebate_programme("RB-1")
    world.settle("RB-1")
    statement = world.statement("E1", "2026-01")
    line = world.statement_lines(statement)[0]

    def dispute_and_notify():
        actor = db.session.query(User).filter_by(username=users["dealer_admin"]).one()
        item = statements.dispute(actor, db.session.get(Statement, statement), [line], "金额不对")
        ids = {}
        for username in users.values():
            user = db.session.query(User).filter_by(username=username).one()
            notify(user, kind="test", title="t", body="b", link=None, dedupe_key=f"fuzz:{username}")
            db.session.flush()
        from portal.notify.models import Notification

        for role, username in users.items():
            user = db.session.query(User).filter_by(username=username).one()
            ids[role] = (
                db.session.query(Notification.id).filter_by(user_id=user.id).order_by(Notification.id.desc()).first()[0]
            )
        return item.id, ids

    dispute, notifications = world._in_request(dispute_and_notify)
    serials = world.serials(car)
    return {
        "users": users,
        "other": other,
        "price_list": price_list,
        "order": parts,
        "car": car,
        "serial": serials[0] if serials else car,
        "shipment": shipment,
        "invoice": invoice,
        "application": application,
        "statement": statement,
        "dispute": dispute,
        "notifications": notifications,
        "jobs": {role: world.job(username) for role, username in users.items()},
        "email": world.run(_failed_email),
        "contact": world.contact("E1", "owner", "张强"),  # the overview's contacts and ship-to addresses
        "address": world.address("E1"),
        "expected": _expected_receipt(world),  # HQ's expected receipts (§12)
        **_collections(world),  # §14: a credit request, a payment notice, an unmatched receipt
        **_returns(world, parts, users["dealer_admin"]),  # §13: a return and a delivery discrepancy of E1
    }


def _returns(world, order: str, admin: str) -> dict:
    """3 more OIL-1 of the order shipped and received with one declared short (a delivery discrepancy), one of the
    others asked back by E1's administrator (a return, requested)."""
    from portal.dealers.models import User
    from portal.returns import services as returns
    from portal.returns.models import DeliveryDiscrepancy
    from portal.shipping import services as shipping
    from portal.shipping.models import Shipment

    number = world.shipment(order, [("OIL-1", 3)])

    def make():
        shipment = db.session.query(Shipment).filter_by(number=number).one()
        shipping.receive(None, shipment, discrepancies=[{"sku": "OIL-1", "quantity": 1, "kind": "short"}])
        actor = db.session.query(User).filter_by(username=admin).one()
        ret = returns.request_return(actor, world._dealer_obj("E1"), shipment_number=number,
                                     lines=[{"sku": "OIL-1", "quantity": 1}], reason="damaged")  # fmt: skip
        claim = db.session.query(DeliveryDiscrepancy).filter_by(shipment_id=shipment.id).one()
        return {"return": ret.number, "discrepancy": claim.number}

    return world._in_request(make)


def _collections(world) -> dict:
    from decimal import Decimal

    from portal.banking.models import UnmatchedReceipt
    from portal.credit import notices, requests
    from portal.platform.timeutil import today

    def make():
        dealer = world._dealer_obj("E1")
        request = requests.create_request(None, dealer, amount=Decimal("5000"),
                                          valid_until=today() + dt.timedelta(days=30), reason="旺季")  # fmt: skip
        notice = notices.send_notice(None, dealer, amount=Decimal("300"), paid_on=dt.date(2026, 1, 20),
                                     reference="PN-FUZZ-1")  # fmt: skip
        receipt = UnmatchedReceipt(bank="icbc", serial="FUZZ-SERIAL-1", received_on=dt.date(2026, 1, 21),
                                   amount=Decimal("800.00"), payer_account="6222000000000001",
                                   payer_name="某贸易公司")  # fmt: skip
        db.session.add(receipt)
        db.session.flush()
        return {"credit_request": request.id, "payment_notice": notice.id, "receipt": receipt.id}

    return world._in_request(make)


def _expected_receipt(world) -> int:
    from tests.backorders_helpers import expect

    return expect(world, "OIL-1", 10, dt.date(2099, 1, 1), "WH-1")


def _failed_email() -> int:
    """An outbox e-mail whose every attempt failed (finance and HQ may send it again)."""
    from portal.notify.models import OutboxEmail

    email = OutboxEmail(to_address="fz@dealer.example.cn", subject="t", body="b", dedupe_key="fuzz:email",
                        status="failed", attempts=6, last_error="550 no such user")  # fmt: skip
    db.session.add(email)
    db.session.flush()
    return email.id


def _real_path_parameters(path: str, data: dict, caller: str) -> dict:
    """Path parameters naming rows that exist, for the operation at `path`."""
    values = {
        "username": data["other"],
        "entry_id": data["invoice"],
        "application_id": data["application"],
        "job_id": data["jobs"].get(caller, "00000000-0000-0000-0000-000000000000"),
        "notification_id": data["notifications"].get(caller, 1),
        "email_id": data["email"],
        "sku": "CAR-1" if "/options" in path else "OIL-1",
        "group": "colour",
        "price_list_id": data["price_list"],
        "query": data["serial"],
        "statement_id": data["statement"],
        "dispute_id": data["dispute"],
        "dealer": "E1",
        "contact_id": data["contact"],
        "address_id": data["address"],
        "expected_id": data["expected"],
        "request_id": data["credit_request"],
        "notice_id": data["payment_notice"],
        "receipt_id": data["receipt"],
        "number": data["shipment"]
        if path.startswith("/api/v1/shipments")
        else data["return"]
        if path.startswith("/api/v1/returns")
        else data["discrepancy"]
        if path.startswith("/api/v1/discrepancies")
        else data["order"],
        "code": "EAST"
        if path.startswith("/api/v1/regions")
        else "RB-1"
        if path.startswith("/api/v1/rebates")
        else "WHT"
        if "/options/" in path
        else "E1",
    }
    return {name: values[name] for name in _path_names(path)}


def _path_names(path: str) -> list[str]:
    import re

    return re.findall(r"{(\w+)}", path)


def _operations(app):
    # the caller's bearer token is sent with every request, so the generated ones never name the security header
    config = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)
    operations = [result.ok() for result in schema.get_all_operations()]
    # reads first, then writes: a write's side effects (a suspended dealer, a closed programme) cannot hide a read
    operations.sort(key=lambda op: op.method.upper() != "GET")
    return [op for op in operations if ONLY in f"{op.method.upper()} {op.path}"]


def _negatable(operation) -> bool:
    """Whether an invalid request can be made: a body, a query parameter or a constrained path parameter (a bare
    string path parameter takes any value)."""
    raw = operation.definition.raw
    if "requestBody" in raw:
        return True
    shared = operation.schema.raw_schema["paths"][operation.path].get("parameters", [])
    for parameter in [*shared, *raw.get("parameters", [])]:
        schema = parameter.get("schema", {})
        constrained = set(schema) - {"type", "description", "minLength"}  # minLength 1 on a path cannot be broken
        if parameter.get("in") == "query" or constrained or schema.get("type") != "string":
            return True
    return False


def _fuzz(operation, headers: dict, strategy, checks, failures: list, label: str, examples: int) -> None:
    @seed(SEED)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(case=strategy)
    def run(case):
        response = case.call(headers=headers)
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except FailureGroup as group:  # every failure is collected, the run goes on
            failures.append(f"[{label}] {operation.method.upper()} {operation.path}: {group}")

    run()


@pytest.mark.parametrize("caller", CALLERS)
def test_every_operation_answers_as_documented(app, world, caller):
    started = time.monotonic()
    data = _channel(world)
    if caller.startswith("token:"):
        headers = {"Authorization": f"Bearer {world.integration_token(caller.split(':')[1])}"}
    else:
        headers = world.auth(data["users"][caller])
    failures: list[str] = []
    operations = _operations(app)
    for operation in operations:
        real = _real_path_parameters(operation.path, data, caller)
        positive = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
        if real:
            positive = st.one_of(operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=real),
                                 positive)  # fmt: skip
        _fuzz(operation, headers, positive, CHECKS, failures, "valid", EXAMPLES)
        if _negatable(operation):
            _fuzz(operation, headers, operation.as_strategy(generation_mode=GenerationMode.NEGATIVE), NEGATIVE_CHECKS,
                  failures, "invalid", max(1, EXAMPLES // 2))  # fmt: skip
    print(f"{caller}: {len(operations)} operations in {time.monotonic() - started:.1f}s")
    if os.environ.get("API_FUZZ_REPORT"):
        with open(os.environ["API_FUZZ_REPORT"], "a", encoding="utf-8") as out:
            out.write(f"\n\n===== {caller}\n" + "\n\n".join(failures))
    assert not failures, "\n\n".join(failures[:30]) + f"\n\n{len(failures)} failures"
