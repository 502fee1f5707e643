"""The demo channel's year, told in time order.

Every action of the story is an event with its moment; the timeline runs them in that order, each with the clock
set to its moment (`freeze`), through the same services people and the integrations use. So whatever a page shows
happened in an order that makes sense — an order is placed, approved, built, shipped, received, invoiced and paid in
that order — and nothing happens after now: an event whose moment is not past yet is simply not told (the vehicles
still on the line, the invoices not yet due, the shipments on their way).

The story (`Story.tell`), from the first day of the month a year ago to now:

- before it starts: the dealers' credit limits, the stock they carried over, HQ's first lots of parts;
- every dealer orders on its cycle what its customers will want until the next delivery
  (`portal.orders.demo.replenishment`); orders over the credit limit wait for finance or the region manager; the
  cars' options, the delivery date asked for and the ship-to address are chosen as dealers do
  (`portal.orders.demo.Choices`); the channel manager and a region manager place an order on a dealer's behalf
  (代客下单), and the English-speaking dealer user leaves a basket (a server-side draft) to finish later;
- the build line reports its units' stages once a day (`portal.production.demo`); HQ ships an order once it is
  built (stock orders within days), the dealer confirms receipt days later; HQ's warehouses get a factory lot of
  each part every other Monday (`portal.inventory.demo_hq`);
- the dealers sell to their customers what they hold (`portal.inventory.demo_sales`) and report their sales once a
  month; they pay their invoices as each of them does (`portal.credit.demo`);
- the channel manager and finance do their part on their days: price lists, suspensions, rebate programmes and
  their settlement (`portal.rebates.demo`), the monthly statement runs with their confirmations and disputes
  (`portal.statements.demo`), temporary credit increases, a hold, the last days' overdue scans.
"""

from __future__ import annotations

import datetime as dt
import heapq
import random
from collections import Counter, defaultdict
from decimal import Decimal

from sqlalchemy import select

from portal.catalog.models import Product
from portal.credit import demo as credit_demo
from portal.extensions import db
from portal.inventory import demo_hq
from portal.inventory import demo_sales as sales
from portal.orders import demo as orders_demo
from portal.orders import services as orders
from portal.orders.models import Order
from portal.platform.errors import Conflict
from portal.platform.timeutil import freeze, portal_tz, today
from portal.production import demo as production_demo
from portal.production import stages as st
from portal.production.models import Unit
from portal.shipping import demo as shipping_demo
from portal.shipping.models import Shipment
from portal.shipping.services import SHIPPABLE
from portal.statements import demo as statements_demo

SETTLE = dt.timedelta(minutes=10)  # the last moment told is this long before now: the demo's own "just now"
GONE = ("rejected", "cancelled")
DAILY_MES_DAYS = 45  # the MES has sent its events daily for six weeks, weekly before


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), portal_tz())


def workday(day: dt.date) -> dt.date:
    return day + dt.timedelta(days=(7 - day.weekday()) % 7 if day.weekday() >= 5 else 0)


class Timeline:
    """Events in time order; each runs with the clock set to its moment. Nothing is told after `now - SETTLE`."""

    def __init__(self, now: dt.datetime):
        self.now = now
        self.last = now - SETTLE
        self.clock: dt.datetime | None = None
        self._queue: list = []
        self._seq = 0

    def at(self, moment: dt.datetime, action, *args) -> bool:
        """Tell `action(*args)` at `moment`; False (and nothing) when that is not past yet."""
        if moment > self.last:
            return False
        if self.clock is not None and moment < self.clock:
            raise ValueError(f"{action.__name__} at {moment} would happen before {self.clock}")
        heapq.heappush(self._queue, (moment, self._seq, action, args))
        self._seq += 1
        return True

    def run(self) -> None:
        while self._queue:
            moment, _seq, action, args = heapq.heappop(self._queue)
            self.clock = moment
            with freeze(moment):
                action(*args)


class Story:
    def __init__(self, dealers, people: dict, rng: random.Random, now: dt.datetime, echo=print):
        self.dealers, self.people, self.rng, self.echo = dealers, people, rng, echo
        self.tl = Timeline(now)
        self.today = self.business_day(now)
        self.first = self.first_day(now)
        self.counts: Counter = Counter()
        self.finance, self.channel = people["finance"], people["channel"]
        from portal.platform.auth import IntegrationPrincipal

        self.erp = IntegrationPrincipal(type("Token", (), {"scope": "erp", "name": "erp"})())
        self.mes = production_demo.mes_principal()
        self.mes_waiting: dict[dt.date, list] = defaultdict(list)
        self.account_of: dict[int, sales.Account] = {}  # order id → account
        self.own: set[int] = set()  # the headline dealer's own vehicle orders
        self.products: dict[int, Product] = {}
        self.parts: list[Product] = []
        self.warehouses: list = []
        self.profile: dict[int, str] = {}
        self.monthly_value: dict[int, Decimal] = {}
        self.settled = None
        self.accounts: dict[int, sales.Account] = {}
        self.backordered: list[int] = []  # the wiper orders of the last fortnight (`_backorders`)
        self.choices: orders_demo.Choices | None = None  # options, delivery dates, ship-to addresses (`tell`)
        self.by_sku: dict[str, Product] = {}

    @staticmethod
    def business_day(now: dt.datetime) -> dt.date:
        return now.astimezone(portal_tz()).date()

    @classmethod
    def first_day(cls, now: dt.datetime) -> dt.date:
        """The story starts on the first day of the month a year ago."""
        return (cls.business_day(now).replace(day=1) - dt.timedelta(days=365)).replace(day=1)

    def r(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    # ------------------------------------------------------------ the plan

    def tell(self) -> None:
        rng, first, now_day = self.rng, self.first, self.today
        products = db.session.execute(select(Product).order_by(Product.sku)).scalars().all()
        self.products = {p.id: p for p in products}
        self.by_sku = {p.sku: p for p in products}
        self.parts = [p for p in products if not p.build_to_order]
        self.choices = orders_demo.Choices()
        staff = {}
        for user in self.people.values():
            if user.dealer_id and user.role == "dealer_staff":
                staff[user.dealer_id] = user
        accounts = sales.plan_accounts(rng, self.dealers, staff, products, first, now_day - dt.timedelta(days=1))
        self.accounts = {a.id: a for a in accounts}
        for index, account in enumerate(accounts):
            self.profile[account.id] = credit_demo.profile_of(index)
            self.monthly_value[account.id] = sum(
                (Decimal(str(account.rate[p.id])) * p.list_price * (1 + p.tax_rate) for p in account.products),
                Decimal(0),
            )
        # before the first month: limits, the stock carried over, HQ's first lots
        covers, first_orders = {}, {}
        for account in accounts:
            cycle = orders_demo.cycle_days(account)
            first_orders[account.id] = workday(first + dt.timedelta(days=rng.randrange(cycle)))
            reach = first_orders[account.id] + dt.timedelta(days=orders_demo.LEAD_DAYS[True] + orders_demo.SAFETY_DAYS)
            factor = (lambda: rng.uniform(3.0, 4.0)) if account.slow else (lambda: rng.uniform(1.0, 1.15))
            covers[account.id] = {p.id: account.expected(p, first, reach) * factor() for p in account.products}
        with freeze(local(first - dt.timedelta(days=3), 10)):
            for account in accounts:
                credit_demo.open_account(self.finance, account.dealer, credit_demo.credit_limit(
                    self.monthly_value[account.id], orders_demo.cycle_days(account)))  # fmt: skip
        with freeze(local(first - dt.timedelta(days=1), 18)):
            opened = sales.open_stock(accounts, covers, first - dt.timedelta(days=1))
        self.counts["opening vehicles"], self.counts["opening parts"] = opened["vehicles"], opened["parts"]
        with freeze(local(first - dt.timedelta(days=2), 8)):
            self.warehouses = demo_hq.create_warehouses(self.channel)
        tl = self.tl
        tl.at(local(first - dt.timedelta(days=2), 8, 30), self.factory_lots, False)
        lot_day = demo_hq.next_monday(first)
        lot_days = []
        while lot_day < now_day:
            lot_days.append(lot_day)
            lot_day += dt.timedelta(days=demo_hq.LOT_EVERY_DAYS)
        for day in lot_days:
            tl.at(local(day, 8), self.factory_lots, (now_day - day).days < 7 * demo_hq.ENDING_WEEKS)
        reporting = sales.reporting_start(now_day)
        for account in accounts:
            tl.at(local(first_orders[account.id], self.r(9, 16), self.r(0, 59)), self.order, account)
            month = sales.month_end(first) + dt.timedelta(days=1)
            while month <= now_day:
                if month >= reporting:
                    tl.at(local(month + dt.timedelta(days=self.r(1, 4)), self.r(10, 17), self.r(0, 59)), self.report,
                          account, month - dt.timedelta(days=1))  # fmt: skip
                if self.profile[account.id] == "prepay":
                    tl.at(local(month + dt.timedelta(days=1), 11, self.r(0, 59)), self.prepay, account)
                if month.month in (1, 4, 7, 10) and rng.random() < 0.4:
                    tl.at(local(month + dt.timedelta(days=9), 14, self.r(0, 59)), self.erp_invoice, account)
                month = sales.month_end(month) + dt.timedelta(days=1)
        self._channel_and_finance_days()
        self._own_orders()
        self._backorders()
        self._on_behalf()
        tl.at(tl.last - dt.timedelta(minutes=40), self.leave_draft)
        tl.at(tl.last, self.final)
        tl.run()

    def _channel_and_finance_days(self) -> None:
        from portal.rebates import demo as rebates_demo

        tl, now_day, first = self.tl, self.today, self.first
        d = self.dealers
        tl.at(local(first + dt.timedelta(days=100), 10), self.change, "tier")
        tl.at(local(first + dt.timedelta(days=200), 15), self.change, "approval_limit")
        tl.at(local(now_day - dt.timedelta(days=75), 10), self.change, "suspend")
        tl.at(local(now_day - dt.timedelta(days=20), 16), self.change, "user")
        tl.at(local(now_day - dt.timedelta(days=orders_demo.PROMOTION_DAYS + 2), 10), orders_demo.east_ev_promotion,
              self.channel, now_day)  # fmt: skip
        month_start = now_day.replace(day=1)
        for dealer in d[::9]:
            tl.at(local(month_start, 9, 30), self.temporary_increase, dealer)
        tl.at(local(now_day - dt.timedelta(days=6), 16), credit_demo.manual_hold, self.finance, d[12])
        # the daily overdue scan at 02:00: today's if it has run already, else yesterday's
        if not tl.at(local(now_day, 2), self.overdue_scan):
            tl.at(local(now_day - dt.timedelta(days=1), 2), self.overdue_scan)
        # rebates: last quarter settled three weeks after it ended (or just now, early in a quarter)
        this_start, this_end = rebates_demo.quarter(now_day)
        last_start, last_end = rebates_demo.quarter(this_start - dt.timedelta(days=1))
        tl.at(local(last_start - dt.timedelta(days=7), 10), self.rebates_last_quarter, last_start, last_end)
        tl.at(min(local(last_end + dt.timedelta(days=20), 10), tl.last - dt.timedelta(minutes=5)),
              self.rebates_settlement)  # fmt: skip
        tl.at(local(this_start - dt.timedelta(days=7), 10, 30), self.rebates_this_quarter, this_start, this_end)
        # statements: the runs of the last three closed months, on the 1st at 08:00
        for age, period in enumerate(reversed(statements_demo.periods(now_day))):
            tl.at(local(statements_demo.next_month(period), 8), self.statement_run, period, age)

    def _own_orders(self) -> None:
        """The headline dealer's own vehicle orders of the last weeks, and the East dealers' customer orders during
        the East EV promotion (a vehicle or three for customers who want one, sold when it arrives)."""
        account = self.accounts.get(self.dealers[0].id)
        if account is not None and account.user is not None:
            for days, sku, quantity in production_demo.OWN_ORDERS:
                moment = local(self.today - dt.timedelta(days=days), self.r(9, 11), self.r(0, 59))
                self.tl.at(moment, self.own_order, account, sku, quantity, days == production_demo.OWN_ORDERS[-1][0])
        for account in self.accounts.values():
            evs = [p for p in account.products if p.category == "ev"]
            if not evs or not account.dealer.region.path.startswith("/HQ/EAST/"):
                continue
            for _n in range(self.r(1, 2)):
                day = workday(self.today - dt.timedelta(days=self.r(3, orders_demo.PROMOTION_DAYS - 2)))
                self.tl.at(local(day, self.r(9, 16), self.r(0, 59)), self.customer_order, account,
                           self.rng.choice(evs), self.r(1, 3))  # fmt: skip

    def _backorders(self) -> None:
        """The last fortnight's backorders (§12): the wipers are out (no lot of them for weeks), HQ records the two
        lots the factory announces, a few dealers order wipers all the same — approved, they wait, promised on the
        expected lots or after the lead time — and the channel manager moves the last of them up the queue. Who orders
        and how many come from a generator of its own (reproducible like the rest)."""
        rng = random.Random(12)  # noqa: S311 (demo data, reproducible)
        wiper = next((p for p in self.parts if p.sku == demo_hq.ON_REQUEST), None)
        if wiper is None:
            return
        buyers = sorted((a for a in self.accounts.values() if wiper in a.products and a.user is not None
                         and a.dealer.status == "active"), key=lambda a: a.id)  # fmt: skip
        if not buyers:
            return
        now_day = self.today
        lots = [("SH", 30, now_day + dt.timedelta(days=4)), ("TJ", 40, now_day + dt.timedelta(days=18))]
        self.tl.at(local(now_day - dt.timedelta(days=10), 9, 30), self.expect_lots, wiper.id, lots)
        placed_days = (9, 7, 6, 4, 3)
        for days, account in zip(placed_days, rng.sample(buyers, min(len(buyers), len(placed_days))), strict=False):
            moment = local(now_day - dt.timedelta(days=days), rng.randint(10, 16), rng.randint(0, 59))
            self.tl.at(moment, self.backorder, account, wiper.sku, rng.choice((10, 15, 20, 25)))
        self.tl.at(local(now_day - dt.timedelta(days=2), 11, 15), self.move_up_last, wiper.id)

    def _on_behalf(self) -> None:
        """Two orders placed on a dealer's behalf (代客下单) in the last week: the channel manager orders a fleet
        customer's SUV, with the options the customer wants, for the headline dealer; the East region manager orders
        electric SUVs for one of its dealers after a visit."""
        headline = self.accounts.get(self.dealers[0].id)
        if headline is not None and headline.user is not None:
            moment = local(workday(self.today - dt.timedelta(days=5)), 15, 20)
            options = {"colour": "BLU", "interior": "TAN-LEA", "trim": "FLAG", "package": "ADAS"}
            self.tl.at(moment, self.for_dealer, headline, self.channel, [{"sku": "V-SUV-X7", "quantity": 1,
                                                                           "options": options}])  # fmt: skip
        manager = self.people.get("rm.east")
        east = sorted((a for a in self.accounts.values() if a.user is not None and a.dealer.status == "active"
                       and a.dealer.id != self.dealers[0].id and a.dealer.region.path.startswith("/HQ/EAST/")
                       and any(p.sku == "V-EV-E5" for p in a.products)), key=lambda a: a.id)  # fmt: skip
        if manager is not None and east:
            moment = local(workday(self.today - dt.timedelta(days=3)), 11, 5)
            lines = [{"sku": "V-EV-E5", "quantity": 2, "options": {"colour": "GRN", "trim": "LUX"}}]
            self.tl.at(moment, self.for_dealer, east[0], manager, lines)

    def for_dealer(self, account: sales.Account, who, lines: list[dict]) -> None:
        """An order placed on the dealer's behalf: its customer wants the car within five weeks."""
        if account.dealer.status == "active" and self.place(account, lines, own=True, by=who, within=35) is not None:
            self.counts["placed on behalf"] += 1

    def leave_draft(self) -> None:
        """The English-speaking user of the headline dealer starts a basket and leaves it for later (§12)."""
        from portal.orders import drafts

        user = self.people.get("dealer.en")
        dealer = self.dealers[0]
        if user is None or dealer.status != "active":
            return
        addresses = self.choices.addresses.get(dealer.id, [])
        lines = [
            {"sku": "V-EV-E5", "quantity": 2, "options": {"colour": "GRN", "interior": "BLK-LEA", "trim": "LUX"}},
            {"sku": "P-CHARGER-7KW", "quantity": 2},
            {"sku": "P-MAT-SET", "quantity": 5},
        ]
        drafts.save_draft(user, dealer, lines, note="Showroom restock for the EV weekend; check the colours first.",
                          ship_to=addresses[-1] if addresses else None)  # fmt: skip
        self.counts["drafts"] += 1

    def expect_lots(self, product_id: int, lots: list) -> None:
        from portal.inventory import hq

        for code, quantity, on in lots:
            hq.expect(self.channel, code, self.products[product_id], quantity, on, "工厂排产通知 Factory notice")
            self.counts["expected receipts"] += 1

    def backorder(self, account: sales.Account, sku: str, quantity: int) -> None:
        order = self.place(account, [{"sku": sku, "quantity": quantity}], own=True)
        if order is not None:
            self.backordered.append(order.id)

    def move_up_last(self, product_id: int) -> None:
        from portal.inventory import backorders

        for order_id in reversed(self.backordered):
            order = db.session.get(Order, order_id)
            if any(ln.backordered for ln in order.lines):
                backorders.move_up(self.channel, order)
                self.counts["moved up"] += 1
                return

    # ------------------------------------------------------------ orders

    def order(self, account: sales.Account) -> None:
        day = today()
        nxt = workday(day + dt.timedelta(days=orders_demo.cycle_days(account) + self.r(-3, 3)))
        self.tl.at(local(nxt, self.r(9, 16), self.r(0, 59)), self.order, account)
        account.sell_until(day - dt.timedelta(days=1), self.rng, self.products)
        lines = orders_demo.replenishment(account, day, demo_hq.available())
        if lines:
            self.place(account, lines)

    def own_order(self, account: sales.Account, sku: str, quantity: int, fleet: bool = False) -> None:
        """`fleet`: an order for a fleet customer, larger than the dealer's available credit (it waits for review)."""
        if fleet:
            from portal.credit.services import credit_summary

            unit = orders.quote(account.dealer, [{"sku": sku, "quantity": 1}])["gross"]
            quantity = max(quantity, min(20, int(credit_summary(account.dealer)["available"] / unit) + 1))
        self.place(account, [{"sku": sku, "quantity": quantity}], own=True)

    def customer_order(self, account: sales.Account, product: Product, quantity: int) -> None:
        order = self.place(account, [{"sku": product.sku, "quantity": quantity}], own=True)
        if order is not None and order.status != "rejected":
            account.promise(product, quantity, today() + dt.timedelta(days=orders_demo.LEAD_DAYS[True] + 4))

    def place(
        self, account: sales.Account, lines: list[dict], own: bool = False, by=None, within: int | None = None
    ) -> Order | None:
        """`by`: the channel or region manager who places the order on the dealer's behalf (else the dealer's user);
        `within`: the goods are wanted within this many days (else as the dealer's choices say)."""
        lines = self.choices.lines(lines, self.by_sku)
        delivery = self.choices.delivery(account.dealer.id, lines, self.by_sku, today())
        if within is not None:
            delivery["requested_on"] = today() + dt.timedelta(days=within)
        try:
            order, _created = orders.place_order(by or account.user, account.dealer, lines, **delivery)
        except Conflict as exc:  # a dealer on hold or suspended is refused, as in real life
            if exc.code not in ("credit_hold", "dealer_suspended"):
                raise
            self.counts[f"refused ({exc.code})"] += 1
            return None
        self.counts["orders"] += 1
        self.account_of[order.id] = account
        if own:
            self.own.add(order.id)
        for ln in order.lines:
            account.pipeline[ln.product_id] += ln.quantity
        if order.status == "approved":
            self.approved(order)
        elif (self.today - today()).days >= orders_demo.OPEN_REVIEW_DAYS:  # the last days' still wait
            day = today() + dt.timedelta(days=self.r(1, 3))
            self.tl.at(local(day, self.r(10, 17), self.r(0, 59)), self.decide, order.id)
        return order

    def decide(self, order_id: int) -> None:
        order = db.session.get(Order, order_id)
        outcome = orders_demo.decide(order, self.rng, self.people, self.account_of[order.id].user)
        self.counts[f"review {outcome}"] += 1
        if outcome == "cancelled":
            self.counts["cancelled"] += 1
        if outcome == "approved":
            self.approved(order)
        elif outcome in GONE:
            self._forget(order)

    def _forget(self, order: Order) -> None:
        account = self.account_of[order.id]
        for ln in order.lines:
            account.pipeline[ln.product_id] = max(0, account.pipeline[ln.product_id] - ln.quantity)

    def approved(self, order: Order) -> None:
        day = today()
        if not any(ln.product.build_to_order for ln in order.lines):
            if order.id not in self.own and self.rng.random() < 0.03:
                self.tl.at(local(day + dt.timedelta(days=1), self.r(10, 16), self.r(0, 59)), self.cancel, order.id)
                return
            self.tl.at(local(day + dt.timedelta(days=self.r(2, 6)), 10, self.r(0, 59)), self.ship, order.id, 0)
            return
        units = db.session.execute(
            select(Unit.serial, Unit.created_at, Unit.product_id).where(Unit.order_id == order.id).order_by(Unit.id)
        ).all()
        done, complete = None, True
        for serial, created_at, product_id in units:
            events = production_demo.stage_events(self.rng, serial, created_at, self.products[product_id].category,
                                                  self.tl.last)  # fmt: skip
            for event in events:
                self._to_mes(event)
            if not events or events[-1]["stage"] != st.completed():
                complete = False
            else:
                done = max(done or events[-1]["occurred_at"], events[-1]["occurred_at"])
        if complete and done is not None:
            batch_day = self._batch_day(done)
            self.tl.at(local(batch_day + dt.timedelta(days=self.r(1, 3)), self.r(9, 11), self.r(0, 59)), self.ship,
                       order.id, 0)  # fmt: skip

    def cancel(self, order_id: int) -> None:
        order = db.session.get(Order, order_id)
        if order.status == "approved":
            orders.cancel(self.channel, order, "经销商要求取消。 Cancelled at the dealer's request.")
            self.counts["cancelled"] += 1
            self._forget(order)

    # ------------------------------------------------------------ the build line

    def _batch_day(self, moment: dt.datetime) -> dt.date:
        """The MES sends a day's events at 23:50 (what happens later goes with the next day's); until six weeks
        ago it sent a week's events at once."""
        day = (moment + dt.timedelta(minutes=10)).astimezone(portal_tz()).date()
        if (self.today - day).days > DAILY_MES_DAYS:
            day += dt.timedelta(days=-(day - self.first).days % 7)
        return day

    def _to_mes(self, event: dict) -> None:
        day = self._batch_day(event["occurred_at"])
        if day not in self.mes_waiting:
            self.tl.at(local(day, 23, 50), self.mes_batch, day)  # not told when that is after now: `final` sends
        self.mes_waiting[day].append(event)

    def mes_batch(self, day: dt.date) -> None:
        events = self.mes_waiting.pop(day, [])
        if events:
            self.counts["stage events"] += production_demo.send(self.mes, events, self.rng)

    # ------------------------------------------------------------ shipping

    def ship(self, order_id: int, tries: int) -> None:
        order = db.session.get(Order, order_id)
        if order.status not in SHIPPABLE:
            return
        day = today()
        has_units = any(ln.product.build_to_order for ln in order.lines)
        if (has_units and order.status != "built") or shipping_demo.stock_short(order):
            self.counts["shipments delayed"] += 1
            if tries < 30:
                self.tl.at(local(day + dt.timedelta(days=1), 10, self.r(0, 59)), self.ship, order_id, tries + 1)
            return
        shipment = shipping_demo.ship(self.channel, order, day)
        self.counts["shipments"] += 1
        self.tl.at(local(day + dt.timedelta(days=self.r(2, 6)), self.r(14, 17), self.r(0, 59)), self.receive,
                   shipment.id)  # fmt: skip
        invoice, dealer = shipment.invoice, order.dealer
        for pay_on, amount in credit_demo.payments(self.profile[dealer.id], invoice.amount, invoice.due_on, self.rng):
            self.tl.at(local(max(pay_on, day + dt.timedelta(days=1)), self.r(9, 16), self.r(0, 59)), self.pay, dealer,
                       amount)  # fmt: skip
        if self.rng.random() < credit_demo.CREDIT_NOTE_SHARE:
            self.tl.at(local(day + dt.timedelta(days=self.r(3, 20)), 14, self.r(0, 59)), self.price_correction,
                       dealer, invoice.id)  # fmt: skip

    def receive(self, shipment_id: int) -> None:
        shipment = db.session.get(Shipment, shipment_id)
        day = today()
        account = self.accounts[shipment.dealer_id]
        account.sell_until(day - dt.timedelta(days=1), self.rng, self.products)  # what was sold before it came
        shipping_demo.receive(shipment, day)
        self.counts["received"] += 1
        for line in shipment.lines:
            account.receive(self.products[line.product_id], line.quantity, [u.serial for u in line.units], day)

    def factory_lots(self, ending: bool) -> None:
        day = today()
        weekly: dict[int, float] = defaultdict(float)
        for account in self.accounts.values():
            for product in account.products:
                if not product.build_to_order:
                    weekly[product.id] += account.expected(product, day, day + dt.timedelta(days=6))
        self.counts["factory lots"] += demo_hq.factory_lots(self.channel, self.rng, self.warehouses, self.parts,
                                                            weekly, ending)  # fmt: skip

    # ------------------------------------------------------------ the dealers' sales and money

    def report(self, account: sales.Account, until: dt.date) -> None:
        account.sell_until(today() - dt.timedelta(days=1), self.rng, self.products)
        self.counts["sell-through lines"] += account.report(until)

    def pay(self, dealer, amount: Decimal) -> None:
        self.counts["payments"] += 1
        credit_demo.pay(self.finance, dealer, amount, today(), self.counts["payments"])

    def prepay(self, account: sales.Account) -> None:
        amount = credit_demo.prepayment(account.dealer, self.monthly_value[account.id], self.rng)
        if amount > 0:
            self.pay(account.dealer, amount)

    def price_correction(self, dealer, invoice_id: int) -> None:
        from portal.credit.models import LedgerEntry

        credit_demo.price_correction(self.finance, dealer, db.session.get(LedgerEntry, invoice_id), self.rng)
        self.counts["credit notes"] += 1

    def erp_invoice(self, account: sales.Account) -> None:
        self.counts["erp invoices"] += 1
        credit_demo.erp_invoice(self.erp, account.dealer, self.rng, self.counts["erp invoices"])

    def temporary_increase(self, dealer) -> None:
        from portal.credit.services import credit_row

        credit_demo.temporary_increase(self.finance, dealer, credit_row(dealer).credit_limit, self.today)

    def overdue_scan(self) -> None:
        from portal.credit.overdue import overdue_scan

        summary = overdue_scan(today())
        self.counts["holds"] += summary["holds_set"]
        self.counts["reminders"] += summary["reminders_sent"]

    # ------------------------------------------------------------ the channel manager and finance

    def change(self, what: str) -> None:
        """A few changes made through the services, as people would, so the audit log has a history."""
        from portal.dealers import services

        d, admin = self.dealers, self.people["admin"]
        if what == "suspend":
            for dealer in (d[7], d[29]):
                services.update_dealer(self.channel, dealer, {"status": "suspended"})
        elif what == "tier":
            services.update_dealer(self.channel, d[3], {"tier": "A", "payment_terms_days": 45})
        elif what == "approval_limit":
            from portal.dealers.models import Region

            south = db.session.execute(select(Region).where(Region.code == "SOUTH")).scalar_one()
            services.update_region(admin, south, {"approval_limit": Decimal("600000")})
        elif what == "user":
            services.update_user(admin, self.people["finance.en"], {"locale": "en",
                                                                    "display_name": "Fiona Finance (AR)"})  # fmt: skip

    def _expected(self, start: dt.date, end: dt.date, what: str) -> dict[int, Decimal]:
        """Each dealer's forecast for the period: sell-in amount (gross), sell-through amount, vehicles."""
        out = {}
        for account in self.accounts.values():
            total = Decimal(0)
            for p in account.products:
                pieces = Decimal(str(round(account.expected(p, start, end), 2)))
                if what == "sell_in_amount":
                    total += pieces * p.list_price * (1 + p.tax_rate)
                elif what == "sell_through_amount":
                    total += pieces * (p.min_resale_price * Decimal("1.05") if p.build_to_order
                                       else p.list_price * Decimal("1.45"))  # fmt: skip
                elif p.build_to_order:
                    total += pieces
            out[account.id] = total
        return out

    def rebates_last_quarter(self, start: dt.date, end: dt.date) -> None:
        from portal.rebates import demo as rebates_demo

        bases = list(self._expected(start, end, "sell_in_amount").values())
        self.settled = rebates_demo.last_quarter(self.channel, start, end, bases)

    def rebates_settlement(self) -> None:
        from portal.rebates import demo as rebates_demo

        if self.settled is not None:
            self.counts["rebate"] = rebates_demo.settle(self.finance, self.settled)

    def rebates_this_quarter(self, start: dt.date, end: dt.date) -> None:
        from portal.rebates import demo as rebates_demo

        through = rebates_demo.this_quarter_sell_through(
            self.channel, start, end, list(self._expected(start, end, "sell_through_amount").values())
        )
        east = [a.id for a in self.accounts.values() if a.dealer.region.path.startswith("/HQ/EAST/")]
        units = self._expected(start, end, "units")
        vehicles = rebates_demo.this_quarter_east_vehicles(
            self.channel, start, end, rebates_demo.vehicle_categories(), [units[i] for i in east]
        )
        self.counts["active programmes"] = f"{through.code} and {vehicles.code}"

    def statement_run(self, period: str, age: int) -> None:
        issued = statements_demo.run(period, self.finance, self.dealers, pdfs=age == 0)
        self.counts["statements"] += len(issued)
        rng, start = self.rng, statements_demo.next_month(period)
        disputed = {d.id for d in rng.sample(self.dealers, k=3) if d.id in issued}
        if age == 0 and self.dealers[0].id in issued:
            disputed.add(self.dealers[0].id)
        late = min(disputed) if age == 2 and disputed else None  # settled after the next month was stated
        for dealer in self.dealers:
            if dealer.id not in issued:
                continue
            if dealer.id in disputed:
                open_ = age == 0 and dealer.id == self.dealers[0].id
                self.tl.at(statements_demo.at(start + dt.timedelta(days=self.r(1, 4)), 10), self.dispute, dealer.id,
                           period, age, "open" if open_ else ("late" if dealer.id == late else "settle"))  # fmt: skip
            elif rng.random() < statements_demo.CONFIRM_SHARE[age]:
                self.tl.at(statements_demo.at(start + dt.timedelta(days=self.r(1, 8)), 11), self.confirm, dealer.id,
                           period, None)  # fmt: skip

    def dispute(self, dealer_id: int, period: str, age: int, fate: str) -> None:
        item = statements_demo.dispute(self.rng, dealer_id, period)
        if item is None:
            return
        self.counts["disputes"] += 1
        if fate == "open":
            return
        start = statements_demo.next_month(period)
        days = self.r(33, 38) if fate == "late" else self.r(5, 9)
        self.tl.at(statements_demo.at(start + dt.timedelta(days=days), 15), self.settle, item.id, period, age,
                   fate == "late")  # fmt: skip

    def settle(self, dispute_id: int, period: str, age: int, late: bool) -> None:
        from portal.statements.models import Dispute

        item = db.session.get(Dispute, dispute_id)
        if item.status != "open":
            return
        statements_demo.settle(self.rng, self.finance, item, credit_note=late)
        self.counts["disputes settled"] += 1
        if age > 0:
            self.tl.at(self.tl.clock + dt.timedelta(days=2, hours=-4), self.confirm, item.dealer_id, period,
                       "已核对无误。 Checked, agreed.")  # fmt: skip

    def confirm(self, dealer_id: int, period: str, comment: str | None) -> None:
        if statements_demo.confirm(dealer_id, period, comment):
            self.counts["confirmed"] += 1

    # ------------------------------------------------------------ just now

    def final(self) -> None:
        """What has happened today so far reaches the portal: the build line's last events, the dealers' sales up
        to yesterday; the part that runs low keeps a few pieces."""
        waiting = [e for day in sorted(self.mes_waiting) for e in self.mes_waiting[day]]
        self.mes_waiting.clear()
        if waiting:
            self.counts["stage events"] += production_demo.send(self.mes, waiting, self.rng)
        yesterday = today() - dt.timedelta(days=1)
        for account in self.accounts.values():
            account.sell_until(yesterday, self.rng, self.products)
            self.counts["sell-through lines"] += account.report(yesterday)
        demo_hq.top_up_limited(self.channel, self.rng, self.warehouses, self.parts)

    @staticmethod
    def _waiting() -> str:
        from sqlalchemy import func

        from portal.orders.models import OrderLine

        lines, pieces = db.session.execute(
            select(func.count(), func.coalesce(func.sum(OrderLine.backordered), 0)).where(OrderLine.backordered > 0)
        ).one()
        return f"{lines} lines waiting ({pieces} pieces)"

    def summary(self) -> list[str]:
        c = self.counts
        missed = sum(a.missed for a in self.accounts.values())
        waiting = (
            db.session.execute(select(Order.number).where(Order.status == "credit_review").order_by(Order.number))
            .scalars()
            .all()
        )
        rebate = c.get("rebate") or {}
        return [
            f"Orders: {c['orders']} over 12 months ({c['review approved']} approved, {c['review rejected']} rejected "
            f"and {c['review cancelled']} withdrawn in credit review, {c['cancelled']} cancelled in all; "
            f"{c['placed on behalf']} placed on a dealer's behalf, {c['drafts']} basket left as a draft); build line: "
            f"{c['stage events']} stage events; waiting for credit review: {', '.join(waiting) or 'none'}.",
            f"  HQ stock: {len(self.warehouses)} warehouses, {c['factory lots']} factory lots; shipments: "
            f"{c['shipments']} ({c['received']} received, {c['shipments'] - c['received']} on their way); "
            f"backorders: {self._waiting()}, {c['expected receipts']} expected receipts, {c['moved up']} moved up.",
            f"  Receivables: {c['payments']} payments, {c['credit notes']} credit notes, {c['erp invoices']} ERP "
            f"invoices; overdue scans: {c['holds']} holds, {c['reminders']} reminders.",
            f"  Sell-through: {c['sell-through lines']} lines; carried over: {c['opening vehicles']} vehicles, "
            f"{c['opening parts']} parts; wanted but not in stock: {missed} pieces.",
            f"Rebates: last quarter settled ({rebate.get('computed', 0)} dealers, {rebate.get('credit_notes', 0)} "
            f"credit notes, {rebate.get('total', 0)} CNY), {c.get('active programmes', '-')} active.",
            f"Statements: {c['statements']} issued (last month's PDFs stored), {c['confirmed']} confirmed, "
            f"{c['disputes']} disputes ({c['disputes settled']} settled).",
        ]
