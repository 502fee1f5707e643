"""The delivery note (发货单) of a shipment, as PDF (ReportLab). Labels in Chinese and English on one document: it
travels with the goods and is read by the driver, the dealer's yard and finance alike. Made on request, never stored.
"""

from __future__ import annotations

import io

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

FONT = "STSong-Light"  # one of ReportLab's built-in CID fonts: Chinese without shipping a font file
_registered = False


def _font() -> str:
    global _registered
    if not _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
        _registered = True
    return FONT


def _money(value) -> str:
    return f"{value:,.2f}"


def delivery_note(shipment) -> bytes:
    font = _font()
    order, dealer, invoice = shipment.order, shipment.order.dealer, shipment.invoice
    title = ParagraphStyle("title", fontName=font, fontSize=16, leading=20, spaceAfter=2 * mm)
    small = ParagraphStyle("small", fontName=font, fontSize=8.5, leading=11)
    cell = ParagraphStyle("cell", fontName=font, fontSize=8.5, leading=10.5)
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
    story = [Paragraph(f"发货单 Delivery note &nbsp; {shipment.number}", title)]
    head = [
        ["发货日期 Shipped on", shipment.shipped_on.isoformat(), "订单 Order", order.number],
        ["经销商 Dealer", f"{dealer.code} {dealer.name}", "发票 Invoice", invoice.number],
        ["地址 Address", dealer.address or "—", "到期日 Due on", invoice.due_on.isoformat()],
        ["联系人 Contact", " ".join(filter(None, [dealer.contact_name, dealer.contact_phone])) or "—",
         "付款条件 Terms", f"{dealer.payment_terms_days} 天 days"],
    ]  # fmt: skip
    head_table = Table(
        [[Paragraph(str(c), cell) for c in row] for row in head],
        colWidths=[28 * mm, 62 * mm, 26 * mm, 62 * mm],
    )
    head_table.setStyle(
        TableStyle(
            [
                ("TEXTCOLOR", (0, 0), (0, -1), colors.HexColor("#555555")),
                ("TEXTCOLOR", (2, 0), (2, -1), colors.HexColor("#555555")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    story += [head_table, Spacer(1, 5 * mm)]
    rows = [["#", "物料 SKU", "名称 Product", "数量 Qty", "单价 Unit price", "金额 Net", "税额 Tax", "价税合计 Gross"]]
    for n, line in enumerate(shipment.lines, start=1):
        product = line.order_line.product
        name = product.name + (f"<br/>{product.name_en}" if product.name_en else "")
        if line.units:
            name += "<br/>VIN: " + ", ".join(u.serial for u in line.units)
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
    rows.append(["", "", "合计 Total", str(sum(ln.quantity for ln in shipment.lines)), "", _money(shipment.net),
                 _money(shipment.tax), _money(shipment.gross)])  # fmt: skip
    table = Table(
        rows,
        colWidths=[7 * mm, 24 * mm, 55 * mm, 14 * mm, 20 * mm, 20 * mm, 17 * mm, 21 * mm],
        repeatRows=1,
    )
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), font, 8.5),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e9ecef")),
                ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
                ("LINEABOVE", (0, -1), (-1, -1), 0.6, colors.black),
                ("ALIGN", (3, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("GRID", (0, 1), (-1, -2), 0.25, colors.HexColor("#bbbbbb")),
            ]
        )
    )
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
    sign = Table(
        [["发货人 Shipped by", "承运人 Carrier", "收货人签收 Received by"], ["", "", ""]],
        colWidths=[59 * mm] * 3,
        rowHeights=[6 * mm, 16 * mm],
    )
    sign.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), font, 8.5),
                ("LINEBELOW", (0, 1), (-1, 1), 0.6, colors.black),
                ("RIGHTPADDING", (0, 0), (-1, -1), 8 * mm),
            ]
        )
    )
    story.append(sign)
    received = f"已收货 Received {shipment.received_on.isoformat()}" if shipment.received_on else ""

    def footer(canvas, _doc):
        canvas.saveState()
        canvas.setFont(font, 7.5)
        canvas.setFillColor(colors.HexColor("#777777"))
        canvas.drawString(16 * mm, 9 * mm, f"DRP Portal · {shipment.number} · {received}")
        canvas.drawRightString(A4[0] - 16 * mm, 9 * mm, f"{_doc.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
