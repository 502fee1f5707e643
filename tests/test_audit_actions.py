"""Every state-changing action writes exactly one audit entry (issue 26): who, what object, before and after.

One case per `record()` call of the portal: each sets up what the action needs (factories, or the API as another
user — none of that counts), calls `h.act()`, performs the action once through its real entry point (the JSON API
with a bearer token; a background job drained like a worker would), and answers the entry it expects. The test
then finds exactly ONE new entry with that action and compares it whole. A completeness test checks that the cases
cover every action `tests/test_audit_labels.py` finds in the code, so a new `record()` call without a case fails.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from portal.audit.models import AuditEntry
from portal.dealers.models import Dealer, Region, User
from portal.extensions import db
from portal.platform.timeutil import today, utcnow
from tests.conftest import PASSWORD, make_app
from tests.test_audit_labels import COMPUTED, recorded_actions

JAN = "2026-01"
SECRETS = (PASSWORD, "Secret-pass-77", "Other-secret-88", "New-secret-99")  # the passwords the cases send
EXCLUDED: set[str] = set()  # actions no test can trigger, each with its reason (none so far: keep it that way)


@dataclass
class Entry:
    """An audit entry as the test compares it (the dealer by its code)."""

    actor: str
    object_type: str
    object_key: str
    before: dict | None = None
    after: dict | None = None
    dealer: str | None = None


class Harness:
    """What a case uses: people and their tokens, API calls that must succeed, and the mark set by `act()`."""

    def __init__(self, app, client, world):
        self.app, self.client, self.world = app, client, world
        self.mark: int | None = None
        self._headers: dict[str, dict] = {}

    def user(self, role: str, username: str, **attached) -> str:
        if username not in self._headers:
            self.world.user(role, username=username, **attached)
            self._headers[username] = self.world.auth(username)
        return username

    def token(self, scope: str, name: str) -> str:
        """An integration token (MES, ERP); its actor in the audit log is `token:<name>`."""
        actor = f"token:{name}"
        self._headers[actor] = {"Authorization": f"Bearer {self.world.integration_token(scope, name)}"}
        return actor

    def headers(self, who: str) -> dict:
        return self._headers[who]

    def call(self, method: str, url: str, who: str, body: dict | None = None, status: int = 200) -> dict:
        resp = self.client.open(url, method=method, json=body if body is not None else {}, headers=self.headers(who))
        assert resp.status_code == status, (method, url, resp.status_code, resp.get_json())
        return resp.get_json()

    def act(self) -> None:
        """Everything after this is the action under test."""
        self.mark = self.world.run(lambda: db.session.query(db.func.max(AuditEntry.id)).scalar() or 0)

    def drain(self) -> None:
        """With Redis a job waits in the queue: run it as a worker would (in-process it ran already)."""
        if self.app.config["REDIS_URL"]:
            from rq import SimpleWorker

            from portal import jobs

            with self.app.app_context():
                queue = jobs.get_queue(self.app)
                SimpleWorker([queue], connection=queue.connection).work(burst=True)

    def entries(self, action: str) -> list[tuple[Entry, str | None]]:
        """The entries with this action since `act()`, each with the username its actor_id points to."""

        def read():
            rows = (
                db.session.query(AuditEntry, Dealer.code, User.username)
                .outerjoin(Dealer, Dealer.id == AuditEntry.dealer_id)
                .outerjoin(User, User.id == AuditEntry.actor_id)
                .filter(AuditEntry.id > self.mark, AuditEntry.action == action)
                .order_by(AuditEntry.id)
            )
            return [(Entry(e.actor, e.object_type, e.object_key, e.before, e.after, code), name)
                    for e, code, name in rows]  # fmt: skip

        return self.world.run(read)


@dataclass(frozen=True)
class Case:
    action: str
    perform: Callable[[Harness], Entry]  # sets up, calls h.act(), performs the action once; the entry it expects
    variant: str = ""  # when one action is recorded at more than one place

    @property
    def id(self) -> str:
        return f"{self.action}:{self.variant}" if self.variant else self.action


CASES: list[Case] = []


def case(action: str, variant: str = ""):
    def register(fn):
        CASES.append(Case(action, fn, variant))
        return fn

    return register


# ---------------------------------------------------------------- shared set-ups


def dealer(h: Harness, code: str = "SH-1", limit: str = "1000000") -> str:
    """A dealer of region EAST with 30-day terms and a credit limit (set by `system`, before the action)."""
    if h.world.count(Dealer, code=code) == 0:
        if h.world.count(Region, code="EAST") == 0:
            h.world.region("EAST")
        h.world.dealer(code, "EAST", tier="B")
        h.world.credit_limit(code, limit)
    return code


def finance(h: Harness) -> str:
    return h.user("finance", "fin")


def hq(h: Harness) -> str:
    return h.user("channel_manager", "cm")


def admin(h: Harness) -> str:
    return h.user("hq_admin", "root")


def staff(h: Harness, code: str = "SH-1") -> str:
    return h.user("dealer_staff", f"{code.lower()}.staff", dealer=dealer(h, code))


def dealer_admin(h: Harness, code: str = "SH-1") -> str:
    return h.user("dealer_admin", f"{code.lower()}.admin", dealer=dealer(h, code))


def stock_order(h: Harness, quantity: int = 2) -> str:
    """An approved order of SH-1 for a stock product HQ holds (its quantity allocated); the order number."""
    h.world.product("OIL-1", list_price="1000.00")
    h.world.stock("OIL-1", 10)
    dealer(h)
    return h.world.order("SH-1", [("OIL-1", quantity)])


def review_order(h: Harness) -> str:
    """An order of SH-1 in credit review (it exceeds the dealer's limit of 1,000.00)."""
    h.world.product("CAR-1", list_price="100000.00", category="vehicles", build_to_order=True)
    dealer(h, limit="1000")
    return h.world.order("SH-1", [("CAR-1", 1)])


def car_order(h: Harness) -> tuple[str, str, str]:
    """An approved order of one build-to-order car; (order, its VIN, the MES actor)."""
    h.world.product("CAR-1", list_price="100000.00", category="vehicles", build_to_order=True)
    dealer(h)
    order = h.world.order("SH-1", [("CAR-1", 1)])
    return order, h.world.serials(order)[0], h.token("production", "mes")


def mes_event(event_id: str, serial: str, stage: str) -> dict:
    return {"events": [{"event_id": event_id, "serial": serial, "stage": stage,
                        "occurred_at": (utcnow() - dt.timedelta(hours=1)).isoformat()}]}  # fmt: skip


def shipped(h: Harness) -> tuple[str, str]:
    """The stock order shipped whole by HQ (in transit); (order, shipment)."""
    order = stock_order(h)
    return order, h.world.shipment(order, [("OIL-1", 2)])


def ledger(h: Harness) -> tuple[str, int]:
    """Invoice INV-1 (1,000.00) and payment BANK-1 (400.00), applied to it; (dealer, the payment's id)."""
    d = dealer(h)
    h.world.invoice(d, "INV-1", "1000.00", issued_on=dt.date(2026, 1, 5))
    return d, h.world.payment(d, "400.00", received_on=dt.date(2026, 1, 20), reference="BANK-1")


def statement(h: Harness) -> int:
    """SH-1's January statement (INV-1 1,000.00), version 1; its id."""
    d = dealer(h)
    h.world.invoice(d, "INV-1", "1000.00", issued_on=dt.date(2026, 1, 5))
    return h.world.statement(d, JAN)


def disputed(h: Harness) -> tuple[int, int]:
    """The January statement with its invoice line disputed by the dealer; (statement id, dispute id)."""
    statement_id = statement(h)
    body = {"line_ids": h.world.statement_lines(statement_id)[:1], "comment": "价格不对"}
    dispute = h.call("POST", f"/api/v1/statements/{statement_id}/disputes", dealer_admin(h), body, status=201)
    return statement_id, dispute["id"]


def resolve(h: Harness, body: dict, before_act: Callable[[], object] = lambda: None) -> Entry:
    _statement_id, dispute_id = disputed(h)
    before_act()
    who = finance(h)
    h.act()
    h.call("POST", f"/api/v1/disputes/{dispute_id}/resolve", who, body)
    return Entry("fin", "statement", "ST-202601-SH-1 v1", dealer="SH-1",
                 after={"dispute": dispute_id, "reason": body["reason"], "amount": body.get("amount"),
                        "reissued_version": None if body["action"] == "reject" else 2})  # fmt: skip


def programme(h: Harness, status: str, sales: bool = False) -> str:
    """Rebate programme RB-1 (Q1 2026, all dealers, 1 % from 0, 2 % from 10,000); with sales, SH-1 sold 2,000.00."""
    if sales:
        h.world.product("OIL-1", list_price="100.00")
        h.world.sold(dealer(h), "OIL-1", dt.date(2026, 2, 1), 20, "100.00")
    return h.world.rebate_programme("RB-1", status=status)


def rebate_snapshot(**changes) -> dict:
    """The audit snapshot of RB-1 as `programme` makes it."""
    return {"code": "RB-1", "name": "返利 RB-1", "name_en": None, "description": None, "period_start": "2026-01-01",
            "period_end": "2026-03-31", "scope": "all", "basis": "sell_through_amount", "tier_kind": "percent",
            "cap": None, "tiers": ["0→1", "10000→2"], "targets": {"skus": [], "categories": []}, "status": "draft",
            **changes}  # fmt: skip


# ---------------------------------------------------------------- people, regions, dealers


@case("region.create")
def _(h):
    h.world.region("HQ")
    who = admin(h)
    h.act()
    body = {"code": "WEST", "name": "华西", "parent_code": "HQ", "approval_limit": "50000.00"}
    h.call("POST", "/api/v1/regions", who, body, status=201)
    return Entry("root", "region", "WEST",
                 after={"code": "WEST", "name": "华西", "approval_limit": "50000.00", "parent_code": "HQ"})  # fmt: skip


@case("region.update")
def _(h):
    h.world.region("EAST", approval_limit="100000")
    who = admin(h)
    h.act()
    h.call("PATCH", "/api/v1/regions/EAST", who, {"approval_limit": "80000.00"})
    return Entry("root", "region", "EAST", before={"approval_limit": "100000.00"},
                 after={"approval_limit": "80000.00"})  # fmt: skip


@case("dealer.create")
def _(h):
    h.world.region("EAST")
    who = hq(h)
    h.act()
    body = {"code": "SH-9", "name": "上海九号", "region_code": "EAST", "tier": "B", "channel_type": "chain"}
    h.call("POST", "/api/v1/dealers", who, body, status=201)
    return Entry("cm", "dealer", "SH-9", dealer="SH-9",
                 after={"code": "SH-9", "name": "上海九号", "region_code": "EAST", "tier": "B", "channel_type": "chain",
                        "payment_terms_days": 30, "status": "active", "contact_name": None, "contact_phone": None,
                        "contact_email": None, "address": None})  # fmt: skip


@case("dealer.update")
def _(h):
    d = dealer(h)
    who = hq(h)
    h.act()
    h.call("PATCH", f"/api/v1/dealers/{d}", who, {"tier": "A", "payment_terms_days": 45})
    return Entry("cm", "dealer", d, before={"tier": "B", "payment_terms_days": 30},
                 after={"tier": "A", "payment_terms_days": 45}, dealer=d)  # fmt: skip


@case("user.create")
def _(h):
    who = admin(h)
    h.act()
    body = {"username": "fin.li", "password": "Secret-pass-77", "role": "finance", "display_name": "李娜"}
    h.call("POST", "/api/v1/users", who, body, status=201)
    return Entry("root", "user", "fin.li",
                 after={"username": "fin.li", "display_name": "李娜", "email": None, "role": "finance",
                        "locale": "zh_CN", "active": True, "dealer_code": None, "region_code": None})  # fmt: skip


@case("user.update")
def _(h):
    h.world.user("finance", username="fin.li")
    who = admin(h)
    h.act()
    h.call("PATCH", "/api/v1/users/fin.li", who, {"role": "channel_manager", "password": "Other-secret-88"})
    return Entry("root", "user", "fin.li", before={"role": "finance", "password": "(old)"},
                 after={"role": "channel_manager", "password": "(reset)"})  # fmt: skip


@case("user.password")
def _(h):
    me = staff(h)
    h.act()
    h.call("PATCH", "/api/v1/me", me, {"current_password": PASSWORD, "password": "New-secret-99"})
    return Entry(me, "user", me, dealer="SH-1")  # by design no before/after: a password never reaches the log


@case("user.locale")
def _(h):
    me = staff(h)  # English (the factories' default)
    h.act()
    h.call("PATCH", "/api/v1/me", me, {"locale": "zh_CN"})
    return Entry(me, "user", me, before={"locale": "en"}, after={"locale": "zh_CN"}, dealer="SH-1")


# ---------------------------------------------------------------- receivables and credit


@case("credit.limit")
def _(h):
    d = dealer(h, limit="100000")
    who = finance(h)
    h.act()
    h.call("PUT", f"/api/v1/dealers/{d}/credit-limit", who, {"amount": "150000.00", "reason": "年度授信"})
    return Entry("fin", "dealer", d, before={"credit_limit": "100000.00", "reason": None},
                 after={"credit_limit": "150000.00", "reason": "年度授信"}, dealer=d)  # fmt: skip


@case("credit.increase")
def _(h):
    d = dealer(h)
    who = finance(h)
    h.act()
    body = {"amount": "20000.00", "valid_from": "2026-11-01", "valid_until": "2026-11-30", "reason": "旺季备货"}
    h.call("POST", f"/api/v1/dealers/{d}/credit-increases", who, body, status=201)
    return Entry("fin", "dealer", d, after=body, dealer=d)


@case("credit.hold")
def _(h):
    d = dealer(h)
    who = finance(h)
    h.act()
    h.call("PUT", f"/api/v1/dealers/{d}/credit-hold", who, {"reason": "对账争议未解决"})
    return Entry("fin", "dealer", d, before={"on_hold": False, "hold_source": None, "reason": None},
                 after={"on_hold": True, "hold_source": "manual", "reason": "对账争议未解决"}, dealer=d)  # fmt: skip


@case("credit.release")
def _(h):
    d = dealer(h)
    h.call("PUT", f"/api/v1/dealers/{d}/credit-hold", finance(h), {"reason": "对账争议未解决"})
    who = finance(h)
    h.act()
    h.call("DELETE", f"/api/v1/dealers/{d}/credit-hold", who, {"reason": "已解决"})
    return Entry("fin", "dealer", d, before={"on_hold": True, "reason": "对账争议未解决"},
                 after={"on_hold": False, "reason": "已解决"}, dealer=d)  # fmt: skip


@case("invoice.post")
def _(h):
    d, erp = dealer(h), h.token("erp", "erp")
    h.act()
    body = {"dealer_code": d, "number": "INV-1", "issued_on": "2026-01-05", "amount": "1000.00"}
    h.call("POST", "/api/v1/invoices", erp, body, status=201)
    return Entry("token:erp", "invoice", "INV-1", dealer=d,
                 after={"amount": "1000.00", "issued_on": "2026-01-05", "due_on": "2026-02-04"})  # fmt: skip


@case("payment.post")
def _(h):
    d = dealer(h)
    who = finance(h)
    h.act()
    body = {"dealer_code": d, "amount": "500.00", "received_on": "2026-01-20", "reference": "BANK-1"}
    h.call("POST", "/api/v1/payments", who, body, status=201)
    return Entry("fin", "payment", "BANK-1", after={"amount": "500.00", "received_on": "2026-01-20"}, dealer=d)


@case("credit_note.post")
def _(h):
    d = dealer(h)
    h.world.invoice(d, "INV-1", "1000.00", issued_on=dt.date(2026, 1, 5))
    who = finance(h)
    h.act()
    body = {"dealer_code": d, "amount": "100.00", "issued_on": "2026-01-10", "reason": "质量折让",
            "invoice_number": "INV-1"}  # fmt: skip
    note = h.call("POST", "/api/v1/credit-notes", who, body, status=201)
    assert note["number"].startswith("CN-202601-")
    return Entry("fin", "credit_note", note["number"], dealer=d,
                 after={"amount": "100.00", "issued_on": "2026-01-10", "reason": "质量折让",
                        "invoice_number": "INV-1"})  # fmt: skip


@case("application.reverse")
def _(h):
    d, payment = ledger(h)
    application = h.world.application_of(payment)
    who = finance(h)
    h.act()
    h.call("POST", f"/api/v1/applications/{application}/reverse", who, status=201)
    # the invoice is the same before and after, so record() keeps only the amount
    return Entry("fin", "payment", "BANK-1", before={"amount": "400.00"}, after={"amount": "0.00"}, dealer=d)


@case("application.apply")
def _(h):
    d, payment = ledger(h)
    h.call("POST", f"/api/v1/applications/{h.world.application_of(payment)}/reverse", finance(h), status=201)
    who = finance(h)
    h.act()
    body = {"invoice_number": "INV-1", "amount": "150.00"}
    h.call("POST", f"/api/v1/entries/{payment}/applications", who, body, status=201)
    return Entry("fin", "payment", "BANK-1", after={"invoice": "INV-1", "amount": "150.00"}, dealer=d)


# ---------------------------------------------------------------- catalogue and prices


@case("product.create")
def _(h):
    who = hq(h)
    h.act()
    body = {"sku": "OIL-9", "name": "机油", "name_en": "Engine oil", "category": "parts", "unit": "L",
            "list_price": "99.90", "build_to_order": False}  # fmt: skip
    h.call("POST", "/api/v1/products", who, body, status=201)
    return Entry("cm", "product", "OIL-9",
                 after={"sku": "OIL-9", "name": "机油", "name_en": "Engine oil", "category": "parts", "unit": "L",
                        "list_price": "99.90", "tax_rate": "0.13", "min_resale_price": None, "build_to_order": False,
                        "lead_time_days": 0, "active": True})  # fmt: skip


@case("product.update")
def _(h):
    h.world.product("OIL-1", list_price="1000.00")
    who = hq(h)
    h.act()
    h.call("PATCH", "/api/v1/products/OIL-1", who, {"list_price": "1200.00", "active": False})
    return Entry("cm", "product", "OIL-1", before={"list_price": "1000.00", "active": True},
                 after={"list_price": "1200.00", "active": False})  # fmt: skip


@case("category.update")
def _(h):
    who = hq(h)
    body = {"sku": "CAR-9", "name": "轿车", "category": "sedan", "unit": "台", "list_price": "100000.00",
            "build_to_order": True}  # fmt: skip
    h.call("POST", "/api/v1/products", who, body, status=201)
    h.act()  # the product brought its category, named after its code; the action is naming it
    h.call("PATCH", "/api/v1/categories/sedan", who, {"name": "轿车", "name_en": "Sedan"})
    return Entry("cm", "category", "sedan", before={"name": "sedan", "name_en": "sedan"},
                 after={"name": "轿车", "name_en": "Sedan"})  # fmt: skip


@case("price_list.create")
def _(h):
    h.world.product("OIL-1")
    who = hq(h)
    h.act()
    body = {"name": "B级政策", "scope": "tier:B", "priority": 1, "rules": [{"sku": "OIL-1", "discount_pct": "5"}]}
    price_list = h.call("POST", "/api/v1/price-lists", who, body, status=201)
    return Entry("cm", "price_list", str(price_list["id"]),
                 after={"name": "B级政策", "scope": "tier:B", "valid_from": None, "valid_to": None, "priority": 1,
                        "active": True, "rules": 1})  # fmt: skip


@case("price_list.update")
def _(h):
    h.world.product("OIL-1")
    price_list = h.world.price_list("tier:B", [{"sku": "OIL-1", "discount_pct": "5"}], name="B级政策")
    who = hq(h)
    h.act()
    h.call("PATCH", f"/api/v1/price-lists/{price_list}", who, {"priority": 5, "valid_to": "2026-12-31"})
    return Entry("cm", "price_list", str(price_list), before={"priority": 0, "valid_to": None},
                 after={"priority": 5, "valid_to": "2026-12-31"})  # fmt: skip


# ---------------------------------------------------------------- orders


@case("order.submit")
def _(h):
    h.world.product("OIL-1", list_price="1000.00")
    who = staff(h)
    h.act()
    order = h.call("POST", "/api/v1/orders", who, {"lines": [{"sku": "OIL-1", "quantity": 3}]}, status=201)
    return Entry(who, "order", order["number"], after={"status": "approved", "gross": "3390.00"}, dealer="SH-1")


@case("order.amend")
def _(h):
    h.world.product("OIL-1", list_price="1000.00")
    who = staff(h)
    order = h.call("POST", "/api/v1/orders", who, {"lines": [{"sku": "OIL-1", "quantity": 3}]}, status=201)
    h.act()
    h.call("PATCH", f"/api/v1/orders/{order['number']}", who, {"lines": [{"sku": "OIL-1", "quantity": 2}]})
    return Entry(
        who,
        "order",
        order["number"],
        before={"gross": "3390.00", "lines": {"OIL-1": 3}},  # the status did not change: kept out of the diff
        after={"gross": "2260.00", "lines": {"OIL-1": 2}},
        dealer="SH-1",
    )


@case("order.approved")
def _(h):
    order = review_order(h)
    who = finance(h)
    h.act()
    h.call("POST", f"/api/v1/orders/{order}/approve", who, {"comment": "同意超额"})
    return Entry("fin", "order", order, before={"status": "credit_review", "comment": None},
                 after={"status": "approved", "comment": "同意超额"}, dealer="SH-1")  # fmt: skip


@case("order.rejected")
def _(h):
    order = review_order(h)
    who = finance(h)
    h.act()
    h.call("POST", f"/api/v1/orders/{order}/reject", who, {"comment": "超出授信"})
    return Entry("fin", "order", order, before={"status": "credit_review", "comment": None},
                 after={"status": "rejected", "comment": "超出授信"}, dealer="SH-1")  # fmt: skip


@case("order.cancelled")
def _(h):
    order = stock_order(h)
    who = staff(h)
    h.act()
    h.call("POST", f"/api/v1/orders/{order}/cancel", who, {"comment": "不要了"})
    return Entry("sh-1.staff", "order", order, before={"status": "approved", "comment": None},
                 after={"status": "cancelled", "comment": "不要了"}, dealer="SH-1")  # fmt: skip


@case("order.in_production")
def _(h):
    order, vin, mes = car_order(h)
    h.act()
    h.call("POST", "/api/v1/production/events", mes, mes_event("e-body", vin, "body"))
    return Entry("token:mes", "order", order, before={"status": "approved", "comment": None},
                 after={"status": "in_production", "comment": f"{vin}: body"}, dealer="SH-1")  # fmt: skip


@case("order.built")
def _(h):
    order, vin, mes = car_order(h)
    h.call("POST", "/api/v1/production/events", mes, mes_event("e-body", vin, "body"))
    h.act()
    h.call("POST", "/api/v1/production/events", mes, mes_event("e-done", vin, "completed"))
    return Entry("token:mes", "order", order, before={"status": "in_production"}, after={"status": "built"},
                 dealer="SH-1")  # fmt: skip


def ship_whole(h: Harness) -> tuple[str, dict]:
    """HQ ships the whole stock order through the API; (order, the answer: shipment and invoice)."""
    order = stock_order(h)
    who = hq(h)
    h.act()
    return order, h.call("POST", f"/api/v1/orders/{order}/shipments", who,
                         {"lines": [{"sku": "OIL-1", "quantity": 2}]}, status=201)  # fmt: skip


@case("order.shipped")
def _(h):
    order, answer = ship_whole(h)
    return Entry("cm", "order", order, before={"status": "approved", "comment": None},
                 after={"status": "shipped", "comment": answer["shipment"]["number"]}, dealer="SH-1")  # fmt: skip


@case("order.delivered")
def _(h):
    order, shipment = shipped(h)
    who = staff(h)
    h.act()
    h.call("POST", f"/api/v1/shipments/{shipment}/receive", who)
    return Entry("sh-1.staff", "order", order, before={"status": "shipped", "comment": None},
                 after={"status": "delivered", "comment": shipment}, dealer="SH-1")  # fmt: skip


# ---------------------------------------------------------------- HQ stock


@case("warehouse.create")
def _(h):
    who = hq(h)
    h.act()
    h.call("POST", "/api/v1/warehouses", who, {"code": "WH-SH", "name": "上海仓", "city": "上海"}, status=201)
    return Entry("cm", "warehouse", "WH-SH", after={"name": "上海仓", "city": "上海"})


@case("stock.receive")
def _(h):
    h.world.product("OIL-1")
    h.world.stock("OIL-1", 5, "WH-1")
    who = hq(h)
    h.act()
    h.call("POST", "/api/v1/stock/receipts", who, {"warehouse": "WH-1", "sku": "OIL-1", "quantity": 10},
           status=201)  # fmt: skip
    return Entry("cm", "hq_stock", "WH-1/OIL-1", before={"on_hand": 5, "received_on": None, "quantity": None},
                 after={"on_hand": 15, "received_on": today().isoformat(), "quantity": 10})  # fmt: skip


@case("stock.adjust")
def _(h):
    h.world.product("OIL-1")
    h.world.stock("OIL-1", 5, "WH-1")
    who = hq(h)
    h.act()
    body = {"warehouse": "WH-1", "sku": "OIL-1", "quantity": -2, "reason": "盘亏"}
    h.call("POST", "/api/v1/stock/adjustments", who, body, status=201)
    return Entry("cm", "hq_stock", "WH-1/OIL-1", before={"on_hand": 5, "delta": None, "reason": None},
                 after={"on_hand": 3, "delta": -2, "reason": "盘亏"})  # fmt: skip


@case("stock.allocate")
def _(h):
    h.world.product("OIL-1")
    h.world.stock("OIL-1", 2)
    who = staff(h)
    h.act()
    order = h.call("POST", "/api/v1/orders", who, {"lines": [{"sku": "OIL-1", "quantity": 3}]}, status=201)
    return Entry(who, "order", order["number"], after={"allocated": {"OIL-1": 2}, "backorder": {"OIL-1": 1}},
                 dealer="SH-1")  # fmt: skip


@case("stock.release")
def _(h):
    order = stock_order(h)
    who = hq(h)
    h.act()
    h.call("POST", f"/api/v1/orders/{order}/cancel", who, {"comment": "停产"})
    return Entry("cm", "order", order, after={"released": {"OIL-1": 2}}, dealer="SH-1")


@case("stock.ship")
def _(h):
    order, answer = ship_whole(h)
    return Entry("cm", "shipment", answer["shipment"]["number"], after={"order": order, "taken": {"OIL-1": 2}},
                 dealer="SH-1")  # fmt: skip


def expected_body(quantity: int = 20) -> dict:
    return {"warehouse_code": "WH-1", "sku": "OIL-1", "quantity": quantity,
            "expected_on": (today() + dt.timedelta(days=7)).isoformat(), "note": "工厂排产"}  # fmt: skip


@case("stock.expect")
def _(h):
    h.world.product("OIL-1")
    h.world.stock("OIL-1", 5, "WH-1")
    who = hq(h)
    h.act()
    made = h.call("POST", "/api/v1/stock/expected", who, expected_body(), status=201)
    return Entry("cm", "expected_receipt", str(made["id"]),
                 after={"warehouse": "WH-1", "sku": "OIL-1", "quantity": 20,
                        "expected_on": expected_body()["expected_on"], "note": "工厂排产"})  # fmt: skip


@case("stock.expect_cancel")
def _(h):
    h.world.product("OIL-1")
    h.world.stock("OIL-1", 5, "WH-1")
    who = hq(h)
    made = h.call("POST", "/api/v1/stock/expected", who, expected_body(), status=201)
    h.act()
    h.call("POST", f"/api/v1/stock/expected/{made['id']}/cancel", who, {"reason": "工厂延期"})
    return Entry("cm", "expected_receipt", str(made["id"]),
                 before={"outstanding": None, "reason": None, "status": "open"},
                 after={"outstanding": 20, "reason": "工厂延期", "status": "cancelled"})  # fmt: skip


@case("order.move_up")
def _(h):
    h.world.product("OIL-1")  # HQ holds none: the order waits for all of it
    order = h.call("POST", "/api/v1/orders", staff(h), {"lines": [{"sku": "OIL-1", "quantity": 3}]}, status=201)
    who = hq(h)
    h.act()
    moved = h.call("POST", f"/api/v1/orders/{order['number']}/move-up", who)["moved_up_at"]
    return Entry("cm", "order", order["number"], before={"backordered": None, "moved_up_at": None},
                 after={"backordered": {"OIL-1": 3}, "moved_up_at": moved}, dealer="SH-1")  # fmt: skip


# ---------------------------------------------------------------- shipping, dealer stock, sell-through


@case("shipment.create")
def _(h):
    order, answer = ship_whole(h)
    shipment, invoice = answer["shipment"], answer["invoice"]
    assert invoice["amount"] == shipment["gross"] == "2260.00"
    return Entry("cm", "shipment", shipment["number"], dealer="SH-1",
                 after={"order": order, "gross": "2260.00", "invoice": invoice["number"], "units": 0})  # fmt: skip


@case("shipment.receive")
def _(h):
    _order, shipment = shipped(h)
    who = staff(h)
    h.act()
    h.call("POST", f"/api/v1/shipments/{shipment}/receive", who)
    return Entry("sh-1.staff", "shipment", shipment, before={"status": "in_transit", "received_on": None},
                 after={"status": "received", "received_on": today().isoformat()}, dealer="SH-1")  # fmt: skip


@case("dealer_stock.adjust")
def _(h):
    h.world.product("OIL-1")
    d, who = dealer(h), dealer_admin(h)
    h.act()
    body = {"sku": "OIL-1", "delta": 3, "reason": "盘盈"}
    h.call("POST", f"/api/v1/dealers/{d}/stock/adjustments", who, body, status=201)
    return Entry(who, "dealer", d, dealer=d, after={"sku": "OIL-1", "delta": 3, "serial": None, "reason": "盘盈",
                                                   "moved_on": today().isoformat()})  # fmt: skip


@case("sell_through.record")
def _(h):
    h.world.product("OIL-1")
    d, who = dealer(h), staff(h)
    h.world.dealer_receipt(d, "OIL-1", 5, on=dt.date(2026, 1, 5))
    h.act()
    lines = [{"sold_on": "2026-02-01", "sku": "OIL-1", "quantity": 2, "unit_price": "1200.00"},
             {"sold_on": "2026-02-03", "sku": "OIL-1", "quantity": 1, "unit_price": "1150.00"}]  # fmt: skip
    h.call("POST", "/api/v1/sell-through", who, {"lines": lines}, status=201)
    return Entry(who, "dealer", d, dealer=d,
                 after={"lines": 2, "quantity": 3, "amount": "3550.00", "from": "2026-02-01", "to": "2026-02-03",
                        "source": "api"})  # fmt: skip


# ---------------------------------------------------------------- statements and disputes


@case("statement.confirm")
def _(h):
    statement_id, who = statement(h), dealer_admin(h)
    h.act()
    h.call("POST", f"/api/v1/statements/{statement_id}/confirm", who, {"comment": "无误"})
    return Entry(who, "statement", "ST-202601-SH-1 v1", after={"closing": "1000.00"}, dealer="SH-1")


@case("statement.dispute")
def _(h):
    statement_id, who = statement(h), dealer_admin(h)
    lines = h.world.statement_lines(statement_id)[:1]
    h.act()
    body = {"line_ids": lines, "comment": "价格不对"}
    dispute = h.call("POST", f"/api/v1/statements/{statement_id}/disputes", who, body, status=201)
    return Entry(who, "statement", "ST-202601-SH-1 v1", dealer="SH-1",
                 after={"dispute": dispute["id"], "line_ids": lines, "comment": "价格不对"})  # fmt: skip


@case("dispute.credit_note")
def _(h):
    return resolve(h, {"action": "credit_note", "amount": "50.00", "reason": "价格更正"})


@case("dispute.adjustment")
def _(h):
    def post_the_missing_payment():  # the ledger is corrected first; the adjustment re-issues the month from it
        h.world.payment("SH-1", "100.00", received_on=dt.date(2026, 1, 28), reference="BANK-2")

    return resolve(h, {"action": "adjustment", "reason": "BANK-2 已入账"}, before_act=post_the_missing_payment)


@case("dispute.reject")
def _(h):
    return resolve(h, {"action": "reject", "reason": "价格无误"})


# ---------------------------------------------------------------- rebates


@case("rebate.create")
def _(h):
    h.world.product("OIL-1", category="parts")  # a target category must exist in the catalogue
    who = hq(h)
    h.act()
    body = {"code": "RB-1", "name": "一季度返利", "period_start": "2026-01-01", "period_end": "2026-03-31",
            "scope": "tier:B", "basis": "sell_through_amount", "tier_kind": "percent", "cap": "5000.00",
            "tiers": [{"threshold": "0", "rate": "1"}, {"threshold": "10000", "rate": "2.5"}],
            "targets": {"categories": ["parts"]}}  # fmt: skip
    h.call("POST", "/api/v1/rebates", who, body, status=201)
    return Entry("cm", "rebate_programme", "RB-1",
                 after=rebate_snapshot(name="一季度返利", scope="tier:B", cap="5000.00", tiers=["0→1", "10000→2.5"],
                                       targets={"skus": [], "categories": ["parts"]}))  # fmt: skip


@case("rebate.update", "draft")
def _(h):
    code = programme(h, "draft")
    who = hq(h)
    h.act()
    h.call("PUT", f"/api/v1/rebates/{code}", who, {"cap": "3000.00", "period_end": "2026-06-30"})
    return Entry("cm", "rebate_programme", code, before={"cap": None, "period_end": "2026-03-31"},
                 after={"cap": "3000.00", "period_end": "2026-06-30"})  # fmt: skip


@case("rebate.update", "active-texts-only")
def _(h):
    code = programme(h, "active")
    who = hq(h)
    h.act()
    h.call("PUT", f"/api/v1/rebates/{code}", who, {"name": "一季度返利(修订)"})
    return Entry("cm", "rebate_programme", code, before={"name": "返利 RB-1"}, after={"name": "一季度返利(修订)"})


@case("rebate.activate")
def _(h):
    code = programme(h, "draft")
    who = hq(h)
    h.act()
    h.call("POST", f"/api/v1/rebates/{code}/activate", who)
    return Entry("cm", "rebate_programme", code, before={"status": "draft"}, after={"status": "active"})


@case("rebate.close")
def _(h):
    code, who = programme(h, "active"), hq(h)
    h.act()
    h.call("POST", f"/api/v1/rebates/{code}/close", who)
    return Entry("cm", "rebate_programme", code, before={"status": "active"}, after={"status": "closed"})


def settle_through_api(h: Harness, code: str) -> None:
    """Finance starts the settlement job; it runs (in-process, or drained from Redis) before this returns."""
    h.call("POST", f"/api/v1/rebates/{code}/settlements", finance(h), status=202)
    h.drain()


@case("rebate.close", "by-settlement")
def _(h):
    code = programme(h, "active", sales=True)
    finance(h)  # who starts the job
    h.act()
    settle_through_api(h, code)
    return Entry("fin", "rebate_programme", code, before={"status": "active", "by": None},
                 after={"status": "closed", "by": "settlement"})  # fmt: skip


@case("rebate.settlement.compute")
def _(h):
    code = programme(h, "closed", sales=True)
    finance(h)  # who starts the job
    h.act()
    settle_through_api(h, code)
    return Entry("fin", "rebate_programme", code, after={"computed": 1, "refreshed": 0, "carried": 0, "unchanged": 0})


def settlement(h: Harness) -> str:
    """RB-1 settled: SH-1's row computed at 20.00 (1 % of 2,000.00)."""
    code = programme(h, "closed", sales=True)
    h.world.settle(code)
    return code


@case("rebate.settlement.adjust")
def _(h):
    code = settlement(h)
    who = finance(h)
    h.act()
    h.call("POST", f"/api/v1/rebates/{code}/settlements/SH-1/adjust", who, {"amount": "5.00", "reason": "补差"})
    return Entry("fin", "rebate_settlement", f"{code}/SH-1", dealer="SH-1",
                 before={"adjustment": "0.00", "adjustment_reason": None, "amount": "20.00"},
                 after={"adjustment": "5.00", "adjustment_reason": "补差", "amount": "25.00"})  # fmt: skip


@case("rebate.settlement.approve")
def _(h):
    code = settlement(h)
    who = finance(h)
    h.act()
    row = h.call("POST", f"/api/v1/rebates/{code}/settlements/SH-1/approve", who)
    assert row["credit_note_number"].startswith("CN-")
    return Entry("fin", "rebate_settlement", f"{code}/SH-1", dealer="SH-1",
                 after={"status": "approved", "computed": "20.00", "adjustment": "0.00", "adjustment_reason": None,
                        "carried_in": "0.00", "amount": "20.00", "carries": [],
                        "credit_note": row["credit_note_number"]})  # fmt: skip


# ---------------------------------------------------------------- the benchmark's baseline endpoint


@case("bench.baseline")
def _(h):
    who = staff(h)
    bench = make_app(h.app.config["SQLALCHEMY_DATABASE_URI"], PORTAL_BENCH_ENDPOINTS=True)  # only mounted there
    h.act()
    resp = bench.test_client().post("/api/v1/bench/baseline", json={"lines": [{"sku": "X", "quantity": 1}]},
                                    headers=h.headers(who))  # fmt: skip
    assert resp.status_code == 201, resp.get_json()
    return Entry(who, "bench", "1", dealer="SH-1")  # a baseline row: nothing changes, nothing before or after


@case("email.resend")
def _(h):
    from portal.notify.models import OutboxEmail

    def failed():
        mail = OutboxEmail(to_address="li@example.com", subject="对账单", body="…", dedupe_key="k-1",
                           status="failed", attempts=5)  # fmt: skip
        db.session.add(mail)
        db.session.flush()
        return mail.id

    mail_id, who = h.world.run(failed), finance(h)
    h.act()
    h.call("POST", f"/api/v1/outbox/{mail_id}/resend", who)
    return Entry("fin", "email", str(mail_id), before={"status": "failed", "attempts": 5},
                 after={"status": "pending", "attempts": 0})  # fmt: skip


# ---------------------------------------------------------------- the dealer overview: contacts, addresses, notes


def _contact(h, role="owner", name="张强", phone="13900000001", email=None) -> dict:
    body = {"role": role, "name": name, "phone": phone, "email": email}
    return h.call("POST", f"/api/v1/dealers/{dealer(h)}/contacts", hq(h), body, status=201)


def _address(h, label="展厅") -> dict:
    body = {"label": label, "address": "上海市浦东新区世纪大道1号"}
    return h.call("POST", f"/api/v1/dealers/{dealer(h)}/addresses", hq(h), body, status=201)


@case("dealer.contact.add")
def _(h):
    d = dealer(h)
    hq(h)
    h.act()
    made = _contact(h)
    after = {"contact": made["id"], "role": "owner", "name": "张强", "phone": "13900000001", "email": None}
    return Entry("cm", "dealer", d, dealer=d, after=after)


@case("dealer.contact.update")
def _(h):
    made = _contact(h)
    h.act()
    h.call("PATCH", f"/api/v1/dealers/SH-1/contacts/{made['id']}", hq(h), {"phone": "13900000002"})
    return Entry("cm", "dealer", "SH-1", dealer="SH-1", before={"phone": "13900000001"}, after={"phone": "13900000002"})


@case("dealer.contact.remove")
def _(h):
    made = _contact(h, "finance", "林静", None, "fin@dealer.example.cn")
    h.act()
    h.call("DELETE", f"/api/v1/dealers/SH-1/contacts/{made['id']}", hq(h))
    return Entry("cm", "dealer", "SH-1", dealer="SH-1",
                 before={"contact": made["id"], "role": "finance", "name": "林静", "phone": None,
                         "email": "fin@dealer.example.cn"})  # fmt: skip


@case("dealer.address.add")
def _(h):
    d = dealer(h)
    hq(h)
    h.act()
    made = _address(h)
    return Entry("cm", "dealer", d, dealer=d,
                 after={"address_id": made["id"], "label": "展厅", "recipient": None, "phone": None,
                        "address": "上海市浦东新区世纪大道1号", "is_default": True, "active": True})  # fmt: skip


@case("dealer.address.update")
def _(h):
    made = _address(h)
    h.act()
    h.call("PATCH", f"/api/v1/dealers/SH-1/addresses/{made['id']}", hq(h), {"label": "旗舰展厅"})
    return Entry("cm", "dealer", "SH-1", dealer="SH-1", before={"label": "展厅"}, after={"label": "旗舰展厅"})


@case("dealer.address.remove")
def _(h):
    made = _address(h)
    h.act()
    h.call("DELETE", f"/api/v1/dealers/SH-1/addresses/{made['id']}", hq(h))
    return Entry("cm", "dealer", "SH-1", dealer="SH-1", before={"active": True, "is_default": True},
                 after={"active": False, "is_default": False})  # fmt: skip


@case("dealer.note.add")
def _(h):
    d, who = dealer(h), h.user("region_manager", "rm", region="EAST")
    h.act()
    made = h.call("POST", f"/api/v1/dealers/{d}/notes", who, {"body": "电话回访：月底前付款"}, status=201)
    return Entry("rm", "dealer", d, dealer=d, after={"note": made["id"], "body": "电话回访：月底前付款"})


# ---------------------------------------------------------------- the tests


@pytest.fixture
def h(app, client, world) -> Harness:
    return Harness(app, client, world)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_the_action_writes_one_audit_entry(h, case):
    expected = case.perform(h)
    assert h.mark is not None, "the case never called h.act(): its set-up would count as the action"
    found = h.entries(case.action)
    assert len(found) == 1, f"{case.action}: {len(found)} entries, expected exactly one: {found}"
    entry, actor_user = found[0]
    assert entry == expected
    assert not [s for s in SECRETS if s in repr(entry)], "a password reached the audit log"
    # the actor's id points at the same person (none for integration tokens and the system)
    assert actor_user == (None if entry.actor.startswith("token:") or entry.actor == "system" else entry.actor)


def test_every_recorded_action_has_a_case():
    literal, computed_in = recorded_actions()
    assert computed_in == set(COMPUTED), "a record() call computes its action: spell its values out in COMPUTED"
    in_code = literal | set().union(*COMPUTED.values())
    covered = {c.action for c in CASES}
    assert not covered & EXCLUDED, "an excluded action has a case: take it out of EXCLUDED"
    assert sorted(in_code - covered - EXCLUDED) == [], "actions recorded in the code without a case here"
    assert sorted(covered - in_code) == [], "cases of actions the code no longer records"
    assert len({c.id for c in CASES}) == len(CASES), "two cases with the same id: give one a variant"


# ---------------------------------------------------------------- a build-to-order product's options (§12)


def car_with_options(h: Harness) -> str:
    """CAR-7, built to order, offering colour WHT (the default); the channel manager."""
    h.world.product("CAR-7", list_price="100000.00", category="vehicles", build_to_order=True)
    h.world.option("CAR-7", "colour", "WHT", "珍珠白", "Pearl white", default=True)
    return hq(h)


@case("product_option.create")
def _(h):
    who = car_with_options(h)
    h.act()
    body = {"group": "colour", "code": "RED", "label": "烈焰红", "label_en": "Flame red", "price_delta": "3000.00"}
    h.call("POST", "/api/v1/products/CAR-7/options", who, body, status=201)
    return Entry(
        "cm",
        "product_option",
        "CAR-7/colour/RED",
        after={"group": "colour", "code": "RED", "label": "烈焰红", "label_en": "Flame red", "price_delta": "3000.00",
               "is_default": False, "active": True, "position": 0},
    )  # fmt: skip


@case("product_option.update")
def _(h):
    who = car_with_options(h)
    h.act()
    h.call("PATCH", "/api/v1/products/CAR-7/options/colour/WHT", who, {"label_en": "Pearl", "price_delta": "500"})
    return Entry("cm", "product_option", "CAR-7/colour/WHT", before={"label_en": "Pearl white", "price_delta": "0.00"},
                 after={"label_en": "Pearl", "price_delta": "500.00"})  # fmt: skip


@case("product_option.deactivate")
def _(h):
    who = car_with_options(h)
    h.act()
    h.call("PATCH", "/api/v1/products/CAR-7/options/colour/WHT", who, {"active": False})
    return Entry("cm", "product_option", "CAR-7/colour/WHT", before={"is_default": True, "active": True},
                 after={"is_default": False, "active": False})  # fmt: skip


# ---------------------------------------------------------------- credit requests and payment notices (§14)


def credit_request(h: Harness, amount: str = "20000.00") -> tuple[int, str]:
    """A pending request of SH-1 (EAST's approval limit is 100,000: the region manager decides); (id, valid_until)."""
    until = (today() + dt.timedelta(days=30)).isoformat()
    body = {"amount": amount, "valid_until": until, "reason": "旺季备货"}
    return h.call("POST", "/api/v1/credit-requests", dealer_admin(h), body, status=201)["id"], until


PENDING = {"status": "pending", "comment": None}


def region_manager(h: Harness) -> str:
    dealer(h)
    return h.user("region_manager", "rm", region="EAST")


@case("credit_request.create")
def _(h):
    who = dealer_admin(h)
    until = (today() + dt.timedelta(days=30)).isoformat()
    h.act()
    body = {"amount": "20000.00", "valid_until": until, "reason": "旺季备货"}
    req = h.call("POST", "/api/v1/credit-requests", who, body, status=201)
    after = {"amount": "20000.00", "valid_until": until, "reason": "旺季备货", "stage": "region"}
    return Entry("sh-1.admin", "credit_request", str(req["id"]), dealer="SH-1", after=after)


@case("credit_request.approve")
def _(h):
    request_id, _until = credit_request(h)
    who = region_manager(h)
    h.act()
    req = h.call("POST", f"/api/v1/credit-requests/{request_id}/approve", who, {"comment": "同意"})
    return Entry("rm", "credit_request", str(request_id), dealer="SH-1", before={**PENDING, "increase_id": None},
                 after={"status": "approved", "comment": "同意", "increase_id": req["increase_id"]})  # fmt: skip


@case("credit_request.reject")
def _(h):
    request_id, _until = credit_request(h)
    who = region_manager(h)
    h.act()
    h.call("POST", f"/api/v1/credit-requests/{request_id}/reject", who, {"comment": "逾期未清"})
    return Entry("rm", "credit_request", str(request_id), dealer="SH-1", before=PENDING,
                 after={"status": "rejected", "comment": "逾期未清"})  # fmt: skip


@case("credit_request.forward")
def _(h):
    request_id, _until = credit_request(h)
    who = region_manager(h)
    h.act()
    h.call("POST", f"/api/v1/credit-requests/{request_id}/forward", who, {"comment": "请财务定"})
    return Entry("rm", "credit_request", str(request_id), dealer="SH-1", before={"stage": "region", "comment": None},
                 after={"stage": "finance", "comment": "请财务定"})  # fmt: skip


@case("credit_request.withdraw")
def _(h):
    request_id, _until = credit_request(h)
    who = dealer_admin(h)
    h.act()
    h.call("POST", f"/api/v1/credit-requests/{request_id}/withdraw", who, {})
    return Entry("sh-1.admin", "credit_request", str(request_id), dealer="SH-1", before={"status": "pending"},
                 after={"status": "withdrawn"})  # fmt: skip


def payment_notice(h: Harness, reference: str = "TRX-1", amount: str = "800.00", voucher=None) -> dict:
    import io

    data = {"amount": amount, "paid_on": today().isoformat(), "reference": reference}
    if voucher is not None:
        data["file"] = (io.BytesIO(voucher[0]), voucher[1])
    resp = h.client.post("/api/v1/payment-notices", data=data, headers=h.headers(staff(h)),
                         content_type="multipart/form-data")  # fmt: skip
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


NOTIFIED = {"status": "notified", "payment": None, "amount": None, "how": None}


@case("payment_notice.create")
def _(h):
    staff(h)
    h.act()
    sent = payment_notice(h, voucher=(b"%PDF-1.7\n%\xe2\xe3\n", "回单.pdf"))
    return Entry("sh-1.staff", "payment_notice", str(sent["id"]), dealer="SH-1",
                 after={"amount": "800.00", "paid_on": today().isoformat(), "reference": "TRX-1",
                        "voucher": "回单.pdf"})  # fmt: skip


@case("payment_notice.match")
def _(h):
    sent = payment_notice(h, reference="MY-REF")
    who = finance(h)
    body = {"dealer_code": "SH-1", "amount": "790.00", "received_on": "2026-01-20", "reference": "BANK-9"}
    payment = h.call("POST", "/api/v1/payments", who, body, status=201)
    h.act()
    h.call("POST", f"/api/v1/payment-notices/{sent['id']}/match", who, {"payment_id": payment["id"]})
    return Entry("fin", "payment_notice", str(sent["id"]), dealer="SH-1", before=NOTIFIED,
                 after={"status": "matched", "payment": "BANK-9", "amount": "790.00", "how": "hand"})  # fmt: skip


@case("payment_notice.match", variant="posted")
def _(h):
    sent = payment_notice(h)
    who = finance(h)
    h.act()
    body = {"dealer_code": "SH-1", "amount": "800.00", "received_on": "2026-01-20", "reference": "TRX-1"}
    h.call("POST", "/api/v1/payments", who, body, status=201)
    return Entry("fin", "payment_notice", str(sent["id"]), dealer="SH-1", before=NOTIFIED,
                 after={"status": "matched", "payment": "TRX-1", "amount": "800.00", "how": "auto"})  # fmt: skip


@case("payment_notice.query")
def _(h):
    sent = payment_notice(h)
    who = finance(h)
    h.act()
    h.call("POST", f"/api/v1/payment-notices/{sent['id']}/query", who, {"query": "请补充回单"})
    return Entry("fin", "payment_notice", str(sent["id"]), dealer="SH-1", before={"status": "notified", "query": None},
                 after={"status": "queried", "query": "请补充回单"})  # fmt: skip


# ---------------------------------------------------------------- collections (§14)


def _scan(h, who, on=None):
    from portal.platform.timeutil import freeze

    moment = dt.datetime.combine(on or today(), dt.time(4), tzinfo=dt.UTC)
    with freeze(moment):
        h.call("POST", "/api/v1/credit/overdue-scan", who, status=202)
        h.drain()


@case("credit.dunning_level")
def _(h):
    d = dealer(h)
    day = today()
    h.world.invoice(d, "INV-D1", "1000.00", issued_on=day - dt.timedelta(days=40), due_on=day - dt.timedelta(days=20))
    who = finance(h)
    h.act()
    _scan(h, who)
    return Entry("system", "dealer", d, before={"dunning_level": 0}, after={"dunning_level": 15}, dealer=d)


@case("promise.create")
def _(h):
    d, who = dealer(h), finance(h)
    h.act()
    on = (today() + dt.timedelta(days=7)).isoformat()
    made = h.call("POST", f"/api/v1/dealers/{d}/promises", who, {"amount": "800", "promised_on": on, "note": "月底前"},
                  status=201)  # fmt: skip
    return Entry("fin", "promise", str(made["id"]), after={"amount": "800.00", "promised_on": on, "note": "月底前"},
                 dealer=d)  # fmt: skip


@case("promise.cancel")
def _(h):
    d, who = dealer(h), finance(h)
    on = (today() + dt.timedelta(days=7)).isoformat()
    first = h.call("POST", f"/api/v1/dealers/{d}/promises", who, {"amount": "800", "promised_on": on}, status=201)
    h.act()
    h.call("POST", f"/api/v1/dealers/{d}/promises", who, {"amount": "900", "promised_on": on}, status=201)
    return Entry("fin", "promise", str(first["id"]), before={"status": "open"}, after={"status": "cancelled"}, dealer=d)


@case("promise.settle")
def _(h):
    from portal.platform.timeutil import freeze

    d, who = dealer(h), finance(h)
    made_on = today() - dt.timedelta(days=5)
    with freeze(dt.datetime.combine(made_on, dt.time(4), tzinfo=dt.UTC)):
        body = {"amount": "800", "promised_on": (made_on + dt.timedelta(days=2)).isoformat()}
        made = h.call("POST", f"/api/v1/dealers/{d}/promises", who, body, status=201)
    h.act()
    _scan(h, who)
    return Entry("system", "promise", str(made["id"]), before={"status": "open"}, after={"status": "broken"}, dealer=d)


@case("collection_contact.create")
def _(h):
    d, who = dealer(h), finance(h)
    h.act()
    made = h.call("POST", f"/api/v1/dealers/{d}/collection-contacts", who, {"channel": "phone", "note": "已电话催收"},
                  status=201)  # fmt: skip
    after = {"channel": "phone", "note": "已电话催收"}
    return Entry("fin", "collection_contact", str(made["id"]), after=after, dealer=d)


# ---------------------------------------------------------------- payer accounts and unmatched receipts (§14)


def payer_account(h: Harness, number: str = "6222000000000001", active: bool = True) -> str:
    """A payer account of SH-1 registered by finance before the action; the finance user."""
    d, who = dealer(h), finance(h)
    h.call("POST", f"/api/v1/dealers/{d}/payer-accounts", who, {"account_number": number, "account_name": "甲"},
           status=201)  # fmt: skip
    if not active:
        h.call("POST", f"/api/v1/dealers/{d}/payer-accounts/deactivate", who, {"account_number": number})
    return who


def unmatched_receipt(h: Harness, serial: str = "BK-U-1") -> int:
    from decimal import Decimal

    from portal.banking.models import UnmatchedReceipt

    def make():
        row = UnmatchedReceipt(bank="icbc", serial=serial, received_on=dt.date(2026, 3, 2), amount=Decimal("800.00"),
                               payer_account="9999888877776666", payer_name="某公司", status="open")  # fmt: skip
        db.session.add(row)
        db.session.flush()
        return row.id

    return h.world.run(make)


@case("payer_account.create")
def _(h):
    d, who = dealer(h), finance(h)
    h.act()
    h.call("POST", f"/api/v1/dealers/{d}/payer-accounts", who,
           {"account_number": "6222 0000 0000 0001", "account_name": "上海甲"}, status=201)  # fmt: skip
    return Entry("fin", "payer_account", "6222000000000001", after={"account_name": "上海甲"}, dealer=d)


@case("payer_account.update")
def _(h):
    who = payer_account(h, active=False)
    h.act()
    h.call("POST", "/api/v1/dealers/SH-1/payer-accounts", who,
           {"account_number": "6222000000000001", "account_name": "乙"}, status=201)  # fmt: skip
    return Entry("fin", "payer_account", "6222000000000001", before={"account_name": "甲", "active": False},
                 after={"account_name": "乙", "active": True}, dealer="SH-1")  # fmt: skip


@case("payer_account.deactivate")
def _(h):
    who = payer_account(h)
    h.act()
    h.call("POST", "/api/v1/dealers/SH-1/payer-accounts/deactivate", who, {"account_number": "6222000000000001"})
    return Entry("fin", "payer_account", "6222000000000001", before={"active": True}, after={"active": False},
                 dealer="SH-1")  # fmt: skip


@case("unmatched_receipt.assign")
def _(h):
    d, who = dealer(h), finance(h)
    rid = unmatched_receipt(h)
    h.act()
    h.call("POST", f"/api/v1/unmatched-receipts/{rid}/assign", who, {"dealer_code": d})
    return Entry("fin", "unmatched_receipt", "BK-U-1", before={"dealer_code": None, "status": "open"},
                 after={"dealer_code": d, "status": "assigned"}, dealer=d)  # fmt: skip


@case("unmatched_receipt.dismiss")
def _(h):
    who = finance(h)
    rid = unmatched_receipt(h)
    h.act()
    h.call("POST", f"/api/v1/unmatched-receipts/{rid}/dismiss", who, {"reason": "银行结息"})
    return Entry("fin", "unmatched_receipt", "BK-U-1", before={"reason": None, "status": "open"},
                 after={"reason": "银行结息", "status": "dismissed"})  # fmt: skip


# ---------------------------------------------------------------- returns (RMA) and delivery discrepancies (§13)


def received(h: Harness, discrepancies: list[dict] | None = None) -> str:
    """The stock order shipped whole (2 × OIL-1, line gross 2,260.00) and received by SH-1's staff; the shipment."""
    _order, shipment = shipped(h)
    h.call("POST", f"/api/v1/shipments/{shipment}/receive", staff(h), {"discrepancies": discrepancies or []})
    return shipment


def returned(h: Harness, reason: str = "damaged", *steps: tuple[str, dict]) -> tuple[str, str, str]:
    """One of the 2 OIL-1 of a received shipment asked back by SH-1's administrator, then taken through `steps`
    (path suffix, body) by whom each step belongs to; (shipment, return number, dealer administrator)."""
    shipment = received(h)
    who = dealer_admin(h)
    body = {"shipment_number": shipment, "lines": [{"sku": "OIL-1", "quantity": 1}], "reason": reason}
    number = h.call("POST", "/api/v1/returns", who, body, status=201)["number"]
    for step, step_body in steps:
        h.call("POST", f"/api/v1/returns/{number}/{step}", who if step == "ship-back" else hq(h), step_body)
    return shipment, number, who


@case("return.request")
def _(h):
    shipment = received(h)
    who = dealer_admin(h)
    h.act()
    body = {"shipment_number": shipment, "lines": [{"sku": "OIL-1", "quantity": 1}], "reason": "damaged",
            "note": "包装破损"}  # fmt: skip
    made = h.call("POST", "/api/v1/returns", who, body, status=201)
    assert made["number"].startswith(f"RT-{today():%Y%m}-")
    return Entry(who, "return", made["number"], dealer="SH-1",
                 after={"shipment": shipment, "reason": "damaged", "value": "1130.00",
                        "lines": [{"sku": "OIL-1", "quantity": 1, "value": "1130.00"}]})  # fmt: skip


@case("return.approve")
def _(h):
    _shipment, number, _admin = returned(h, "overstock")
    who = hq(h)
    h.act()
    h.call("POST", f"/api/v1/returns/{number}/approve", who, {"restocking_fee_pct": "10", "comment": "同意"})
    before = {"status": "requested", "restocking_fee_pct": None, "fee": None, "comment": None}
    after = {"status": "approved", "restocking_fee_pct": "10.00", "fee": "113.00", "comment": "同意"}
    return Entry("cm", "return", number, before=before, after=after, dealer="SH-1")


@case("return.reject")
def _(h):
    _shipment, number, _admin = returned(h)
    who = hq(h)
    h.act()
    h.call("POST", f"/api/v1/returns/{number}/reject", who, {"comment": "非质量问题"})
    return Entry("cm", "return", number, before={"status": "requested", "comment": None},
                 after={"status": "rejected", "comment": "非质量问题"}, dealer="SH-1")  # fmt: skip


@case("return.ship_back")
def _(h):
    _shipment, number, who = returned(h, "damaged", ("approve", {}))
    h.act()
    h.call("POST", f"/api/v1/returns/{number}/ship-back", who)
    return Entry(who, "return", number, before={"status": "approved", "shipped_on": None}, dealer="SH-1",
                 after={"status": "shipped_back", "shipped_on": today().isoformat()})  # fmt: skip


@case("return.receive")
def _(h):
    _shipment, number, _admin = returned(h, "damaged", ("approve", {}), ("ship-back", {}))
    who = hq(h)
    h.act()
    body = {"warehouse_code": "WH-1", "lines": [{"sku": "OIL-1", "accepted": 1, "scrapped": 0}]}
    got = h.call("POST", f"/api/v1/returns/{number}/receive", who, body)
    note = got["credit_note"]["number"]
    return Entry("cm", "return", number, dealer="SH-1",
                 before={"status": "shipped_back", "warehouse": None, "received_on": None, "accepted": None,
                         "scrapped": None, "credit_note": None, "amount": None},
                 after={"status": "received", "warehouse": "WH-1", "received_on": today().isoformat(),
                        "accepted": 1, "scrapped": 0, "credit_note": note, "amount": "1130.00"})  # fmt: skip


def _only_discrepancy(h: Harness) -> str:
    items = h.call("GET", "/api/v1/discrepancies", hq(h))["items"]
    assert len(items) == 1, items
    return items[0]["number"]


@case("discrepancy.declare")
def _(h):
    _order, shipment = shipped(h)
    who = staff(h)
    h.act()
    body = {"discrepancies": [{"sku": "OIL-1", "quantity": 1, "kind": "short", "note": "少一桶"}]}
    h.call("POST", f"/api/v1/shipments/{shipment}/receive", who, body)
    number = _only_discrepancy(h)
    assert number.startswith(f"DC-{today():%Y%m}-")
    return Entry(who, "discrepancy", number, dealer="SH-1",
                 after={"shipment": shipment, "sku": "OIL-1", "serial": None, "quantity": 1, "kind": "short",
                        "value": "1130.00", "note": "少一桶"})  # fmt: skip


@case("discrepancy.credit")
def _(h):
    received(h, [{"sku": "OIL-1", "quantity": 1, "kind": "damaged"}])
    number, who = _only_discrepancy(h), hq(h)
    h.act()
    got = h.call("POST", f"/api/v1/discrepancies/{number}/resolve", who, {"how": "credit"})
    before = {"status": "open", "credit_note": None, "amount": None}
    after = {"status": "credited", "credit_note": got["credit_note_number"], "amount": "1130.00"}
    return Entry("cm", "discrepancy", number, before=before, after=after, dealer="SH-1")


@case("discrepancy.reship")
def _(h):
    received(h, [{"sku": "OIL-1", "quantity": 1, "kind": "short"}])
    number, who = _only_discrepancy(h), hq(h)
    h.act()
    got = h.call("POST", f"/api/v1/discrepancies/{number}/resolve", who, {"how": "reship"})
    assert got["reship_number"].startswith("DN-")
    return Entry("cm", "discrepancy", number, before={"status": "open", "shipment": None}, dealer="SH-1",
                 after={"status": "reshipped", "shipment": got["reship_number"]})  # fmt: skip


# ---------------------------------------------------------------- targets (§15)


@case("target.set", "dealer-created")
def _(h):
    d, who = dealer(h), hq(h)
    h.act()
    item = {"period": "2026-03", "scope": f"dealer:{d}", "measure": "sell_in_amount", "amount": "50000.00"}
    assert h.call("PUT", "/api/v1/targets", who, {"items": [item]}) == {"created": 1, "updated": 0, "unchanged": 0}
    return Entry("cm", "target", "dealer:SH-1 2026-03 sell_in_amount", after={"target": "50000.00"}, dealer="SH-1")


@case("target.set", "region-changed-by-its-manager's-manager")
def _(h):
    h.world.region("EAST")
    h.world.region("SH", parent="EAST")
    h.world.product("OIL-1", category="parts")
    who = h.user("region_manager", "rm.east", region="EAST")
    item = {"period": "2026-04", "scope": "region:SH", "measure": "sell_through_units", "category": "parts",
            "amount": 40}  # fmt: skip
    h.call("PUT", "/api/v1/targets", who, {"items": [item]})
    h.act()
    assert h.call("PUT", "/api/v1/targets", who, {"items": [{**item, "amount": "45"}]})["updated"] == 1
    return Entry("rm.east", "target", "region:SH 2026-04 sell_through_units parts", before={"target": "40.00"},
                 after={"target": "45.00"})  # fmt: skip
