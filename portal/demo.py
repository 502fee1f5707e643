"""The demo channel: HQ, five regions with provinces and cities, 45 dealers, users for every role, and the channel's
last twelve months told in time order (`portal.demo_timeline`): orders, the build line, shipments, receivables,
the dealers' stock and sales, rebates and statements, all through the services.

Every demo login has the password `demo-pass-2026`. Loading is refused when data is already there
(use `flask --app portal demo --reset`).

The demo never sends e-mail, even with MAIL_SERVER set: the e-mails its story writes (reminders, statements, …) stay
in the outbox as `suppressed`, and no delivery is queued for them (docs/MAIL.md).
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from sqlalchemy import select

from portal.dealers.models import Dealer, Region, User
from portal.extensions import db
from portal.platform.uow import commit

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105  (documented demo login)

# (code, name, parent, approval_limit)
REGIONS = [
    ("HQ", "总部 Headquarters", None, "0"),
    ("EAST", "华东大区", "HQ", "500000"),
    ("SH", "上海", "EAST", "200000"),
    ("JS", "江苏", "EAST", "200000"),
    ("ZJ", "浙江", "EAST", "200000"),
    ("NORTH", "华北大区", "HQ", "500000"),
    ("BJ", "北京", "NORTH", "200000"),
    ("TJ", "天津", "NORTH", "150000"),
    ("HEB", "河北", "NORTH", "150000"),
    ("SOUTH", "华南大区", "HQ", "500000"),
    ("GD", "广东", "SOUTH", "250000"),
    ("GD-SZ", "深圳", "GD", "150000"),
    ("FJ", "福建", "SOUTH", "150000"),
    ("WEST", "西部大区", "HQ", "400000"),
    ("SC", "四川", "WEST", "150000"),
    ("CQ", "重庆", "WEST", "150000"),
    ("SN", "陕西", "WEST", "120000"),
    ("CENTRAL", "华中大区", "HQ", "400000"),
    ("HB", "湖北", "CENTRAL", "150000"),
    ("HN", "湖南", "CENTRAL", "150000"),
]

# city regions get dealers; (region code, dealer code prefix, city name, district names)
CITIES = [
    ("SH", "SH", "上海", ["浦东", "闵行", "嘉定", "宝山", "徐汇", "松江"]),
    ("JS", "NJ", "南京", ["江宁", "鼓楼"]),
    ("JS", "SZ", "苏州", ["工业园区", "吴中"]),
    ("ZJ", "HZ", "杭州", ["滨江", "萧山", "余杭"]),
    ("ZJ", "NB", "宁波", ["鄞州", "北仑"]),
    ("BJ", "BJ", "北京", ["朝阳", "海淀", "丰台", "亦庄", "顺义"]),
    ("TJ", "TJ", "天津", ["滨海", "河西"]),
    ("HEB", "SJZ", "石家庄", ["裕华"]),
    ("GD", "GZ", "广州", ["天河", "番禺", "白云"]),
    ("GD-SZ", "SZN", "深圳", ["南山", "龙岗", "宝安"]),
    ("FJ", "XM", "厦门", ["思明", "湖里"]),
    ("SC", "CD", "成都", ["高新", "武侯", "双流", "龙泉驿"]),
    ("CQ", "CQ", "重庆", ["渝北", "九龙坡"]),
    ("SN", "XA", "西安", ["雁塔", "未央"]),
    ("HB", "WH", "武汉", ["汉阳", "洪山", "东西湖", "江夏"]),
    ("HN", "CS", "长沙", ["岳麓", "雨花"]),
]

BRANDS = ["华通", "远航", "瑞丰", "金桥", "恒信", "东方", "永达", "宏图", "锦程", "众泰"]
KINDS = [
    ("4s_store", "汽车销售服务有限公司"),
    ("4s_store", "汽车4S店"),
    ("chain", "汽车贸易连锁有限公司"),
    ("franchise", "汽车加盟店"),
    ("specialty", "新能源汽车专营店"),
    ("department_store", "商贸有限公司（商场店）"),
]
STREETS = ["人民路", "建设大道", "世纪大道", "中山路", "解放路"]
SURNAMES = "王李张刘陈杨黄赵周吴徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超", "霞", "平", "刚"]


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(["", rng.choice(GIVEN)])


def load(reset: bool = False, echo=print) -> None:
    from portal.notify.services import mail_suppressed
    from portal.platform.sqlite import writing

    with writing(), mail_suppressed():
        _load(reset, echo)


def _load(reset: bool, echo) -> None:
    if db.session.execute(select(Region.id).limit(1)).first():
        if not reset:
            echo("The database already holds data; demo not loaded (use --reset to replace it).")
            return
        reset_all()
    rng = random.Random(20261123)  # noqa: S311 (demo data, reproducible)
    from werkzeug.security import generate_password_hash

    from portal.demo_timeline import Story, local
    from portal.orders.demo import load_catalogue
    from portal.platform.timeutil import freeze, utcnow

    now = utcnow()
    story_start = Story.first_day(now)
    pw_hash = generate_password_hash(DEMO_PASSWORD)
    with freeze(local(story_start - dt.timedelta(days=21), 9)):  # the channel as it was set up, before the story
        regions, dealers, users = _channel(rng, pw_hash)
        from portal.dealers.demo import add_people_and_places

        add_people_and_places(dealers, users)  # contacts, ship-to addresses, account managers (a generator of its own)
        by_name = {u.username: u for u in users}
        load_catalogue(by_name["channel"], rng, Story.business_day(now), dealers)
    story = Story(dealers, by_name, rng, now, echo=echo)
    story.tell()
    from portal.collections.demo import add_collections

    add_collections(dealers, by_name)  # payer accounts, a promise, a credit request, payment notices (§14)
    from portal.returns.demo import add_returns

    add_returns(by_name, echo)  # returns in every status, two delivery discrepancies (§13)
    from portal.production.demo import token_hint

    for line in story.summary():
        echo(line)
    from portal.dealers.demo_channel import add_sub_dealers

    add_sub_dealers(dealers, by_name, echo)  # two distributors' sub-dealers and their last four months (§16)
    from portal.targets.demo import add_targets

    add_targets(by_name, echo)  # a year of targets, HQ's and the region managers' splits (§15)
    token_hint(echo)
    commit()
    echo(f"Demo channel loaded: {len(regions)} regions, {len(dealers)} dealers, {len(users)} users.")
    echo(LOGINS)


def _channel(rng: random.Random, pw_hash: str) -> tuple[dict, list, list]:
    """Regions, dealers and users."""
    regions: dict[str, Region] = {}
    for code, name, parent, limit in REGIONS:
        p = regions.get(parent) if parent else None
        regions[code] = Region(
            code=code, name=name, parent=p, path=(p.path if p else "/") + code + "/", approval_limit=Decimal(limit)
        )
        db.session.add(regions[code])
    db.session.flush()

    dealers: list[Dealer] = []
    for region_code, prefix, city, districts in CITIES:
        for i, district in enumerate(districts, start=1):
            channel_type, suffix = rng.choice(KINDS)
            brand = rng.choice(BRANDS)
            tier = rng.choices("ABC", weights=[2, 5, 3])[0]
            contact = _person(rng)
            dealer = Dealer(
                code=f"{prefix}-{i:03d}",
                name=f"{city}{brand}{district}{suffix}",
                region=regions[region_code],
                tier=tier,
                channel_type=channel_type,
                payment_terms_days=rng.choice([30, 30, 30, 45, 60]),
                status="active",
                contact_name=contact,
                contact_phone=f"1{rng.randint(3, 9)}{rng.randint(0, 999999999):09d}",
                contact_email=f"{prefix.lower()}{i:03d}@dealers.example.cn",
                address=f"{city}市{district}区{rng.choice(STREETS)}{rng.randint(1, 999)}号",
            )
            dealers.append(dealer)
            db.session.add(dealer)
    db.session.flush()

    users = [
        User(username="admin", display_name="系统管理员", role="hq_admin", locale="zh_CN"),
        User(username="admin.en", display_name="Alex Admin", role="hq_admin", locale="en"),
        User(username="channel", display_name="渠道经理 周明", role="channel_manager", locale="zh_CN"),
        User(username="finance", display_name="财务 林静", role="finance", locale="zh_CN"),
        User(username="finance.en", display_name="Fiona Finance", role="finance", locale="en"),
    ]
    for code in ("EAST", "NORTH", "SOUTH", "WEST", "CENTRAL"):
        users.append(
            User(
                username=f"rm.{code.lower()}",
                email=f"rm.{code.lower()}@hq.example.cn",
                display_name=f"{regions[code].name}经理 {_person(rng)}",
                role="region_manager",
                region=regions[code],
                locale="zh_CN",
            )
        )
    users.append(
        User(
            username="rm.sh",
            display_name=f"上海区域经理 {_person(rng)}",
            role="region_manager",
            region=regions["SH"],
            locale="zh_CN",
        )
    )
    for d in dealers:
        login = d.code.lower().replace("-", "")
        users.append(
            User(
                username=f"{login}.admin",
                display_name=d.contact_name,
                role="dealer_admin",
                dealer=d,
                locale="zh_CN",
                email=d.contact_email,
            )
        )
        users.append(
            User(username=f"{login}.staff", display_name=_person(rng), role="dealer_staff", dealer=d, locale="zh_CN")
        )
    users.append(
        User(username="dealer.en", display_name="Daniel Dealer", role="dealer_admin", dealer=dealers[0], locale="en")
    )
    for u in users:
        u.password_hash = pw_hash
        db.session.add(u)
    db.session.flush()
    return regions, dealers, users


def reset_all() -> None:
    """Delete every row of every table (children first; dealers' account managers are users: that link goes first)."""
    from sqlalchemy import update

    from portal.dealers.models import Dealer

    db.session.execute(update(Dealer).values(account_manager_id=None))
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.flush()


LOGINS = f"""Demo logins (password for all: {DEMO_PASSWORD}):
  hq_admin         admin          (English: admin.en)
  channel_manager  channel
  finance          finance        (English: finance.en)
  region_manager   rm.east  rm.north  rm.south  rm.west  rm.central   (a city region: rm.sh)
  dealer_admin     sh001.admin    (any dealer: <code without dash, lower case>.admin; English: dealer.en)
  dealer_staff     sh001.staff
  distributor      sh001.admin    (sells to its sub-dealers SH-001-A, -B, -C; likewise wh003.admin)
  sub-dealer       sh001a.admin   (staff: sh001a.staff; English: sh001b.admin)"""
