"""The demo dealers' people and places (一户一档): contacts by role, one or two ship-to addresses, an account manager
and a first internal note.

Drawn from a random generator of their own, so the rest of the demo story (which draws from the demo's generator in
a fixed order) is the same with or without them.
"""

from __future__ import annotations

import random

from portal.dealers.models import Dealer, DealerAddress, DealerContact, DealerNote, User
from portal.extensions import db

SEED = 20261207
SURNAMES = "王李张刘陈杨黄赵周吴徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超", "霞", "平", "刚"]
# (role, how often a dealer has one)
ROLES = [("owner", 1.0), ("purchasing", 1.0), ("finance", 0.9), ("logistics", 0.6), ("service", 0.4)]
YARDS = ["仓库", "二号展厅", "售后服务中心"]
ROADS = ["工业路", "物流大道", "开发区路", "滨江路", "创业路"]
NOTES = [
    "签约拜访：资料齐全，经销协议已签，信用额度按季度复核。",
    "开业检查：展厅与售后工位符合标准，首批库存已确认。",
    "区域走访：老板重视新能源车型，希望加大试驾车支持。",
]


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(["", rng.choice(GIVEN)])


def _mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3589')}{rng.randint(0, 999999999):09d}"


def add_people_and_places(dealers: list[Dealer], users: list[User]) -> None:
    """Contacts, ship-to addresses and the account manager of every demo dealer: tier A dealers are looked after by
    HQ's channel manager, the others by their big region's manager (Shanghai's by the city's own)."""
    rng = random.Random(SEED)  # noqa: S311 (demo data, reproducible)
    managers = {u.region.code: u for u in users if u.role == "region_manager"}
    channel = next(u for u in users if u.role == "channel_manager")
    for dealer in dealers:
        path = dealer.region.path.strip("/").split("/")  # HQ, big region, province, …
        regional = managers.get(dealer.region.code) or (managers.get(path[1]) if len(path) > 1 else None)
        dealer.account_manager = channel if dealer.tier == "A" or regional is None else regional
        login = dealer.code.lower().replace("-", "")
        for role, share in ROLES:
            if rng.random() > share:
                continue
            name = dealer.contact_name if role == "owner" and rng.random() < 0.5 else _person(rng)
            email = f"{role}.{login}@dealers.example.cn" if role in ("finance", "purchasing") else None
            db.session.add(
                DealerContact(
                    dealer_id=dealer.id, role=role, name=name, phone=_mobile(rng), email=email, created_by="channel"
                )
            )
        city = dealer.address.split("市")[0] + "市" if dealer.address and "市" in dealer.address else ""
        db.session.add(
            DealerAddress(
                dealer_id=dealer.id,
                label="展厅",
                recipient=dealer.contact_name,
                phone=dealer.contact_phone,
                address=dealer.address or city,
                is_default=True,
                active=True,
                created_by="channel",
            )
        )
        if rng.random() < 0.6:
            db.session.add(
                DealerAddress(
                    dealer_id=dealer.id,
                    label=rng.choice(YARDS),
                    recipient=_person(rng),
                    phone=_mobile(rng),
                    address=f"{city}{rng.choice(ROADS)}{rng.randint(1, 300)}号",
                    is_default=False,
                    active=True,
                    created_by="channel",
                )
            )
        author = dealer.account_manager.username
        db.session.add(DealerNote(dealer_id=dealer.id, body=rng.choice(NOTES), author=author))
    db.session.flush()
