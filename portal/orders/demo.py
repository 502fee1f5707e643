"""The demo catalogue, its price policies, and how the demo dealers order.

Each dealer orders on a cycle (every five weeks for tier A, seven for B, nine for C, ten for the slow movers): for
each product it carries, what its customers are expected to want until the goods of its next order arrive, plus
some safety stock, less what it holds and what is on its way — vehicles by the unit, parts by the pack. An order
usually holds vehicles and parts (HQ ships them together once the vehicles are built); when
no vehicle is needed it is a stock order, shipped within days. Orders go through the services (credit gate
included); the ones sent to credit review are decided by finance or the region manager a day or three later — most
approved, some rejected, a few withdrawn by the dealer — except the last days' ones, still waiting.

Ordering as dealers do it (§12): about half the car lines choose their options (a colour, an interior, a trim, a
package), the others take the defaults; most orders ask for a delivery date (the lead time and a few days) and name
one of the dealer's ship-to addresses, usually the default one. These choices come from a random generator of their
own (`Choices`), so the rest of the story draws the same numbers with or without them.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from decimal import Decimal

from portal.catalog import services as catalog
from portal.orders import services as orders

VEHICLES = [
    ("V-SEDAN-L", "远航 L 豪华轿车", "Yuanhang L Sedan", "sedan", "168000"),
    ("V-SEDAN-S", "远航 S 智享轿车", "Yuanhang S Sedan", "sedan", "128000"),
    ("V-SUV-X7", "远航 X7 七座SUV", "Yuanhang X7 SUV", "suv", "236000"),
    ("V-SUV-X5", "远航 X5 城市SUV", "Yuanhang X5 SUV", "suv", "178000"),
    ("V-EV-E3", "远航 E3 纯电轿车", "Yuanhang E3 EV", "ev", "142000"),
    ("V-EV-E5", "远航 E5 纯电SUV", "Yuanhang E5 EV SUV", "ev", "198000"),
    ("V-MPV-M8", "远航 M8 商务MPV", "Yuanhang M8 MPV", "mpv", "268000"),
]
PARTS = [
    ("P-OIL-5W30", "全合成机油 5W-30 4L", "Synthetic oil 5W-30 4L", "oil", "268.00", "pc"),
    ("P-FILTER-OIL", "机油滤清器", "Oil filter", "filters", "45.00", "pc"),
    ("P-FILTER-AIR", "空气滤清器", "Air filter", "filters", "68.00", "pc"),
    ("P-BRAKE-PAD", "前刹车片（套）", "Front brake pads (set)", "brakes", "420.00", "set"),
    ("P-WIPER", "雨刮片（对）", "Wiper blades (pair)", "accessories", "118.00", "pair"),
    ("P-BATTERY-12V", "12V 蓄电池", "12V battery", "electrical", "680.00", "pc"),
    ("P-TYRE-225", "轮胎 225/55R18", "Tyre 225/55R18", "tyres", "890.00", "pc"),
    ("P-MAT-SET", "全包围脚垫", "Floor mat set", "accessories", "520.00", "set"),
    ("P-CHARGER-7KW", "7kW 家用充电桩", "7 kW home charger", "electrical", "3280.00", "pc"),
]
# The minimum resale price (最低限价) is what an end customer pays at least, tax included: the dealer's price
# before tax, plus 13 % VAT, plus a small margin.
FLOOR_OVER_LIST = Decimal("1.16")

CYCLE_DAYS = {"A": 35, "B": 49, "C": 63}
SLOW_CYCLE_DAYS = 70
LEAD_DAYS = {True: 24, False: 8}  # order to goods in the yard: built to order / from HQ stock
PARTS_LEAD_DAYS = 10  # a part HQ is out of comes from the factory in this many days (a backorder's promise without lot)
SAFETY_DAYS = 12
PACK = 5
REJECTED = "信用额度不足，请先回款。 Over the credit limit: please pay the overdue invoices first."
APPROVED = "回款记录良好，特批。 Good payment record: approved over the limit."
WITHDRAWN = "等回款后重新下单。 Withdrawn: we order again once our payment is in."
OPEN_REVIEW_DAYS = 7  # orders sent to credit review in the last week are still waiting
PROMOTION_DAYS = 60  # the East EV promotion started this long ago


def load_catalogue(cm, rng: random.Random, today: dt.date, dealers) -> None:
    """The products and the year's price lists (the East EV promotion comes later: `east_ev_promotion`)."""
    from portal.catalog.demo import load_categories, load_options

    load_categories(cm)  # named first: the products bring only their codes
    for sku, name, name_en, category, price in VEHICLES:
        catalog.create_product(
            cm,
            {
                "sku": sku,
                "name": name,
                "name_en": name_en,
                "category": category,
                "unit": "台",
                "list_price": Decimal(price),
                "tax_rate": Decimal("0.13"),
                "min_resale_price": (Decimal(price) * FLOOR_OVER_LIST).quantize(Decimal("1E2")),
                "build_to_order": True,
                "lead_time_days": rng.choice([21, 28, 35]),
            },
        )
    load_options(cm)  # the cars' colours, interiors, trims and packages
    for sku, name, name_en, category, price, unit in PARTS:
        catalog.create_product(
            cm,
            {
                "sku": sku,
                "name": name,
                "name_en": name_en,
                "category": category,
                "unit": unit,
                "list_price": Decimal(price),
                "tax_rate": Decimal("0.13"),
                "min_resale_price": None,
                "build_to_order": False,
                "lead_time_days": PARTS_LEAD_DAYS,
            },
        )
    year_start = today.replace(month=1, day=1)
    catalog.save_price_list(
        cm,
        {
            "name": "全渠道配件促销",
            "scope": "all",
            "priority": 0,
            "valid_from": year_start,
            "valid_to": None,
            "rules": [
                {"category": "filters", "discount_pct": Decimal("10")},
                {"sku": "P-OIL-5W30", "min_qty": 50, "unit_price": Decimal("238.00")},
            ],
        },
    )
    catalog.save_price_list(
        cm,
        {
            "name": "A级经销商政策",
            "scope": "tier:A",
            "priority": 0,
            "valid_from": year_start,
            "valid_to": None,
            "rules": [
                {"category": "sedan", "discount_pct": Decimal("3")},
                {"category": "suv", "discount_pct": Decimal("3")},
                {"category": "ev", "discount_pct": Decimal("4")},
            ],
        },
    )
    catalog.save_price_list(
        cm,
        {
            "name": "SH-001 年度大客户价",
            "scope": f"dealer:{dealers[0].code}",
            "priority": 0,
            "valid_from": year_start,
            "valid_to": None,
            "rules": [{"sku": "V-SUV-X7", "unit_price": Decimal("221000.00")}],
        },
    )


def east_ev_promotion(cm, today: dt.date) -> None:
    catalog.save_price_list(
        cm,
        {
            "name": "华东新能源推广",
            "scope": "region:EAST",
            "priority": 1,
            "valid_from": today - dt.timedelta(days=PROMOTION_DAYS),
            "valid_to": today + dt.timedelta(days=30),
            "rules": [{"category": "ev", "discount_pct": Decimal("6")}],
        },
    )


def cycle_days(account) -> int:
    return SLOW_CYCLE_DAYS if account.slow else CYCLE_DAYS.get(account.dealer.tier, 35)


def replenishment(account, day: dt.date, hq_available: dict[int, int]) -> list[dict]:
    """What the dealer orders on `day`: for each product, the expected demand until its next order's goods arrive
    plus the safety stock, less what it holds and what is on its way (vehicles by the unit, parts by the pack; a
    part no more than HQ has available — the dealer sees it in the catalogue)."""
    cycle = cycle_days(account)

    def need(product, lead: int) -> float:
        wanted = account.expected(product, day, day + dt.timedelta(days=cycle + lead + SAFETY_DAYS))
        return wanted - account.on_hand(product) - account.pipeline[product.id]

    lines = []
    for product in account.products:
        if product.build_to_order and (qty := min(12, round(need(product, LEAD_DAYS[True])))) > 0:
            lines.append({"sku": product.sku, "quantity": qty})
    lead = LEAD_DAYS[bool(lines)]  # the parts travel with the vehicles when there are any
    for product in account.products:
        if not product.build_to_order and (missing := need(product, lead)) >= PACK / 2:
            quantity = min(PACK * math.ceil(missing / PACK), hq_available.get(product.id, 0))
            if quantity > 0:
                lines.append({"sku": product.sku, "quantity": quantity})
    return lines


def approver_for(order, people: dict):
    """The region manager closest to the dealer (the city region's before the big region's), if any."""
    path = order.dealer.region.path
    managers = [u for u in people.values() if u.role == "region_manager" and u.region is not None
                and path.startswith(u.region.path)]  # fmt: skip
    return max(managers, key=lambda u: len(u.region.path), default=None)


def seller_admin(order):
    """The distributor's administrator who decides a sub-dealer's order (§16); None when it has none."""
    from sqlalchemy import select

    from portal.dealers.models import User
    from portal.extensions import db

    stmt = (
        select(User)
        .where(User.dealer_id == order.seller_id, User.role == "dealer_admin", User.active.is_(True))
        .order_by(User.id)
        .limit(1)
    )
    return db.session.execute(stmt).unique().scalar_one_or_none()


def decide(order, rng: random.Random, people: dict, dealer_user) -> str:
    """Finance or the region manager decides an order in credit review: most are approved, some rejected; now
    and then the dealer withdraws it first. A sub-dealer's order is decided by its distributor's admin (§16)."""
    if order.status != "credit_review":
        return order.status
    roll = rng.random()
    if roll < 0.08:
        orders.cancel(dealer_user, order, WITHDRAWN)
        return "cancelled"
    if order.seller_id is not None:
        admin = seller_admin(order)
        if admin is None:
            return order.status
        if roll < 0.75:
            orders.approve(admin, order, APPROVED)
            return "approved"
        orders.reject(admin, order, REJECTED)
        return "rejected"
    if roll < 0.75:
        manager = approver_for(order, people)
        if manager is not None and rng.random() < 0.5 and orders.may_approve(manager, order):
            orders.approve(manager, order, APPROVED)
        else:
            orders.approve(people["finance"], order, APPROVED)
        return "approved"
    orders.reject(people["finance"], order, REJECTED)
    return "rejected"


class Choices:
    """What dealers choose when they order (§12), drawn from a generator of its own: the cars' options, the delivery
    date they ask for and the ship-to address."""

    CHOOSE_SHARE = 0.55  # car lines that choose their options (the others take the defaults)
    REQUESTED_SHARE = 0.85  # orders that ask for a delivery date (the others: as soon as possible)
    OTHER_ADDRESS_SHARE = 0.3  # orders to a yard or a service centre rather than the showroom

    def __init__(self, seed: int = 20261212):
        self.rng = random.Random(seed)  # noqa: S311 (demo data, reproducible)
        from sqlalchemy import select

        from portal.dealers.models import DealerAddress
        from portal.extensions import db

        self.addresses: dict[int, list[int]] = {}
        rows = db.session.execute(
            select(DealerAddress.dealer_id, DealerAddress.id)
            .where(DealerAddress.active.is_(True))
            .order_by(DealerAddress.dealer_id, DealerAddress.is_default.desc(), DealerAddress.id)
        )
        for dealer_id, address_id in rows:
            self.addresses.setdefault(dealer_id, []).append(address_id)

    def options(self, sku: str) -> dict[str, str]:
        """A choice of one option per group the car offers, the default more often than any other."""
        from portal.catalog.demo import OFFERS

        chosen = {}
        for group, offered in OFFERS.get(sku, {}).items():
            codes = [code for code, _delta in offered]
            weights = [3] + [1] * (len(codes) - 1)
            chosen[group] = self.rng.choices(codes, weights=weights)[0]
        return chosen

    def lines(self, lines: list[dict], products: dict[str, object]) -> list[dict]:
        """The lines with the options their cars choose; other lines, and lines that chose already, as they are.
        (One line per SKU: HQ's demo shipments ship an order's lines by SKU.)"""
        from portal.catalog.demo import OFFERS

        out = []
        for line in lines:
            product = products.get(line["sku"])
            if product is None or not product.build_to_order or line["sku"] not in OFFERS or "options" in line:
                out.append(line)
                continue
            if self.rng.random() >= self.CHOOSE_SHARE:
                out.append(line)  # the defaults
                continue
            out.append({**line, "options": self.options(line["sku"])})
        return out

    def delivery(self, dealer_id: int, lines: list[dict], products: dict[str, object], day: dt.date) -> dict:
        """`requested_on` and `ship_to` for an order placed on `day`: the lead time and a few days (most orders),
        and the default address or, sometimes, another of the dealer's."""
        cars = any(getattr(products.get(ln["sku"]), "build_to_order", False) for ln in lines)
        requested = None
        if self.rng.random() < self.REQUESTED_SHARE:
            requested = day + dt.timedelta(days=LEAD_DAYS[cars] + self.rng.randint(0, 10 if cars else 5))
        addresses = self.addresses.get(dealer_id, [])
        ship_to = None
        if addresses:
            other = len(addresses) > 1 and self.rng.random() < self.OTHER_ADDRESS_SHARE
            ship_to = self.rng.choice(addresses[1:]) if other else addresses[0]
        return {"requested_on": requested, "ship_to": ship_to}
