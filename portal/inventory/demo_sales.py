"""Demo dealers' side of the channel: what each dealer carries, what its customers want, its stock and its sales.

Each dealer carries two or three vehicle models and four to six parts, each with a monthly rate of demand (by tier;
three slow movers sell a third as much) that follows the season (a peak before the Spring Festival, a dip in
February, the autumn and year-end peaks). The stock it carried over from before the portal (an opening `receipt` per
SKU, one per VIN for vehicles, dated the day before the demo's first month) covers the weeks until its first
delivery — slow movers hold far more than they sell. From then on it sells what its customers want as far as its
stock allows (vehicles by VIN, oldest first; parts first in, first out), and it is replenished by its orders
(`portal.orders.demo.replenishment`), so what comes in over the year is about what goes out.

The dealer reports its sales once a month, a few days after the month ends, through the sell-through service
(checked against its stock, monthly sums kept in the same transaction, one audit entry per report) — since a few
months: its first report caught up with every sale before — and the current month's sales up to yesterday are
reported at the end of the demo. A few dealers sell vehicles below the minimum resale price.
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
from collections import defaultdict, deque
from dataclasses import dataclass, field
from decimal import Decimal

from flask import current_app

from portal.catalog.models import Product
from portal.dealers.models import Dealer, User
from portal.extensions import db
from portal.inventory import sellthrough
from portal.inventory.models import DealerStockMove
from portal.inventory.sums import add_moves_to_channel
from portal.platform.money import money
from portal.production.vin import make_vin

# demand by month of the year, relative to an average month
SEASON = {1: 1.45, 2: 0.65, 3: 0.9, 4: 1.0, 5: 1.05, 6: 0.95, 7: 0.8, 8: 0.85, 9: 1.2, 10: 1.35, 11: 1.1, 12: 1.3}
TIER_SIZE = {"A": 1.5, "B": 1.0, "C": 0.6}
VEHICLE_RATE = (0.8, 2.0)  # units a month per model carried, tier B
PART_RATE = (10, 40)  # pieces a month per part stocked, tier B
CITY_BY_PREFIX = {"SH": "上海", "NJ": "南京", "SZ": "苏州", "HZ": "杭州", "NB": "宁波", "BJ": "北京", "TJ": "天津",
                  "SJZ": "石家庄", "GZ": "广州", "SZN": "深圳", "XM": "厦门", "CD": "成都", "CQ": "重庆", "XA": "西安",
                  "WH": "武汉", "CS": "长沙"}  # fmt: skip
VEHICLE_CUSTOMERS = (("individual", 75), ("business", 14), ("fleet", 8), ("government", 3))
PART_CUSTOMERS = (("individual", 55), ("business", 33), ("fleet", 12))
OPENING_VIN_BASE = 500_000  # unit numbers of the carried-over vehicles (the line's own units count from 1)
REPORTING_MONTHS = 3  # the dealers report their sales monthly since this many months; the first report caught up


def reporting_start(today: dt.date) -> dt.date:
    """The month of the dealers' first sales report (it holds every sale until then)."""
    month = today.replace(day=1)
    for _ in range(REPORTING_MONTHS - 1):
        month = (month - dt.timedelta(days=1)).replace(day=1)
    return month


def _pick(rng: random.Random, weighted) -> str:
    return rng.choices([k for k, _w in weighted], weights=[w for _k, w in weighted])[0]


def month_end(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


def months(first: dt.date, last: dt.date):
    """(first day, last day) of each month from `first` to `last`, the last one cut at `last`."""
    day = first
    while day <= last:
        end = month_end(day)
        yield day, min(end, last)
        day = end + dt.timedelta(days=1)


@dataclass
class Account:
    """One dealer's side of the story, kept in step with what the services wrote."""

    dealer: Dealer
    user: User | None  # places its orders and reports its sales (its staff)
    size: float
    slow: bool = False
    cheap: bool = False
    products: list[Product] = field(default_factory=list)
    rate: dict[int, float] = field(default_factory=dict)  # pieces a month, before the season
    # (day, product id, quantity, promised: a customer who ordered it waits for it), by day
    wanted: list[tuple[dt.date, int, int, bool]] = field(default_factory=list)
    next_wanted: int = 0
    stock: dict[int, int] = field(default_factory=lambda: defaultdict(int))  # parts on hand
    vins: dict[int, deque] = field(default_factory=lambda: defaultdict(deque))  # vehicles on hand, oldest first
    pipeline: dict[int, int] = field(default_factory=lambda: defaultdict(int))  # ordered, not yet received
    sold_until: dt.date | None = None
    unreported: list[dict] = field(default_factory=list)
    missed: int = 0  # pieces customers wanted that were not there

    @property
    def id(self) -> int:
        return self.dealer.id

    def on_hand(self, product: Product) -> int:
        return len(self.vins[product.id]) if product.build_to_order else self.stock[product.id]

    def expected(self, product: Product, start: dt.date, end: dt.date) -> float:
        """Pieces its customers are expected to want from `start` to `end` (both included)."""
        total, day = 0.0, start
        while day <= end:
            stop = min(month_end(day), end)
            total += self.rate[product.id] * SEASON[day.month] * ((stop - day).days + 1) / 30
            day = stop + dt.timedelta(days=1)
        return total

    def receive(self, product: Product, quantity: int, serials: list[str], day: dt.date) -> None:
        if product.build_to_order:
            self.vins[product.id].extend((s, day) for s in serials)
        else:
            self.stock[product.id] += quantity
        self.pipeline[product.id] = max(0, self.pipeline[product.id] - quantity)

    def promise(self, product: Product, quantity: int, day: dt.date) -> None:
        """Customers who ordered `quantity` of `product` take them from `day` on (they wait for the delivery)."""
        for _unit in range(quantity):
            bisect.insort(self.wanted, (day, product.id, 1, True), lo=self.next_wanted)

    def sell_until(self, day: dt.date, rng: random.Random, products: dict[int, Product]) -> None:
        """The sales of every day up to `day` (included), as far as the stock allows: call it only once what
        arrived by `day` is received."""
        while self.next_wanted < len(self.wanted) and self.wanted[self.next_wanted][0] <= day:
            sold_on, product_id, quantity, promised = self.wanted[self.next_wanted]
            self.next_wanted += 1
            product = products[product_id]
            if product.build_to_order:
                held = self.vins[product_id]
                if not held and promised:  # the customer waits for the next delivery
                    bisect.insort(self.wanted, (sold_on + dt.timedelta(days=1), product_id, 1, True),
                                  lo=self.next_wanted)  # fmt: skip
                    continue
                if not held:
                    self.missed += 1
                    continue
                serial, _received = held.popleft()
                self.unreported.append(_vehicle_sale(rng, self, product, sold_on, serial))
                continue
            take = min(quantity, self.stock[product_id])
            self.missed += quantity - take
            if take:
                self.stock[product_id] -= take
                self.unreported.append(_part_sale(rng, self, product, sold_on, take))
        self.sold_until = day

    def report(self, until: dt.date) -> int:
        """Report the sales up to `until` through the sell-through service; answers the lines written."""
        lines = [ln for ln in self.unreported if ln["sold_on"] <= until]
        if not lines:
            return 0
        self.unreported = [ln for ln in self.unreported if ln["sold_on"] > until]
        source = "api" if self.dealer.id % 4 == 0 else "portal"
        saved = sellthrough.record(self.user, self.dealer, lines, source=source, objects=False)
        return len(saved)


def _city(rng: random.Random, dealer: Dealer) -> str:
    prefix = dealer.code.split("-")[0].rstrip("0123456789")
    home = CITY_BY_PREFIX.get(prefix, "上海")
    return home if rng.random() < 0.85 else rng.choice(list(CITY_BY_PREFIX.values()))


def _vehicle_sale(rng, account, product, day, serial) -> dict:
    floor = product.min_resale_price or product.list_price
    if account.cheap and rng.random() < 0.35:
        price = floor * Decimal(str(round(rng.uniform(0.93, 0.99), 3)))
    else:
        price = floor * Decimal(str(round(rng.uniform(1.01, 1.09), 3)))
    return {"sold_on": day, "sku": product.sku, "quantity": 1, "serial": serial, "city": _city(rng, account.dealer),
            "customer_type": _pick(rng, VEHICLE_CUSTOMERS),
            "unit_price": money(price.quantize(Decimal("100")))}  # fmt: skip


def _part_sale(rng, account, product, day, quantity) -> dict:
    # the shelf price, tax included: the dealer's price before tax plus VAT and its margin
    price = product.list_price * Decimal(str(round(rng.uniform(1.3, 1.6), 2)))
    return {"sold_on": day, "sku": product.sku, "quantity": quantity, "serial": None,
            "city": _city(rng, account.dealer), "customer_type": _pick(rng, PART_CUSTOMERS),
            "unit_price": money(price)}  # fmt: skip


def plan_accounts(rng: random.Random, dealers: list[Dealer], users: dict[int, User], products: list[Product],
                  first: dt.date, last: dt.date) -> list[Account]:  # fmt: skip
    """Every dealer's assortment, demand rates and the days its customers come, from `first` to `last`."""
    vehicles = [p for p in products if p.build_to_order]
    parts = [p for p in products if not p.build_to_order]
    others = [d.id for d in dealers[1:]]  # the first dealer (sh001's, the demo's own) is an ordinary one
    slow = set(rng.sample(others, k=min(3, len(others))))
    cheap = set(rng.sample([i for i in others if i not in slow], k=min(3, max(0, len(others) - 3))))
    accounts = []
    for dealer in dealers:
        size = TIER_SIZE.get(dealer.tier, 1.0) * (0.3 if dealer.id in slow else 1.0)
        account = Account(dealer=dealer, user=users.get(dealer.id), size=size, slow=dealer.id in slow,
                          cheap=dealer.id in cheap)  # fmt: skip
        account.products = sorted(rng.sample(vehicles, k=min(len(vehicles), rng.randint(2, 3))), key=lambda p: p.sku)
        account.products += sorted(rng.sample(parts, k=min(len(parts), rng.randint(4, 6))), key=lambda p: p.sku)
        for product in account.products:
            low, high = VEHICLE_RATE if product.build_to_order else PART_RATE
            account.rate[product.id] = rng.uniform(low, high) * size
        wanted = []
        for product in account.products:
            for start, end in months(first, last):
                days = (end - start).days + 1
                mean = account.rate[product.id] * SEASON[start.month] * days / 30
                count = max(0, round(rng.gauss(mean, mean * 0.2)))
                if product.build_to_order:
                    wanted += [(start + dt.timedelta(days=rng.randrange(days)), product.id, 1, False)
                               for _ in range(count)]  # fmt: skip
                elif count:
                    visits = max(1, min(count, rng.randint(2, 4) * days // 30 or 1))
                    for k in range(visits):
                        qty = count // visits + (1 if k < count % visits else 0)
                        wanted.append((start + dt.timedelta(days=rng.randrange(days)), product.id, qty, False))
        account.wanted = sorted(wanted)
        accounts.append(account)
    return accounts


def open_stock(accounts: list[Account], covers: dict[int, dict[int, float]], opening_day: dt.date) -> dict:
    """The stock each dealer carried over from before the portal: `covers[dealer id][product id]` pieces (rounded;
    at least one vehicle of each model carried, five of each part), dated `opening_day`."""
    wmi = current_app.config.get("PORTAL_VIN_WMI", "LDP")
    moves, vins = [], 0
    for account in accounts:
        for product in account.products:
            quantity = max(1 if product.build_to_order else 5, round(covers[account.id][product.id]))
            if product.build_to_order:
                for _unit in range(quantity):
                    vins += 1
                    serial = make_vin(wmi, product.id, OPENING_VIN_BASE + vins, opening_day)
                    moves.append(_opening(account.dealer, product, 1, opening_day, serial))
                    account.vins[product.id].append((serial, opening_day))
            else:
                moves.append(_opening(account.dealer, product, quantity, opening_day, None))
                account.stock[product.id] += quantity
    db.session.add_all(moves)
    add_moves_to_channel(moves)
    db.session.flush()
    return {"vehicles": vins, "parts": sum(m.quantity for m in moves if m.serial is None)}


def _opening(dealer, product, quantity, day, serial) -> DealerStockMove:
    return DealerStockMove(
        dealer_id=dealer.id,
        product_id=product.id,
        sku=product.sku,
        serial=serial,
        quantity=quantity,
        kind="receipt",
        moved_on=day,
        note="opening stock carried over from before the portal",
        created_by="demo",
    )
