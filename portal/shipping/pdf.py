"""The delivery note (发货单) of a shipment, as PDF (ReportLab). Labels in Chinese and English on one document: it
travels with the goods and is read by the driver, the dealer's yard and finance alike. Made on request, never stored.

Where the goods go is the order's ship-to address (label, recipient, phone, address; the dealer's own address and
contact when the order chose none), with the delivery date the dealer asked for (or "as soon as possible"); the
vehicles' VINs are listed under their line, each group of VINs followed by the options those vehicles were built
with (§12), in both languages.

Who ships is printed at the top: HQ (the company configured as `PORTAL_COMPANY_*`) or, for a distributor's transfer
to its sub-dealer (§16), the distributor — its code, name, address and phone — whose stock the goods left.
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from flask import current_app, has_app_context
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, TableStyle

from portal.platform.pdf import Table, cjk_font, mono_font, numbered_canvas
from portal.platform.pdf import money_text as _money
from portal.platform.pdf import text as _text

VINS_PER_ROW = 4  # VINs go in rows of their own under their line, so a long list splits across pages
GREY = colors.HexColor("#555555")
RULE = colors.HexColor("#bbbbbb")


def delivery_note(shipment) -> bytes:
    font = cjk_font()  # embedded TrueType subset: shows in every viewer (RuntimeError when no font installed)
    order, dealer, invoice = shipment.order, shipment.order.dealer, shipment.invoice
    title = ParagraphStyle("title", fontName=font, fontSize=16, leading=20)
    number_style = ParagraphStyle("number", fontName=mono_font(), fontSize=13, leading=20, alignment=TA_RIGHT)
    small = ParagraphStyle("small", fontName=font, fontSize=8.5, leading=11)
    cell = ParagraphStyle("cell", fontName=font, fontSize=8.5, leading=10.5)
    head = ParagraphStyle("head", parent=cell, leading=10)
    head_right = ParagraphStyle("head_right", parent=head, alignment=TA_RIGHT)
    vin = ParagraphStyle("vin", fontName=mono_font(), fontSize=8, leading=10)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=16 * mm,
        rightMargin=16 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=f"{shipment.number}",
        author="DRP Portal",
    )
    banner = Table(
        [[Paragraph("发货单 Delivery note", title), Paragraph(escape(shipment.number), number_style)]],
        colWidths=[108 * mm, 70 * mm],
    )
    banner.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                ("LEFTPADDING", (0, 0), (0, -1), 0),
                ("RIGHTPADDING", (-1, 0), (-1, -1), 0),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
            ]
        )
    )
    story = [banner, Spacer(1, 4 * mm)]
    ship_to = getattr(order, "ship_to", None)
    requested = getattr(order, "requested_on", None)
    placed_by = getattr(order, "placed_by", None)  # HQ or the region placed the order for the dealer
    if ship_to is not None:
        where = [_text(ship_to.label), _text(ship_to.address)]
        who = " ".join(filter(None, [ship_to.recipient, ship_to.phone])) or " ".join(
            filter(None, [dealer.contact_name, dealer.contact_phone])
        )
    else:
        where = [_text(dealer.address)]
        who = " ".join(filter(None, [dealer.contact_name, dealer.contact_phone]))
    head_rows = [
        ["发货方 Shipped by", _shipper(shipment), "", ""],
        ["发货日期 Shipped on", shipment.shipped_on.isoformat(), "订单 Order", order.number],
        ["经销商 Dealer", f"{_text(dealer.code)} {_text(dealer.name)}", "发票 Invoice",
         invoice.number if invoice else "补发，不另开票 Re-shipment, no invoice"],
        ["收货地址 Ship to", "<br/>".join(where), "到期日 Due on", invoice.due_on.isoformat() if invoice else "—"],
        ["收货人 Recipient", _text(who), "付款条件 Terms", f"{dealer.payment_terms_days} 天 days"],
        ["要求交付 Requested", requested.isoformat() if requested else "尽快 As soon as possible",
         *(["代客下单 Placed by", _text(placed_by.display_name or placed_by.username)] if placed_by else ["", ""])],
    ]  # fmt: skip
    head_table = Table(
        [[Paragraph(str(c), cell) for c in row] for row in head_rows],
        colWidths=[32 * mm, 58 * mm, 30 * mm, 58 * mm],
    )
    head_table.setStyle(
        TableStyle(
            [
                ("SPAN", (1, 0), (-1, 0)),  # who ships: the whole width
                ("TEXTCOLOR", (0, 0), (0, -1), GREY),
                ("TEXTCOLOR", (2, 0), (2, -1), GREY),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (0, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    story += [head_table, Spacer(1, 5 * mm)]
    labels = [("#", ""), ("物料", "SKU"), ("名称", "Product"), ("数量", "Qty"), ("单价", "Unit price"),
              ("金额", "Net"), ("税额", "Tax"), ("价税合计", "Gross")]  # fmt: skip
    rows = [[Paragraph(f"{cn}<br/>{en}", head_right if i >= 3 else head) for i, (cn, en) in enumerate(labels)]]
    style = [
        ("FONT", (0, 0), (-1, -1), font, 8.5),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e9ecef")),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
        ("ALIGN", (3, 1), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
    for n, line in enumerate(shipment.lines, start=1):
        product = line.order_line.product
        name = _text(product.name) + (f"<br/>{_text(product.name_en)}" if product.name_en else "")
        rows.append(
            [
                str(n),
                line.sku,
                Paragraph(name, cell),
                str(line.quantity),
                _money(line.unit_price),
                _money(line.net),
                _money(line.tax),
                _money(line.gross),
            ]
        )
        for options, serials in _by_options(line):
            for i in range(0, len(serials), VINS_PER_ROW):
                r = len(rows)
                rows.append(["", "VIN" if i == 0 else "", Paragraph(", ".join(serials[i : i + VINS_PER_ROW]), vin)])
                rows[-1] += [""] * 5
                style += [
                    ("SPAN", (2, r), (-1, r)),
                    ("TEXTCOLOR", (1, r), (1, r), GREY),
                    ("TOPPADDING", (0, r), (-1, r), 0),
                ]
            if options:
                r = len(rows)
                rows.append(["", Paragraph("选装<br/>Options", cell), Paragraph(options, cell)] + [""] * 5)
                style += [
                    ("SPAN", (2, r), (-1, r)),
                    ("TEXTCOLOR", (1, r), (1, r), GREY),
                    ("TOPPADDING", (0, r), (-1, r), 0),
                ]
        style.append(("LINEBELOW", (0, len(rows) - 1), (-1, len(rows) - 1), 0.25, RULE))
    rows.append(["", "", "合计 Total", str(sum(ln.quantity for ln in shipment.lines)), "", _money(shipment.net),
                 _money(shipment.tax), _money(shipment.gross)])  # fmt: skip
    style.append(("LINEABOVE", (0, -1), (-1, -1), 0.6, colors.black))
    table = Table(
        rows,
        colWidths=[7 * mm, 28 * mm, 51 * mm, 14 * mm, 20 * mm, 20 * mm, 17 * mm, 21 * mm],  # SKUs up to 13 characters
        repeatRows=1,
    )
    table.setStyle(TableStyle(style))
    story += [table, Spacer(1, 8 * mm)]
    story.append(
        Paragraph(
            "货物在途期间由发货方负责；收货时请核对 VIN 与数量，并在门户中确认收货。"
            "<br/>Goods travel at the shipper's risk. On arrival, check the VINs and quantities and confirm the "
            "receipt in the portal.",
            small,
        )
    )
    story.append(Spacer(1, 14 * mm))
    sign = Table(  # three signature lines with gaps between them
        [
            ["发货人 Shipped by", "", "承运人 Carrier", "", "收货人签收 Received by"],
            [""] * 5,
            ["日期 Date", "", "日期 Date", "", "日期 Date"],
        ],  # fmt: skip
        colWidths=[54 * mm, 8 * mm, 54 * mm, 8 * mm, 54 * mm],
        rowHeights=[6 * mm, 16 * mm, 6 * mm],
    )
    sign.setStyle(
        TableStyle(
            [("FONT", (0, 0), (-1, -1), font, 8.5), ("TEXTCOLOR", (0, 0), (-1, -1), GREY)]
            + [("LINEBELOW", (c, 1), (c, 1), 0.6, colors.black) for c in (0, 2, 4)]
        )
    )
    story.append(KeepTogether([sign]))
    parts = ["DRP Portal", shipment.number]
    if shipment.received_on:
        parts.append(f"已收货 Received {shipment.received_on.isoformat()}")
    doc.build(story, canvasmaker=numbered_canvas(" | ".join(parts), font=font))  # footer and "x / y" on each page
    return buffer.getvalue()


def _shipper(shipment) -> str:
    """Who ships (Paragraph markup): the distributor of a transfer (§16), else HQ's company."""
    seller = getattr(shipment, "seller", None) if getattr(shipment, "seller_id", None) is not None else None
    if seller is not None:
        parts = [f"{seller.code} {seller.name}", seller.address, seller.contact_phone]
    elif has_app_context():
        config = current_app.config
        parts = [config.get(f"PORTAL_COMPANY_{k}") for k in ("NAME", "ADDRESS", "PHONE")]
    else:
        parts = []
    return "<br/>".join(_text(p) for p in parts if p) or "—"


def options_both(options) -> str:
    """A vehicle's options in Chinese, then English (Paragraph markup, escaped); "" for none."""
    if not options:
        return ""
    from flask_babel import force_locale

    from portal.catalog.labels import options_text

    with force_locale("zh_CN"):
        chinese = options_text(options)
    with force_locale("en"):
        english = options_text(options)
    return escape(chinese) if chinese == english else f"{escape(chinese)}<br/>{escape(english)}"


def _by_options(line) -> list[tuple[str, list[str]]]:
    """A shipment line's VINs grouped by the options their vehicles carry (a unit without its own: the order line's),
    in unit order: [(options text, serials)]."""
    fallback = getattr(line.order_line, "options", None)
    if not line.units and getattr(line.shipment, "seller_id", None) is not None:  # a distributor's VINs (§16)
        from sqlalchemy import select

        from portal.extensions import db
        from portal.production.models import Unit
        from portal.shipping.services import serials_by_line

        serials = serials_by_line(line.shipment).get(line.id, [])
        built = dict(db.session.execute(select(Unit.serial, Unit.options).where(Unit.serial.in_(serials))).all())
        by_options: dict[str, list[str]] = {}
        for serial in serials:  # the options each vehicle was built with
            by_options.setdefault(options_both(built.get(serial) or fallback), []).append(serial)
        return list(by_options.items())
    if not line.units and getattr(line.shipment, "kind", "sale") == "reship":  # a VIN sent again (§13)
        from portal.returns.discrepancies import reship_serials

        serial = reship_serials(line.shipment).get(line.id)
        return [(options_both(fallback), [serial])] if serial else []
    groups: dict[str, list[str]] = {}
    for unit in line.units:
        groups.setdefault(options_both(getattr(unit, "options", None) or fallback), []).append(unit.serial)
    return list(groups.items())
