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

    def sub_dealer(self, parent: str, code: str | None = None, **fields) -> str:
        """A sub-dealer (二级经销商, §16) of the distributor `parent`, in its region."""
        from portal.dealers.models import Dealer

        parent_id, region = self.run(
            lambda: (lambda d: (d.id, d.region.code))(db.session.query(Dealer).filter_by(code=parent).one())
        )
        return self.dealer(code, region, parent_id=parent_id, **fields)

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

    # --- work queues (tests/test_work_queues*.py) ---
    def dispute(self, statement_id: int, comment: str = "not our invoice", at=None) -> int:
        """The dealer disputes the first line of a statement through the service (the clock at `at`); its id."""
        from contextlib import nullcontext

        from portal.platform.timeutil import freeze
        from portal.statements import services
        from portal.statements.models import Statement

        line_id = self.statement_lines(statement_id)[0]

        def make():
            with freeze(at) if at is not None else nullcontext():
                return services.dispute(None, db.session.get(Statement, statement_id), [line_id], comment).id

        return self._in_request(make)

    def hold(self, dealer: str, reason: str = "late payments", at=None) -> None:
        """Finance puts the dealer on credit hold through the service (the clock at `at`)."""
        from contextlib import nullcontext

        from portal.credit import services
        from portal.platform.timeutil import freeze

        def make():
            with freeze(at) if at is not None else nullcontext():
                services.set_hold(None, self._dealer_obj(dealer), reason)

        self._in_request(make)

    def failed_job(self, username: str | None, kind: str = "payment_import", finished_at=None) -> str:
        """A background job that failed at `finished_at` (default now), started by `username` (None: the schedule)."""
        import uuid

        from portal.background.models import JobRecord
        from portal.dealers.models import User
        from portal.platform.timeutil import utcnow

        job_id = str(uuid.uuid4())

        def make():
            user = db.session.query(User).filter_by(username=username).one() if username else None
            when = finished_at or utcnow()
            db.session.add(
                JobRecord(
                    id=job_id,
                    kind=kind,
                    status="failed",
                    started_by_id=user.id if user else None,
                    error="boom",
                    created_at=when,
                    finished_at=when,
                )
            )

        self.run(make)
        return job_id

    def backorder(self, order: str, sku: str, quantity: int, promised_on=None) -> None:
        """Mark `quantity` of an order line as backordered with its promised date, directly (no allocation moves: for
        pages that only read the columns; HQ stock's own tests make backorders through its services)."""
        from portal.orders.models import Order, OrderLine

        def make():
            order_id = db.session.query(Order.id).filter_by(number=order).scalar()
            line = db.session.query(OrderLine).filter_by(order_id=order_id, sku=sku).one()
            line.backordered, line.promised_on = quantity, promised_on

        self.run(make)

    def notification(self, username: str, link: str | None = "/orders", title: str = "通知", at=None) -> int:
        """An in-app notification to a user (no e-mail), unread; its id."""
        from portal.dealers.models import User
        from portal.notify.models import Notification
        from portal.platform.timeutil import utcnow

        def make():
            user = db.session.query(User).filter_by(username=username).one()
            note = Notification(
                user_id=user.id,
                kind="test",
                title=title,
                body="正文",
                link=link,
                dedupe_key=f"test:{next(_seq)}",
                created_at=at or utcnow(),
            )
            db.session.add(note)
            db.session.flush()
            return note.id

        return self.run(make)

    # --- the dealer overview: contacts, ship-to addresses, notes, account manager ---
    def contact(
        self,
        dealer: str,
        role: str = "purchasing",
        name: str = "王伟",
        phone: str | None = "13800138000",
        email: str | None = None,
    ) -> int:
        """A contact of the dealer made through the service (as HQ would add it); its id."""
        from portal.dealers import services

        class _Hq:
            role, username, id, dealer_id = "hq_admin", "factory", None, None

        return self._in_request(
            lambda: (
                services.add_contact(
                    _Hq(), self._dealer_obj(dealer), {"role": role, "name": name, "phone": phone, "email": email}
                ).id
            )
        )

    def address(
        self,
        dealer: str,
        label: str = "展厅",
        address: str = "上海市浦东新区世纪大道1号",
        is_default: bool = False,
        recipient: str | None = None,
        phone: str | None = None,
    ) -> int:
        """A ship-to address made through the service (the first one becomes the default); its id."""
        from portal.dealers import services

        class _Hq:
            role, username, id, dealer_id = "hq_admin", "factory", None, None

        data = {"label": label, "address": address, "is_default": is_default, "recipient": recipient, "phone": phone}
        return self._in_request(lambda: services.add_address(_Hq(), self._dealer_obj(dealer), data).id)

    def note(self, dealer: str, body: str = "拜访：库存偏高") -> int:
        from portal.dealers import services

        class _Hq:
            role, username, id, dealer_id = "channel_manager", "factory", None, None

        return self._in_request(lambda: services.add_note(_Hq(), self._dealer_obj(dealer), {"body": body}).id)

    def account_manager(self, dealer: str, username: str | None) -> None:
        """Set (or clear) the dealer's account manager directly."""
        from portal.dealers.models import User

        def make():
            d = self._dealer_obj(dealer)
            d.account_manager = db.session.query(User).filter_by(username=username).one() if username else None

        self.run(make)

    def busy_dealer(self, code: str = "SH-001", region: str = "SH", *, invoices: int = 3, orders: int = 2) -> dict:
        """A dealer with something in every section of its overview (一户一档), as of today: invoices in several ageing
        buckets and a payment, open orders (one partly shipped and in transit, one waiting for stock), a statement, a
        temporary increase, stock received and sold, a rebate programme, contacts, addresses, a note. `invoices` and
        `orders` add that many more (the statement-count test grows them). Answers the numbers made."""
        import datetime as dt

        from portal.platform.timeutil import today

        t = today()
        for r, parent in (("EAST", None), (region, "EAST")):
            if (
                self.run(
                    lambda r=r: db.session.execute(db.text("SELECT 1 FROM regions WHERE code = :c"), {"c": r}).first()
                )
                is None
            ):
                self.region(r, parent=parent)
        self.dealer(code, region, tier="A")
        for sku, bto in (("P-1", False), ("BTO-1", True)):
            if (
                self.run(
                    lambda s=sku: db.session.execute(db.text("SELECT 1 FROM products WHERE sku = :s"), {"s": s}).first()
                )
                is None
            ):
                self.product(sku, build_to_order=bto, list_price="1000.00")
        self.stock("P-1", 200)
        self.credit_limit(code, "500000.00")
        self.credit_increase(code, "50000.00", t - dt.timedelta(days=5), t + dt.timedelta(days=20))
        made = {"invoices": [], "orders": []}
        made["invoices"].append(self.invoice(code, f"{code}-INV-OLD", "1000.00", issued_on=t - dt.timedelta(days=150)))
        made["invoices"].append(
            self.invoice(
                code,
                f"{code}-INV-MID",
                "2000.00",
                issued_on=t - dt.timedelta(days=40),
                due_on=t - dt.timedelta(days=10),
            )
        )
        for n in range(invoices):
            made["invoices"].append(
                self.invoice(code, f"{code}-INV-{n:04d}", f"{300 + n}.50", issued_on=t - dt.timedelta(days=n % 200))
            )
        self.payment(code, "400.00", received_on=t - dt.timedelta(days=3), reference=f"{code}-BANK-1")
        shipped = self.order(code, [("P-1", 3)])
        self.shipment(shipped, [("P-1", 1)])
        made["orders"].append(shipped)
        waiting = self.order(code, [("P-1", 5)])
        made["orders"].append(waiting)
        made["orders"].append(self.order(code, [("BTO-1", 1)]))
        for _n in range(orders):
            made["orders"].append(self.order(code, [("P-1", 1)]))
        last_month = (t.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
        made["statement"] = self.statement(code, last_month)
        self.dealer_receipt(code, "P-1", 10, on=t - dt.timedelta(days=60))
        self.sold(code, "P-1", t - dt.timedelta(days=45), 1, "1100.00")
        self.sold(code, "P-1", t - dt.timedelta(days=10), 3, "1200.00")
        made["rebate"] = self.rebate_programme(
            f"RB-{code}",
            scope=f"dealer:{code}",
            period_start=t.replace(day=1),
            period_end=t.replace(day=28) + dt.timedelta(days=10),
        )
        made["contacts"] = [
            self.contact(code, "owner", "张强", "13900000001"),
            self.contact(code, "finance", "林静", None, "finance@dealer.example.cn"),
        ]
        made["addresses"] = [
            self.address(code, "展厅", "上海市浦东新区世纪大道1号"),
            self.address(code, "仓库", "上海市嘉定区安亭镇2号", recipient="李娜", phone="021-6234 5678"),
        ]
        made["note"] = self.note(code, "月度拜访：库存偏高，建议促销")
        self.backorder(waiting, "P-1", 2, t + dt.timedelta(days=10))  # last: a later order could allocate it
        return made

    def credit_increase(self, dealer: str, amount: str, valid_from, valid_until) -> None:
        from portal.credit import services

        self._in_request(
            lambda: services.add_credit_increase(
                None,
                self._dealer_obj(dealer),
                amount=Decimal(amount),
                valid_from=valid_from,
                valid_until=valid_until,
                reason="旺季备货",
            )
        )

    # --- build-to-order options and §12 orders ---
    def option(
        self,
        sku: str,
        group: str,
        code: str,
        label: str,
        label_en: str,
        delta: str = "0.00",
        default: bool = False,
        position: int = 0,
    ) -> int:
        """An option of a build-to-order product, made through HQ's service (as the options page would); its id."""
        from portal.catalog import option_admin
        from portal.catalog.models import Product

        def make():
            product = db.session.query(Product).filter_by(sku=sku).one()
            return option_admin.create_option(
                None, product, group, code, label, label_en, Decimal(delta), is_default=default, position=position
            ).id

        return self._in_request(make)

    def order_with(
        self,
        dealer: str,
        lines: list[dict],
        *,
        username: str | None = None,
        requested_on=None,
        ship_to: int | None = None,
        note: str | None = None,
    ) -> str:
        """An order with lines as the API takes them ({sku, quantity, options?}), a requested delivery date and a
        ship-to address id (§12), through the service; placed by `username` (HQ or a region manager: on the dealer's
        behalf), else by the portal itself. Answers its number."""
        from portal.dealers.models import User
        from portal.orders import services

        def make():
            actor = db.session.query(User).filter_by(username=username).one() if username else None
            order, _created = services.place_order(
                actor, self._dealer_obj(dealer), lines, note, requested_on=requested_on, ship_to=ship_to
            )
            return order.number

        return self._in_request(make)
