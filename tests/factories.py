"""Factories: build a small channel in the database and answer plain identifiers (codes, usernames).

Each call runs in its own short application context and commits, so no test holds a session open
while it makes requests.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

from portal.extensions import db

PASSWORD = "Test-pass-123"
_seq = itertools.count(1)


class World:
    def __init__(self, app):
        self.app = app

    def run(self, fn, *args, **kwargs):
        """Call fn inside an app context and commit; return its result."""
        with self.app.app_context():
            try:
                result = fn(*args, **kwargs)
                db.session.commit()
                return result
            finally:
                db.session.remove()

    # --- people ---
    def region(
        self,
        code: str | None = None,
        parent: str | None = None,
        approval_limit: str = "100000",
        name: str | None = None,
    ) -> str:
        from portal.dealers.models import Region

        code = code or f"R{next(_seq)}"

        def make():
            p = db.session.query(Region).filter_by(code=parent).one() if parent else None
            db.session.add(
                Region(
                    code=code,
                    name=name or f"区域 {code}",
                    parent=p,
                    path=(p.path if p else "/") + code + "/",
                    approval_limit=Decimal(approval_limit),
                )
            )

        self.run(make)
        return code

    def dealer(
        self,
        code: str | None = None,
        region: str | None = None,
        *,
        tier: str = "B",
        channel_type: str = "4s_store",
        status: str = "active",
        name: str | None = None,
        **extra,
    ) -> str:
        from portal.dealers.models import Dealer, Region

        code = code or f"D-{next(_seq):04d}"
        region = region or self.region()

        def make():
            r = db.session.query(Region).filter_by(code=region).one()
            db.session.add(
                Dealer(
                    code=code,
                    name=name or f"经销商{code}",
                    region=r,
                    tier=tier,
                    channel_type=channel_type,
                    status=status,
                    **extra,
                )
            )

        self.run(make)
        return code

    def user(
        self,
        role: str,
        *,
        dealer: str | None = None,
        region: str | None = None,
        username: str | None = None,
        password: str = PASSWORD,
        locale: str = "en",
        active: bool = True,
    ) -> str:
        from werkzeug.security import generate_password_hash

        from portal.dealers.models import Dealer, Region, User

        username = username or f"{role}.{next(_seq)}"
        if role in ("dealer_staff", "dealer_admin") and dealer is None:
            dealer = self.dealer()
        if role == "region_manager" and region is None:
            region = self.region()

        def make():
            d = db.session.query(Dealer).filter_by(code=dealer).one() if dealer else None
            r = db.session.query(Region).filter_by(code=region).one() if region else None
            db.session.add(
                User(
                    username=username,
                    password_hash=generate_password_hash(password, "pbkdf2:sha256:1000"),
                    role=role,
                    dealer=d,
                    region=r,
                    locale=locale,
                    active=active,
                )
            )

        self.run(make)
        return username

    def token(self, username: str) -> str:
        from portal.dealers.models import User
        from portal.platform.auth import issue_personal_token

        def make():
            with self.app.test_request_context():
                user = db.session.query(User).filter_by(username=username).one()
                return issue_personal_token(user)[0]

        return self.run(make)

    def integration_token(self, scope: str, name: str = "mes") -> str:
        from portal.platform.auth import issue_integration_token

        return self.run(issue_integration_token, name, scope)

    def auth(self, username: str) -> dict:
        return {"Authorization": f"Bearer {self.token(username)}"}

    # --- reading ---
    def get(self, model, **by):
        """A detached copy of one row's columns as a dict (None if missing)."""

        def read():
            obj = db.session.query(model).filter_by(**by).one_or_none()
            return None if obj is None else {c.key: getattr(obj, c.key) for c in model.__table__.columns}

        return self.run(read)

    def count(self, model, **by) -> int:
        return self.run(lambda: db.session.query(model).filter_by(**by).count())

    def snapshot(self) -> dict:
        """Every row of every table, for 'nothing changed' assertions."""

        def read():
            out = {}
            for table in db.metadata.sorted_tables:
                rows = db.session.execute(table.select()).all()
                out[table.name] = sorted(repr(tuple(r)) for r in rows)
            return out

        return self.run(read)

    # --- receivables ---
    def _dealer_obj(self, code):
        from portal.dealers.models import Dealer

        return db.session.query(Dealer).filter_by(code=code).one()

    def _in_request(self, fn):
        def wrapped():
            with self.app.test_request_context(method="POST"):
                return fn()

        return self.run(wrapped)

    def invoice(
        self, dealer: str, number: str | None = None, amount: str = "1000.00", issued_on=None, due_on=None
    ) -> int:
        import datetime as dt

        from portal.credit import services

        number = number or f"INV-{next(_seq):06d}"
        issued_on = issued_on or dt.date(2026, 1, 5)
        return self._in_request(
            lambda: (
                services.post_invoice(
                    None,
                    self._dealer_obj(dealer),
                    number=number,
                    issued_on=issued_on,
                    due_on=due_on,
                    amount=Decimal(amount),
                ).id
            )
        )

    def payment(self, dealer: str, amount: str = "500.00", received_on=None, reference: str | None = None) -> int:
        import datetime as dt

        from portal.credit import services

        reference = reference or f"BANK-{next(_seq):06d}"
        received_on = received_on or dt.date(2026, 1, 20)
        return self._in_request(
            lambda: (
                services.post_payment(
                    None, self._dealer_obj(dealer), amount=Decimal(amount), received_on=received_on, reference=reference
                ).id
            )
        )

    def credit_limit(self, dealer: str, amount: str) -> None:
        from portal.credit import services

        self._in_request(lambda: services.set_credit_limit(None, self._dealer_obj(dealer), Decimal(amount), "set up"))

    def application_of(self, entry_id: int) -> int:
        from portal.credit.models import Application

        return self.run(
            lambda: (
                db.session.query(Application)
                .filter((Application.credit_id == entry_id) | (Application.invoice_id == entry_id))
                .first()
                .id
            )
        )

    def job(self, username: str, kind: str = "payment_import") -> str:
        import uuid

        from portal.background.models import JobRecord
        from portal.dealers.models import User

        job_id = str(uuid.uuid4())

        def make():
            user = db.session.query(User).filter_by(username=username).one()
            db.session.add(
                JobRecord(
                    id=job_id,
                    kind=kind,
                    status="finished",
                    started_by_id=user.id,
                    result={"applied": True, "payments": 0, "total": "0.00", "errors": []},
                )
            )

        self.run(make)
        return job_id

    # --- catalogue and orders ---
    def product(self, sku: str | None = None, *, list_price: str = "1000.00", category: str = "parts",
                tax_rate: str = "0.13", build_to_order: bool = False, active: bool = True, name: str | None = None,
                min_resale_price: str | None = None) -> str:
        from portal.catalog.models import Product

        sku = sku or f"SKU-{next(_seq):05d}"
        self.run(lambda: db.session.add(Product(
            sku=sku, name=name or f"产品 {sku}", name_en=f"Product {sku}", category=category, unit="pc",
            list_price=Decimal(list_price), tax_rate=Decimal(tax_rate), build_to_order=build_to_order,
            lead_time_days=30 if build_to_order else 0, active=active,
            min_resale_price=Decimal(min_resale_price) if min_resale_price else None)))
        return sku

    def price_list(self, scope: str, rules: list[dict], *, priority: int = 0, valid_from=None, valid_to=None,
                   name: str | None = None) -> int:
        from portal.catalog import services

        data = {"name": name or f"价格政策 {scope}", "scope": scope, "priority": priority, "valid_from": valid_from,
                "valid_to": valid_to, "rules": [
                    {k: (Decimal(v) if k in ("unit_price", "discount_pct") and v is not None else v)
                     for k, v in r.items()} for r in rules]}
        return self._in_request(lambda: services.save_price_list(None, data).id)

    def order(self, dealer: str, lines: list[tuple[str, int]], username: str | None = None) -> str:
        from portal.dealers.models import User
        from portal.orders import services

        def make():
            actor = db.session.query(User).filter_by(username=username).one() if username else None
            order, _created = services.place_order(actor, self._dealer_obj(dealer),
                                                   [{"sku": s, "quantity": q} for s, q in lines])
            return order.number

        return self._in_request(make)

    # --- build-line tracking ---
    def serials(self, order: str) -> list[str]:
        """The VINs of an order's units, in unit order."""
        from portal.orders.models import Order
        from portal.production.models import Unit

        def read():
            order_id = db.session.query(Order.id).filter_by(number=order).scalar()
            return [s for (s,) in db.session.query(Unit.serial).filter_by(order_id=order_id).order_by(Unit.id)]

        return self.run(read)

    def approve(self, order: str, username: str) -> None:
        """An approver approves an order in credit review (through the service)."""
        from portal.dealers.models import User
        from portal.orders import services
        from portal.orders.models import Order

        def make():
            actor = db.session.query(User).filter_by(username=username).one()
            services.approve(actor, db.session.query(Order).filter_by(number=order).one(), "ok")

        self._in_request(make)

    def cancel(self, order: str, username: str) -> None:
        from portal.dealers.models import User
        from portal.orders import services
        from portal.orders.models import Order

        def make():
            actor = db.session.query(User).filter_by(username=username).one()
            services.cancel(actor, db.session.query(Order).filter_by(number=order).one(), "取消")

        self._in_request(make)

    def stage_events(self, serial: str) -> list[tuple[str, object]]:
        """(stage, occurred_at) of a unit's stored events, in time order."""
        from portal.production.models import StageEvent, Unit

        def read():
            unit_id = db.session.query(Unit.id).filter_by(serial=serial).scalar()
            rows = db.session.query(StageEvent.stage, StageEvent.occurred_at).filter_by(unit_id=unit_id)
            return [tuple(r) for r in rows.order_by(StageEvent.occurred_at, StageEvent.id)]

        return self.run(read)

    def mes_events(self, events: list[dict], at=None) -> list[dict]:
        """Ingest events through the service as the MES would (optionally with the clock at `at`)."""
        from contextlib import nullcontext

        from portal.platform.auth import IntegrationPrincipal
        from portal.platform.timeutil import freeze
        from portal.production import services

        mes = IntegrationPrincipal(type("Token", (), {"scope": "production", "name": "mes"})())

        def make():
            with freeze(at) if at is not None else nullcontext():
                return services.ingest(mes, events)

        return self._in_request(make)

    # --- shipping ---
    def shipment(self, order: str, lines: list[tuple[str, int]], serials: list[str] | None = None) -> str:
        """HQ ships quantities (and units) of an order through the service; answers the shipment number."""
        from portal.orders.models import Order
        from portal.shipping import services

        def make():
            shipment, _created = services.ship(
                None,
                db.session.query(Order).filter_by(number=order).one(),
                lines=[{"sku": s, "quantity": q} for s, q in lines],
                serials=serials,
            )
            return shipment.number

        return self._in_request(make)

    # --- statements ---
    def statement(self, dealer: str, period: str, by: str = "test") -> int | None:
        """Issue (or re-read, when unchanged) the dealer's statement of `period`; its id."""
        from portal.statements import services

        def make():
            statement, _outcome = services.issue(by, self._dealer_obj(dealer), period)
            return statement.id if statement is not None else None

        return self._in_request(make)

    def statement_lines(self, statement_id: int) -> list[int]:
        from portal.statements.models import StatementLine

        return self.run(
            lambda: [
                line.id
                for line in db.session.query(StatementLine)
                .filter_by(statement_id=statement_id)
                .order_by(StatementLine.position)
            ]
        )

    # --- channel flow (analytics) ---
    @staticmethod
    def add_sold(dealer_id: int, product, sold_on, quantity: int, unit_price, *, serial: str | None = None,
                 city: str | None = None) -> None:
        """Inside the caller's session (no commit): a sell-through line as the writers store it — the line, its `sale`
        movement (negative) and its share of the monthly sums, in the same transaction."""
        from portal.inventory.models import DealerStockMove, SellThroughLine
        from portal.inventory.sums import add_to_monthly
        from portal.platform.money import money

        price = money(unit_price)
        floor = product.min_resale_price
        move = DealerStockMove(dealer_id=dealer_id, product_id=product.id, sku=product.sku, serial=serial,
                               quantity=-quantity, kind="sale", moved_on=sold_on, created_by="test")  # fmt: skip
        db.session.add(move)
        db.session.flush()
        line = SellThroughLine(
            dealer_id=dealer_id, product_id=product.id, sku=product.sku, serial=serial, quantity=quantity,
            unit_price=price, amount=money(price * quantity), floor_price=floor,
            below_floor=floor is not None and price < floor, sold_on=sold_on, city=city, source="portal",
            stock_move_id=move.id, created_by="test")  # fmt: skip
        db.session.add(line)
        db.session.flush()
        add_to_monthly([line])

    def sold(self, dealer: str, sku: str, sold_on, quantity: int = 1, unit_price: str = "1000.00", **extra) -> None:
        """A sell-through line with its `sale` movement and monthly sums, committed (no stock check: give the dealer its
        receipts first when the test needs a consistent stock)."""
        from portal.catalog.models import Product

        self.run(lambda: self.add_sold(self._dealer_obj(dealer).id, db.session.query(Product).filter_by(sku=sku).one(),
                                       sold_on, quantity, unit_price, **extra))  # fmt: skip

    # --- HQ stock ---
    def stock(self, sku: str, quantity: int, warehouse: str = "WH-1", on=None) -> None:
        """HQ receives `quantity` of `sku` into `warehouse` (made when missing) through the service."""
        from portal.catalog.models import Product
        from portal.inventory import hq

        def make():
            wh = hq.warehouse_by_code(warehouse) or hq.create_warehouse(None, warehouse, f"仓库 {warehouse}")
            hq.receive(None, wh, db.session.query(Product).filter_by(sku=sku).one(), quantity, on=on)

        self._in_request(make)

    # --- dealer stock and sell-through ---
    def dealer_receipt(self, dealer: str, sku: str, quantity: int = 1, on=None, serial: str | None = None) -> None:
        """Goods arrive in the dealer's yard (a `receipt` movement, as shipping's receive writes it)."""
        import datetime as dt

        from portal.catalog.models import Product
        from portal.inventory.models import DealerStockMove
        from portal.inventory.sums import add_moves_to_channel

        def make():
            product = db.session.query(Product).filter_by(sku=sku).one()
            move = DealerStockMove(
                dealer_id=self._dealer_obj(dealer).id, product_id=product.id, sku=sku, serial=serial,
                quantity=quantity, kind="receipt", moved_on=on or dt.date(2026, 1, 5), created_by="test")  # fmt: skip
            db.session.add(move)
            add_moves_to_channel([move])

        self.run(make)

    def sell(self, dealer: str, lines: list[dict], username: str | None = None, source: str = "portal") -> list[int]:
        """Record sell-through lines through the service (dicts as the API takes them, typed); their ids."""
        from portal.dealers.models import User
        from portal.inventory import sellthrough

        def make():
            actor = db.session.query(User).filter_by(username=username).one() if username else None
            return [ln.id for ln in sellthrough.record(actor, self._dealer_obj(dealer), lines, source=source)]

        return self._in_request(make)

    # --- rebates ---
    def rebate_programme(self, code: str | None = None, **fields) -> str:
        """A rebate programme made through the service (portal.rebates.services.save_programme); answers its code.

        Defaults: scope all, sell-through amount, percent tiers 0 → 1 %, 10,000 → 2 %, Q1 2026, active. Pass any field
        of save_programme's data (tiers as [(threshold, rate)] or dicts; strings are fine for numbers), and
        `status="draft" | "active" | "closed"`."""
        import datetime as dt

        from portal.rebates import services

        code = code or f"RB-{next(_seq):04d}"
        status = fields.pop("status", "active")
        data = {
            "code": code,
            "name": f"返利 {code}",
            "period_start": dt.date(2026, 1, 1),
            "period_end": dt.date(2026, 3, 31),
            "scope": "all",
            "basis": "sell_through_amount",
            "tier_kind": "percent",
            "cap": None,
            "tiers": [("0", "1"), ("10000", "2")],
            "targets": {},
            **fields,
        }
        data["tiers"] = [
            {"threshold": Decimal(str(t["threshold"])), "rate": Decimal(str(t["rate"]))}
            if isinstance(t, dict)
            else {"threshold": Decimal(str(t[0])), "rate": Decimal(str(t[1]))}
            for t in data["tiers"]
        ]
        if data["cap"] is not None:
            data["cap"] = Decimal(str(data["cap"]))

        def make():
            programme = services.save_programme(None, data)
            if status in ("active", "closed"):
                services.activate(None, programme)
            if status == "closed":
                services.close(None, programme)
            return programme.code

        return self._in_request(make)

    def settle(self, code: str) -> dict:
        """Compute (or re-compute) the programme's settlements synchronously, as the job does; its counts."""
        from portal.rebates import services
        from portal.rebates.models import RebateProgramme

        def make():
            programme = db.session.query(RebateProgramme).filter_by(code=code).one()
            return services.compute_settlement(None, programme)

        return self._in_request(make)

    def approve_rebate(self, code: str, dealer: str) -> dict:
        """Approve one dealer's computed settlement through the service (as finance would); the row's columns."""
        from portal.rebates import services
        from portal.rebates.models import RebateProgramme, RebateSettlement

        def make():
            programme = db.session.query(RebateProgramme).filter_by(code=code).one()
            settlement = (
                db.session.query(RebateSettlement)
                .filter_by(programme_id=programme.id, dealer_id=self._dealer_obj(dealer).id)
                .one()
            )
            settlement = services.approve(None, settlement)
            return {c.key: getattr(settlement, c.key) for c in RebateSettlement.__table__.columns}

        return self._in_request(make)
