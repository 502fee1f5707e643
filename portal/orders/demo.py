"""The demo catalogue, price policies and two months of orders, placed through the services (credit gate
included) and decided by finance and the region managers as people would."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from portal.catalog import services as catalog
from portal.orders import services as orders
from portal.platform.timeutil import freeze

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


def load_catalogue_and_orders(dealers, people, rng: random.Random, today: dt.date, echo=print) -> dict:
    cm, fin = people["channel"], people["finance"]
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
                "min_resale_price": (Decimal(price) * Decimal("1.02")).quantize(Decimal("1")),
                "build_to_order": True,
                "lead_time_days": rng.choice([21, 28, 35]),
            },
        )
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
                "lead_time_days": 0,
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
            "name": "华东新能源推广",
            "scope": "region:EAST",
            "priority": 1,
            "valid_from": today - dt.timedelta(days=60),
            "valid_to": today + dt.timedelta(days=30),
            "rules": [{"category": "ev", "discount_pct": Decimal("6")}],
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
    counts = {"orders": 0}
    for day_back in range(60, -1, -1):
        day = today - dt.timedelta(days=day_back)
        for dealer in rng.sample(dealers, k=rng.randint(1, 4)):
            if dealer.status != "active":
                continue
            staff = people.get(f"{dealer.code.lower().replace('-', '')}.staff")
            lines = _basket(rng)
            moment = dt.datetime.combine(day, dt.time(rng.randint(1, 9), rng.randint(0, 59)), dt.UTC)
            with freeze(moment):
                try:
                    order, _created = orders.place_order(staff, dealer, lines)
                except Exception as exc:  # noqa: BLE001 - a dealer on hold is refused, as in real life
                    if getattr(exc, "code", "") != "credit_hold":
                        raise
                    continue
                counts["orders"] += 1
                _decide(order, day_back, rng, people, fin)
    echo(f"Catalogue: {len(VEHICLES)} vehicles, {len(PARTS)} parts, 4 price lists; {counts['orders']} orders.")
    return counts


def _basket(rng: random.Random) -> list[dict]:
    if rng.random() < 0.5:
        sku = rng.choice(VEHICLES)[0]
        return [{"sku": sku, "quantity": rng.randint(1, 4)}]
    picks = rng.sample(PARTS, k=rng.randint(2, 5))
    return [{"sku": p[0], "quantity": rng.choice([10, 20, 50, 60, 100])} for p in picks]


def _decide(order, day_back: int, rng: random.Random, people: dict, fin) -> None:
    """Older orders were decided; the last days' are still open."""
    if day_back < 3:
        return
    if order.status == "credit_review":
        roll = rng.random()
        if roll < 0.6:
            orders.approve(fin, order, "回款记录良好，特批")
        elif roll < 0.85:
            orders.reject(fin, order, "信用额度不足，请先回款")
    elif order.status == "approved" and rng.random() < 0.05:
        orders.cancel(people["channel"], order, "经销商要求取消")
