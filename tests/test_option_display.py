"""Where an order's §12 facts show outside the order pages: each vehicle's options on the tracking page (English and
Chinese), the ship form, the shipment page and the shipments list; the requested delivery date (or "as soon as
possible"), the ship-to address and who placed the order on the dealer's behalf on the shipping pages; all of it on
the delivery note PDF, in both languages."""

from __future__ import annotations

import datetime as dt
import subprocess

import pytest

from portal.platform.timeutil import freeze
from tests.conftest import login

T0 = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=10)
REQUESTED = (T0 + dt.timedelta(days=20)).date()


@pytest.fixture
def ch(world):
    world.region("EAST")
    world.dealer("SH-1", "EAST", name="上海一号", payment_terms_days=30)
    world.dealer("SH-2", "EAST", name="上海二号")
    world.product("CAR-1", list_price="100000.00", category="vehicles", build_to_order=True, name="远航 X5")
    world.product("OIL-1", list_price="100.00", name="机油")
    world.stock("OIL-1", 50)
    for code in ("SH-1", "SH-2"):
        world.credit_limit(code, "10000000")
    world.option("CAR-1", "colour", "WHT", "珍珠白", "Pearl white", default=True)
    world.option("CAR-1", "colour", "RED", "烈焰红", "Flame red", delta="3000.00")
    world.option("CAR-1", "trim", "STD", "标准版", "Standard", default=True)
    world.option("CAR-1", "trim", "LUX", "豪华版", "Luxury", delta="12000.00")
    world.address("SH-1", "展厅", "上海市浦东新区世纪大道1号")  # the default
    yard = world.address("SH-1", "仓库", "上海市嘉定区安亭镇2号", recipient="李娜", phone="021-6234 5678")
    users = {
        "cm": world.user("channel_manager", username="cm"),
        "staff": world.user("dealer_staff", dealer="SH-1", username="sh.staff"),
        "staff_zh": world.user("dealer_staff", dealer="SH-1", username="sh.zh", locale="zh_CN"),
        "rm": world.user("region_manager", region="EAST", username="rm.east"),
    }
    with freeze(T0):
        order = world.order_with(
            "SH-1",
            [
                {"sku": "CAR-1", "quantity": 2, "options": {"colour": "RED", "trim": "LUX"}},
                {"sku": "OIL-1", "quantity": 3},
            ],
            username="cm",
            requested_on=REQUESTED,
            ship_to=yard,
        )
        asap = world.order_with("SH-2", [{"sku": "CAR-1", "quantity": 1}])  # defaults; SH-2 has no address
    serials = world.serials(order)
    world.mes_events(
        [
            {"event_id": f"done-{s}", "serial": s, "stage": "completed", "occurred_at": T0 + dt.timedelta(days=3)}
            for s in serials + world.serials(asap)
        ]
    )
    return {"order": order, "asap": asap, "serials": serials, **users}


def page(app, username: str, url: str) -> str:
    client = app.test_client()
    assert login(client, username).status_code == 302
    resp = client.get(url)
    assert resp.status_code == 200, (url, resp.status_code)
    return resp.get_data(as_text=True)


RED_LUX = "Colour: Flame red · Trim: Luxury"
RED_LUX_ZH = "车身颜色：烈焰红 · 配置：豪华版"


def test_the_tracking_page_shows_each_vehicles_options(app, ch):
    html = page(app, ch["staff"], f"/track/{ch['order']}")
    assert html.count("data-options>" + RED_LUX + "<") == 2  # one per vehicle
    one = page(app, ch["staff"], f"/track/{ch['serials'][0]}")
    assert one.count(RED_LUX) == 1
    # a line that chose nothing takes the defaults, carried onto its vehicle
    assert "Colour: Pearl white · Trim: Standard" in page(app, ch["cm"], f"/track/{ch['asap']}")


def test_the_tracking_page_shows_the_options_in_chinese(app, ch):
    assert page(app, ch["staff_zh"], f"/track/{ch['order']}").count(RED_LUX_ZH) == 2


def test_the_ship_form_shows_where_and_when_and_each_units_options(app, ch):
    html = page(app, ch["cm"], f"/orders/{ch['order']}/ship")
    assert f'data-requested-on><span class="text-nowrap">{REQUESTED.isoformat()}</span>' in html
    ship_to = html[html.index("data-ship-to>") : html.index("</dd>", html.index("data-ship-to>"))]
    for part in ("仓库", "李娜", "021-6234 5678", "上海市嘉定区安亭镇2号"):
        assert part in ship_to
    assert "世纪大道" not in ship_to  # not the default address: the one the order chose
    placed = html[html.index("data-placed-by>") :]
    assert placed.startswith("data-placed-by>cm") and "on the dealer’s behalf" in placed[:300]
    assert f"data-line-options>{RED_LUX}<" in html
    for vin in ch["serials"]:
        unit = html[html.index(f'id="unit-{vin}"') :]
        assert f"data-unit-options>{RED_LUX}<" in unit[: unit.index("</label>")]
    # an order for as soon as possible, without an address: the dealer's own, and nobody placed it on its behalf
    asap = page(app, ch["cm"], f"/orders/{ch['asap']}/ship")
    assert "data-requested-on>As soon as possible<" in asap
    assert "No ship-to address chosen: the dealer’s own address." in asap and "data-placed-by" not in asap


def test_the_shipment_page_list_and_delivery_note_show_them(app, world, ch, tmp_path):
    number = world.shipment(ch["order"], [("OIL-1", 3)], serials=ch["serials"])
    for who in (ch["staff"], ch["cm"], ch["rm"]):
        html = page(app, who, f"/shipments/{number}")
        assert f'data-requested-on><span class="text-nowrap">{REQUESTED.isoformat()}</span>' in html
        assert "李娜" in html and "021-6234 5678" in html and "上海市嘉定区安亭镇2号" in html
        assert "data-placed-by>cm" in html
        assert html.count(f"data-line-options>{RED_LUX}<") == 1  # on the car line, not on the oil
        assert "data-unit-options" not in html  # each VIN carries its line's options: said once, on the line
    listing = page(app, ch["cm"], "/shipments")
    row = listing[listing.index(f'data-shipment="{number}"') :]
    assert "data-ship-to-label>to 仓库<" in row[: row.index("</tr>")]
    assert 'data-label="Gross (CNY)"' in listing  # the list stacks into cards on a phone
    client = app.test_client()
    login(client, ch["staff"])
    pdf = tmp_path / "note.pdf"
    pdf.write_bytes(client.get(f"/shipments/{number}/delivery-note.pdf").data)
    note = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    flat = " ".join(note.split())
    for part in (
        "收货地址 Ship to",
        "仓库",
        "上海市嘉定区安亭镇2号",
        "收货人 Recipient",
        "李娜 021-6234 5678",
        "要求交付 Requested",
        REQUESTED.isoformat(),
        "代客下单 Placed by",
        "选装",
        "Options",
        *ch["serials"],
    ):
        assert part in flat, part
    assert RED_LUX_ZH in flat
    assert RED_LUX in flat


def test_a_delivery_note_without_a_requested_date_says_as_soon_as_possible(app, world, ch, tmp_path):
    number = world.shipment(ch["asap"], [], serials=world.serials(ch["asap"]))
    client = app.test_client()
    login(client, ch["cm"])
    pdf = tmp_path / "asap.pdf"
    pdf.write_bytes(client.get(f"/shipments/{number}/delivery-note.pdf").data)
    flat = " ".join(
        subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout.split()
    )
    assert "尽快 As soon as possible" in flat and "Colour: Pearl white · Trim: Standard" in flat
    assert "代客下单" not in flat
