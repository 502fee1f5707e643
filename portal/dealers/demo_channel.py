"""The multi-level channel (§16) in the demo, after its story: two distributors and their sub-dealers' last four
months, told in time order like the rest (`portal.demo_timeline.Timeline`: each action under `freeze` at its moment,
through the services, nothing after now).

- About four months ago HQ's channel manager signs three sub-dealers (二级网点) under each of two distributors that
  hold parts and a few cars — SH-001 (上海, whose English login is `dealer.en`) and WH-003 (武汉, in 湖北) — in the
  distributor's region; each has an admin and a staff login (the demo's password; SH-001-B's admin uses the portal
  in English). The distributor's admin adds their ship-to addresses, sets their credit limits and keeps two price
  lists for them: 8 % off the list price of every part for all its sub-dealers (and 2 % off one car category: below
  HQ's minimum resale price, which the list marks), and a fixed price on one part for its first sub-dealer.
- Every one to three weeks a sub-dealer's staff orders from its distributor the few parts it sells (and now and then
  a car the distributor holds). An order beyond the sub-dealer's credit waits in credit review; the distributor's
  admin approves it a few days later — except the overdue sub-dealer's first one, rejected with the reason; six
  weeks ago the admin suspended that one's credit (limit 0: each of its orders is reviewed since). The distributor's
  staff ships each approved order out of the distributor's own stock one to four days later (VINs unit by unit); the
  sub-dealer confirms receipt one to three days after that.
- The sub-dealers sell what they received, a few sales a week reported every Monday (now and then a car below the
  floor, more often at two of them), and early each month pay their distributor the invoices of the months before,
  recorded by the distributor's admin — except WH-003-C, which pays only a third of what it owes, days after its
  order was rejected: WH-003's receivables show its ageing.
- The last days (`LAST_DAYS`, each tried by the sub-dealers in turn until one can order): an order over the limit
  rejected (unless the overdue one's was), two transfers on their way, a car order waiting in credit review, an
  order approved and not shipped yet.

The distributors' stock is what the main story left them, read once and kept up to date with the transfers. A
sub-dealer orders no more than half of what its distributor can spare on the day (its stock on that day and every
later one, less what its open orders to sub-dealers hold), and its sub-dealers no more in all than 60 % of what the
story left it of a part: no day of the distributor's stock goes negative, every transfer ships in full and the
distributor keeps stock of its own. So how much the sub-dealers order depends on the day the demo is loaded (the
distributors run low before each delivery from HQ). Drawn from a generator of its own: the rest of the demo is the
same with or without it.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, select

from portal.catalog import services as catalog
from portal.catalog.models import Product
from portal.credit import services as credit
from portal.dealers import channel
from portal.dealers import services as dealers
from portal.dealers.models import Dealer, User
from portal.demo import KINDS, STREETS, _person
from portal.demo_timeline import Timeline, local, workday
from portal.extensions import db
from portal.inventory import dealer_stock, sellthrough
from portal.orders import services as orders
from portal.orders.models import Order
from portal.platform.money import money
from portal.platform.timeutil import portal_tz, today, utcnow
from portal.shipping import services as shipping
from portal.shipping.models import Shipment

SEED = 20261216
SIGNED_DAYS_AGO = 122  # the sub-dealers were signed about four months ago
# (distributor, suffix, city, district, brand, KINDS index, tier, credit limit, how it sells and pays)
SUBS = [
    ("SH-001", "A", "上海", "青浦", "华通", 0, "B", "300000", "cheap"),
    ("SH-001", "B", "上海", "奉贤", "远航", 3, "C", "80000", ""),
    ("SH-001", "C", "上海", "金山", "恒信", 2, "C", "60000", ""),
    ("WH-003", "A", "孝感", "孝南", "瑞丰", 0, "B", "250000", ""),
    ("WH-003", "B", "黄冈", "黄州", "金桥", 3, "C", "80000", "cheap"),
    ("WH-003", "C", "宜昌", "西陵", "永达", 4, "C", "8000", "overdue"),
]
ENGLISH = "SH-001-B"  # its admin uses the portal in English
ENGLISH_NAME = "Sophie Sub-dealer"
PART_DISCOUNT = Decimal("8")  # off the list price, every part, for all the distributor's sub-dealers
CAR_DISCOUNT = Decimal("2")  # one car category: below HQ's minimum resale price (the list marks it)
FIXED_PRICE = Decimal("0.88")  # one sub-dealer's price of one part, of its list price
SHARE = 2  # a sub-dealer orders no more than 1/SHARE of what its distributor can spare on the day
BUDGET = Decimal("0.6")  # and its sub-dealers no more in all than this share of what the story left it of a part
SALE_CHANCE = 0.12  # a day's chance of a sale of a part the sub-dealer holds
# the last days (days before today, what, the sub-dealers that try it in turn: the first that can order does)
LAST_DAYS = [
    (30, "big", (5, 1, 2, 4)),  # over the limit, rejected (the overdue one's, unless one was rejected already)
    (6, "in_transit", (0, 3, 1, 4, 2, 5)),  # shipped four days later, not received yet
    (5, "in_transit", (3, 0, 4, 1, 2, 5)),
    (2, "car_waiting", (1, 4, 2, 5)),  # a car over the limit (or the overdue one's parts), still in credit review
    (1, "not_shipped", (2, 4, 3, 0, 1)),  # approved, shipped tomorrow
]
CUT_DAYS = 40  # the overdue sub-dealer's credit is suspended this many days before today: every order reviewed
SUSPENDED = "逾期未付，暂停授信，逐单审批。 Overdue: credit suspended, each order reviewed."
REJECTED = "超出信用额度，请先结清到期账款。 Over your credit limit: please settle what is due first."
APPROVED = "已核对账期，同意发货。 Account checked: approved."
APPROVED_NOW = "老客户，今日特批发货。 A good customer: approved today."
CUSTOMERS = ("individual", "individual", "business")


def lowest_from(deltas: dict[dt.date, int], day: dt.date) -> int:
    """The lowest end-of-day balance on `day` and every later day, given per-day net movements — the balance of `day`
    itself counts even when nothing moved on it (a day between a stock-out and the next receipt holds nothing)."""
    running = sum(q for moved_on, q in deltas.items() if moved_on <= day)
    lowest = running
    for moved_on in sorted(d for d in deltas if d > day):
        running += deltas[moved_on]
        lowest = min(lowest, running)
    return lowest


@dataclass
class _Distributor:
    """A distributor's stock as the story left it — read once, then kept up to date with its transfers (nothing else
    moves it from here on)."""

    dealer: Dealer
    admin: User
    staff: User
    parts: list[Product]
    cars: list[Product]
    deltas: dict[int, dict[dt.date, int]]  # product id → {day: net movement}
    vins: dict[int, list[tuple[dt.date, str]]]  # product id → [(received on, VIN)] held to the end, oldest first
    early: list[Product] = field(default_factory=list)  # its parts, those it can spare soonest first
    budget: Counter = field(default_factory=Counter)  # product id → pieces its sub-dealers may still order in all
    reserved: Counter = field(default_factory=Counter)  # product id → pieces its open orders to sub-dealers hold

    def can_leave(self, product: Product, day: dt.date) -> int:
        """What may leave its stock on `day`: a part without making that day or any later one negative; a car by the
        VINs it received by then and holds to the end."""
        if product.build_to_order:
            return sum(1 for received_on, _vin in self.vins.get(product.id, []) if received_on <= day)
        return max(lowest_from(self.deltas.get(product.id, {}), day), 0)

    def spare(self, day: dt.date, products: list[Product], budget: bool = True) -> dict[int, int]:
        """What a sub-dealer may order of each product on `day`: of a part, half of what the distributor can spare
        (less what its open orders to sub-dealers hold) within what is left of the part's budget (`budget`: the last
        days' orders are not held to it); of a car, any VIN not held for another order."""
        out = {}
        for p in products:
            free = max(0, self.can_leave(p, day) - self.reserved[p.id])
            out[p.id] = free if p.build_to_order else free // SHARE
            if budget and not p.build_to_order:
                out[p.id] = min(out[p.id], max(0, self.budget[p.id]))
        return out

    def shipped(self, shipment: Shipment, serials: dict[int, list[str]]) -> None:
        for line in shipment.lines:
            self.reserved[line.product_id] -= line.quantity
            day_moves = self.deltas.setdefault(line.product_id, {})
            day_moves[shipment.shipped_on] = day_moves.get(shipment.shipped_on, 0) - line.quantity
            gone = set(serials.get(line.id, []))
            if gone:
                self.vins[line.product_id] = [v for v in self.vins[line.product_id] if v[1] not in gone]


@dataclass
class _Sub:
    dealer: Dealer
    seller: _Distributor
    admin: User
    staff: User
    kind: str
    parts: list[Product]
    target: dict[int, int]
    lots: dict[int, deque] = field(default_factory=lambda: defaultdict(deque))  # product id → [received_on, qty]
    cars: list[list] = field(default_factory=list)  # [serial, product, received_on, sell_on]
    pipeline: Counter = field(default_factory=Counter)  # ordered, not yet received
    invoices: list[tuple[dt.date, Decimal]] = field(default_factory=list)
    paid: Decimal = Decimal(0)
    payments: int = 0
    below: int = 0  # cars sold below the floor
    reported_until: dt.date | None = None

    def on_hand(self, product: Product) -> int:
        return sum(q for _day, q in self.lots[product.id])


class _Channel:
    def __init__(self, people: dict, now: dt.datetime, echo):
        self.people, self.echo = people, echo
        self.rng = random.Random(SEED)  # noqa: S311 (demo data, reproducible)
        self.tl = Timeline(now)
        self.today = now.astimezone(portal_tz()).date()
        self.start = self.today - dt.timedelta(days=SIGNED_DAYS_AGO)
        self.counts: Counter = Counter()
        self.distributors: dict[str, _Distributor] = {}
        self.subs: list[_Sub] = []
        self.sub_of: dict[int, _Sub] = {}  # dealer id → sub
        self.rejected = False
        self.by_sku: dict[str, Product] = {}

    def r(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def at(self, day: dt.date, low: int, high: int, action, *args) -> bool:
        return self.tl.at(local(day, self.r(low, high), self.r(0, 59)), action, *args)

    # ------------------------------------------------------------ the plan

    def plan(self, dealers: list) -> bool:
        by_code = {d.code: d for d in dealers}
        self.by_sku = {p.sku: p for p in db.session.execute(select(Product).order_by(Product.sku)).scalars()}
        for code in dict.fromkeys(s[0] for s in SUBS):
            dealer = by_code.get(code)
            login = code.lower().replace("-", "")
            admin, staff = self.people.get(f"{login}.admin"), self.people.get(f"{login}.staff")
            if dealer is None or dealer.status != "active" or admin is None or staff is None:
                continue
            held = dealer_stock.on_hand(dealer.id)  # what it holds at the end of the story: what it carries
            products = [p for p in self.by_sku.values() if held.get(p.id, 0) > 0]
            parts = [p for p in products if not p.build_to_order and held[p.id] >= 20]
            cars = [p for p in products if p.build_to_order]
            deltas: dict[int, dict[dt.date, int]] = defaultdict(dict)
            for pid, days in dealer_stock.daily_moves(dealer.id, [p.id for p in products]).items():
                deltas[pid] = {day: came - went for day, came, went in days}
            vins: dict[int, list] = defaultdict(list)
            by_sku = {p.sku: p for p in cars}
            for v in dealer_stock.vins_on_hand(dealer.id):
                if v["received_on"] is not None and v["sku"] in by_sku:
                    vins[by_sku[v["sku"]].id].append((v["received_on"], v["serial"]))
            seller = _Distributor(dealer, admin, staff, parts, cars, deltas, vins)
            soon = self.start + dt.timedelta(days=30)
            seller.early = sorted(parts, key=lambda p: (-seller.can_leave(p, soon), p.sku))
            seller.budget = Counter({p.id: int(held[p.id] * BUDGET) for p in parts})
            self.distributors[code] = seller
        if not self.distributors:
            return False
        start, tl = self.start, self.tl
        tl.at(local(start, 10, 5), self.sign)
        tl.at(local(start, 15, 20), self.set_up)
        tl.at(local(start + dt.timedelta(days=1), 9, 40), self.price_lists)
        # every sub-dealer's first order, then every one to three weeks (`order`); its weekly sales report
        for index in range(len(SUBS)):
            self.at(workday(start + dt.timedelta(days=self.r(3, 12))), 9, 16, self.order, index, "cycle")
            monday = start + dt.timedelta(days=7 - start.weekday())
            while monday <= self.today:
                self.at(monday, 9, 11, self.report, index)
                monday += dt.timedelta(days=7)
        month = (start.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        while month <= self.today:
            for index in range(len(SUBS)):
                self.at(workday(month + dt.timedelta(days=self.r(3, 6))), 10, 16, self.pay, index, month)
            month = (month + dt.timedelta(days=32)).replace(day=1)
        # the last days: a rejection (unless there was one), two transfers on their way, a car order in credit
        # review, an order approved and not shipped yet
        self.at(self.today - dt.timedelta(days=CUT_DAYS), 15, 16, self.suspend_credit)
        for days, why, turns in LAST_DAYS:
            self.at(self.today - dt.timedelta(days=days), 9, 11, self.order, turns[0], why, turns[1:])
        tl.at(tl.last - dt.timedelta(minutes=20), self.final_reports)
        return True

    # ------------------------------------------------------------ signing up

    def sign(self) -> None:
        """HQ's channel manager creates the sub-dealers (parent_code: they take the distributor's region), and their
        logins are set up (the demo's password, as every demo login)."""
        cm = self.people["channel"]
        password_hash = self.people["channel"].password_hash
        for code, suffix, city, district, brand, kind, tier, _limit, how in SUBS:
            seller = self.distributors.get(code)
            if seller is None:
                continue
            channel_type, name_suffix = KINDS[kind]
            sub_code = f"{code}-{suffix}"
            login = sub_code.lower().replace("-", "")
            contact = _person(self.rng)
            address = f"{city}市{district}区{self.rng.choice(STREETS)}{self.r(1, 999)}号"
            dealer = dealers.create_dealer(cm, {
                "code": sub_code, "name": f"{city}{brand}{district}{name_suffix}", "parent_code": code, "tier": tier,
                "channel_type": channel_type, "payment_terms_days": 30, "contact_name": contact,
                "contact_phone": f"1{self.r(3, 9)}{self.r(0, 999999999):09d}",
                "contact_email": f"{login}@dealers.example.cn", "address": address,
            })  # fmt: skip
            english = sub_code == ENGLISH
            admin = User(username=f"{login}.admin", display_name=ENGLISH_NAME if english else contact,
                         role="dealer_admin", dealer=dealer, locale="en" if english else "zh_CN",
                         email=dealer.contact_email, password_hash=password_hash)  # fmt: skip
            staff = User(username=f"{login}.staff", display_name=_person(self.rng), role="dealer_staff", dealer=dealer,
                         locale="zh_CN", password_hash=password_hash)  # fmt: skip
            db.session.add_all([admin, staff])
            self.counts["users"] += 2
            parts = self.rng.sample(seller.early[:4], min(3, len(seller.early)))
            sub = _Sub(dealer, seller, admin, staff, how, sorted(parts, key=lambda p: p.sku),
                       {p.id: self.r(4, 8) for p in parts})  # fmt: skip
            self.subs.append(sub)
            self.sub_of[dealer.id] = sub
        db.session.flush()

    def set_up(self) -> None:
        """The distributor's admin: each sub-dealer's ship-to address and credit limit."""
        limits = {f"{s[0]}-{s[1]}": Decimal(s[7]) for s in SUBS}
        for sub in self.subs:
            admin = sub.seller.admin
            dealers.add_address(admin, sub.dealer, {"label": "门店", "recipient": sub.dealer.contact_name,
                                                    "phone": sub.dealer.contact_phone,
                                                    "address": sub.dealer.address})  # fmt: skip
            channel.check_seller_side(admin, sub.dealer, "credit.manage")
            credit.set_credit_limit(admin, sub.dealer, limits[sub.dealer.code], "二级网点首期授信 Initial credit")

    def price_lists(self) -> None:
        """Each distributor's two lists: every part 8 % off for all its sub-dealers (and a car category 2 % off: below
        HQ's floor), a fixed price on one part for its first sub-dealer."""
        day = today()
        part_categories = sorted({p.category for p in self.by_sku.values() if not p.build_to_order})
        for code, seller in self.distributors.items():
            rules = [{"category": c, "discount_pct": PART_DISCOUNT} for c in part_categories]
            if seller.cars:
                rules.append({"category": seller.cars[0].category, "discount_pct": CAR_DISCOUNT})
            catalog.save_price_list(seller.admin, {"name": f"{code} 二级网点供货价", "scope": "all", "priority": 0,
                                                   "valid_from": day, "valid_to": None, "rules": rules},
                                    seller=seller.dealer)  # fmt: skip
            first = next((s for s in self.subs if s.seller is seller), None)
            if first is not None and first.parts:
                part = first.parts[0]
                price = money(part.list_price * FIXED_PRICE)
                catalog.save_price_list(seller.admin, {
                    "name": f"{first.dealer.code} 协议价", "scope": f"dealer:{first.dealer.code}", "priority": 0,
                    "valid_from": day, "valid_to": None, "rules": [{"sku": part.sku, "unit_price": price}],
                }, seller=seller.dealer)  # fmt: skip
            self.counts["price lists"] += 2 if first is not None and first.parts else 1

    def suspend_credit(self) -> None:
        """The distributor's admin suspends the overdue sub-dealer's credit (limit 0): each of its orders waits for
        the admin's decision from now on."""
        for sub in self.subs:
            if sub.kind == "overdue":
                channel.check_seller_side(sub.seller.admin, sub.dealer, "credit.manage")
                credit.set_credit_limit(sub.seller.admin, sub.dealer, Decimal(0), SUSPENDED)

    # ------------------------------------------------------------ orders

    def _sub(self, index: int) -> _Sub | None:
        code = f"{SUBS[index][0]}-{SUBS[index][1]}"
        return next((s for s in self.subs if s.dealer.code == code), None)

    def order(self, index: int, why: str, turns: tuple = ()) -> None:
        """A sub-dealer's order to its distributor: the parts it sells, up to what it wants on its shelf less what it
        holds and has on its way (no more than its distributor can spare), now and then a car; `why`: its cycle or
        one of the last days' orders (`LAST_DAYS`: when it cannot order, the next sub-dealer of `turns` does)."""
        sub = self._sub(index)
        if why == "big" and self.rejected:
            return
        if sub is None:
            if turns:
                self.order(turns[0], why, turns[1:])
            return
        day = today()
        if why == "cycle":
            nxt = workday(day + dt.timedelta(days=self.r(7, 21)))
            if nxt < self.today - dt.timedelta(days=8):  # the last days' orders are the ones planned (`plan`)
                self.at(nxt, 9, 16, self.order, index, "cycle")
        seller = sub.seller
        spare = seller.spare(day, sub.parts + seller.cars, budget=why == "cycle")
        lines = []
        if why != "car_waiting" or sub.kind == "overdue":
            for p in sub.parts:
                want = sub.target[p.id] - sub.on_hand(p) - sub.pipeline[p.id]
                if why != "cycle":
                    want = max(want, 2)
                if (qty := min(want, spare[p.id])) >= 2:
                    lines.append({"sku": p.sku, "quantity": qty})
            if why == "cycle" and sum(ln["quantity"] for ln in lines) < 3:
                lines = []  # too little to be worth an order: it waits for its next one
        wants_car = sub.kind != "overdue" and not sub.cars and not any(sub.pipeline[p.id] for p in seller.cars)
        chance = 0.6 if sub.kind == "cheap" else 0.3
        if (why in ("car_waiting", "big") or (why == "cycle" and wants_car and self.rng.random() < chance)
                or (why in ("in_transit", "not_shipped") and not lines)):  # fmt: skip
            cars = [p for p in seller.cars if spare.get(p.id, 0) > 0]
            if cars:
                lines.append({"sku": self.rng.choice(cars).sku, "quantity": 1})
        if (why in ("car_waiting", "big") and sub.kind != "overdue"
                and not any(self.by_sku[ln["sku"]].build_to_order for ln in lines)):  # fmt: skip
            lines = []  # no car to spare: another sub-dealer's turn
        if not lines:
            self.counts["orders skipped"] += 1
            if turns:
                self.tl.at(self.tl.clock + dt.timedelta(minutes=20), self.order, turns[0], why, turns[1:])
            return
        order, _created = orders.place_order(sub.staff, sub.dealer, lines)
        self.counts["orders"] += 1
        for ln in order.lines:
            seller.reserved[ln.product_id] += ln.quantity
            seller.budget[ln.product_id] -= ln.quantity
            sub.pipeline[ln.product_id] += ln.quantity
        if order.status == "approved":
            self._to_ship(order, why, day)
        elif why in ("in_transit", "not_shipped"):  # the last days' orders: decided within hours
            self.tl.at(self.tl.clock + dt.timedelta(hours=2), self.decide, order.id, why, day)
        elif why != "car_waiting":
            self.at(day + dt.timedelta(days=self.r(2, 4)), 10, 17, self.decide, order.id, why, day)

    def _to_ship(self, order: Order, why: str, placed: dt.date) -> None:
        """When the distributor ships it: a day to four after it was approved; the last days' orders on their days
        (one shipped four days after it was placed and not received yet, one to be shipped after now)."""
        if why == "in_transit":
            self.at(placed + dt.timedelta(days=4), 9, 16, self.ship, order.id, False)
        elif why == "not_shipped":
            self.at(placed + dt.timedelta(days=2), 9, 16, self.ship, order.id, True)
        else:
            self.at(today() + dt.timedelta(days=self.r(1, 4)), 9, 16, self.ship, order.id, True)

    def decide(self, order_id: int, why: str, placed: dt.date) -> None:
        order = db.session.get(Order, order_id)
        if order.status != "credit_review":
            return
        sub = self.sub_of[order.dealer_id]
        if not self.rejected and (why == "big" or (sub.kind == "overdue" and why == "cycle")):
            orders.reject(sub.seller.admin, order, REJECTED)
            self.rejected = True
            self._release(sub, {ln.product_id: ln.quantity for ln in order.lines})
            if sub.kind == "overdue":
                self.at(today() + dt.timedelta(days=self.r(4, 7)), 10, 16, self.part_payment, sub)
            return
        orders.approve(sub.seller.admin, order, APPROVED_NOW if today() == placed else APPROVED)
        self._to_ship(order, why, placed)

    def _release(self, sub: _Sub, quantities: dict[int, int]) -> None:
        for pid, qty in quantities.items():
            sub.seller.reserved[pid] -= qty
            sub.seller.budget[pid] += qty
            sub.pipeline[pid] -= qty

    # ------------------------------------------------------------ transfers

    def ship(self, order_id: int, received: bool) -> None:
        """The distributor's staff ships the order from the distributor's stock (what it holds of each line, should
        anything be short: the load never fails); `received`: False for the two still on their way now."""
        order = db.session.get(Order, order_id)
        if order.status != "approved":
            return
        sub, day = self.sub_of[order.dealer_id], today()
        seller = sub.seller
        left = shipping.remaining(order)
        lines = []
        for ln in order.lines:
            qty = min(left[ln.id], seller.can_leave(ln.product, day))
            if qty < left[ln.id]:
                self.counts["pieces short"] += left[ln.id] - qty
            if qty > 0:
                lines.append({"sku": ln.sku, "quantity": qty})
        if not lines:
            return
        shipment, _created = shipping.ship(seller.staff, order, lines=lines, shipped_on=day)
        self.counts["transfers"] += 1
        seller.shipped(shipment, shipping.serials_by_line(shipment))
        sub.invoices.append((day, shipment.invoice.amount))
        if received:
            self.at(day + dt.timedelta(days=self.r(1, 3)), 14, 17, self.receive, shipment.id)

    def receive(self, shipment_id: int) -> None:
        shipment = db.session.get(Shipment, shipment_id)
        sub, day = self.sub_of[shipment.dealer_id], today()
        shipping.receive(sub.staff, shipment, day)
        self.counts["received"] += 1
        serials = shipping.serials_by_line(shipment)
        for line in shipment.lines:
            sub.pipeline[line.product_id] -= line.quantity
            product = self.by_sku[line.sku]
            if product.build_to_order:
                for serial in serials.get(line.id, []):
                    sub.cars.append([serial, product, day, day + dt.timedelta(days=self.r(4, 24))])
            else:
                sub.lots[product.id].append([day, line.quantity])

    # ------------------------------------------------------------ sales and money

    def _sales(self, sub: _Sub, first: dt.date, last: dt.date) -> list[dict]:
        """The sub-dealer's sales from `first` to `last`: its parts a few times a week, first in first out, as far as
        it holds them; a car some days after it came (now and then below the floor; the cheap sellers' first one and
        half of the others)."""
        rng, out = self.rng, []
        city = sub.dealer.address.split("市")[0]
        day = first
        while day <= last:
            for p in sub.parts:
                lots = sub.lots[p.id]
                held = sum(q for came, q in lots if came <= day)
                if not held or rng.random() >= SALE_CHANCE:
                    continue
                qty = min(held, rng.choice((1, 1, 2, 2, 3, 4)))
                left = qty
                while left:
                    take = min(left, lots[0][1])
                    lots[0][1] -= take
                    left -= take
                    if not lots[0][1]:
                        lots.popleft()
                price = money(p.list_price * Decimal(str(round(rng.uniform(1.3, 1.6), 2))))
                out.append({"sold_on": day, "sku": p.sku, "serial": None, "quantity": qty, "unit_price": price,
                            "city": city, "customer_type": rng.choice(CUSTOMERS)})  # fmt: skip
            for car in [c for c in sub.cars if c[3] <= day]:
                serial, product, _came, _sell_on = car
                floor = product.min_resale_price or product.list_price
                below = (sub.kind == "cheap" and (not sub.below or rng.random() < 0.5)) or rng.random() < 0.15
                factor = rng.uniform(0.95, 0.99) if below else rng.uniform(1.01, 1.06)
                sub.below += below
                self.counts["below floor"] += below
                out.append({"sold_on": day, "sku": product.sku, "serial": serial, "quantity": 1,
                            "unit_price": money((floor * Decimal(str(round(factor, 3)))).quantize(Decimal("100"))),
                            "city": city, "customer_type": rng.choice(CUSTOMERS)})  # fmt: skip
                sub.cars.remove(car)
            day += dt.timedelta(days=1)
        return out

    def report(self, index: int) -> None:
        """The sub-dealer's staff reports the week's sales (every day since the last report, up to yesterday)."""
        sub = self._sub(index)
        if sub is None:
            return
        last = today() - dt.timedelta(days=1)
        first = sub.reported_until + dt.timedelta(days=1) if sub.reported_until else self.start
        sub.reported_until = last
        lines = self._sales(sub, first, last)
        if lines:
            sellthrough.record(sub.staff, sub.dealer, lines, source="portal", objects=False)
            self.counts["sell-through lines"] += len(lines)

    def final_reports(self) -> None:
        for index in range(len(SUBS)):
            sub = self._sub(index)
            if sub is not None and sub.reported_until != today() - dt.timedelta(days=1):
                self.report(index)

    def pay(self, index: int, month: dt.date) -> None:
        """Early in the month the sub-dealer pays its distributor the invoices of the months before (not the overdue
        one); the distributor's admin records the payment on its ledger."""
        sub = self._sub(index)
        if sub is None or sub.kind == "overdue":
            return
        owed = sum((amount for issued, amount in sub.invoices if issued < month), Decimal(0)) - sub.paid
        if owed > 0:
            self._post(sub, owed)

    def part_payment(self, sub: _Sub) -> None:
        """A few days after its order was rejected the overdue sub-dealer pays about a third of what it owes."""
        owed = sum((amount for _issued, amount in sub.invoices), Decimal(0)) - sub.paid
        if owed > 0:
            self._post(sub, money(owed * Decimal("0.35")), part=True)

    def _post(self, sub: _Sub, amount: Decimal, part: bool = False) -> None:
        admin, day = sub.seller.admin, today()
        channel.check_seller_side(admin, sub.dealer, "payments.write")
        credit.post_payment(admin, sub.dealer, amount=amount, received_on=day,
                            reference=f"TR{day:%Y%m%d}{sub.dealer.id:04d}{'P' if part else ''}")  # fmt: skip
        sub.paid += amount
        sub.payments += 1
        self.counts["payments"] += 1

    # ------------------------------------------------------------ telling it

    def summary(self) -> str:
        statuses = Counter(dict(db.session.execute(
            select(Order.status, func.count()).where(Order.seller_id.is_not(None)).group_by(Order.status)
        ).all()))  # fmt: skip
        in_transit = db.session.execute(
            select(func.count()).where(Shipment.seller_id.is_not(None), Shipment.status == "in_transit")
        ).scalar_one()
        c = self.counts
        return (f"Multi-level channel: {len(self.distributors)} distributors ({', '.join(self.distributors)}), "
                f"{len(self.subs)} sub-dealers, {c['users']} users, {c['price lists']} price lists; "
                f"{c['orders']} orders ({', '.join(f'{n} {s}' for s, n in sorted(statuses.items()))}); "
                f"{c['transfers']} transfers ({in_transit} on their way); {c['sell-through lines']} sell-through lines "
                f"({c['below floor']} cars below the floor); {c['payments']} payments.")  # fmt: skip


def add_sub_dealers(dealers: list, people: dict, echo=print) -> None:
    """Two distributors' sub-dealers and their last four months (§16), after the demo's story (see the module)."""
    story = _Channel(people, utcnow(), echo)
    if not story.plan(dealers):
        echo("Multi-level channel: no distributor found (SH-001, WH-003); no sub-dealers.")
        return
    story.tl.run()
    db.session.flush()
    echo(story.summary())
