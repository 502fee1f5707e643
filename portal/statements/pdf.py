"""The monthly statement of account (对账单) as PDF (ReportLab), with the dealer's confirmation slip at the end.

`render_statement(doc)` takes plain data (no ORM, no request, no app context needed) and returns the PDF bytes and
the page count, so the monthly run can render thousands of them in a worker. Labels in Chinese and English on one
document, like the delivery note. Chinese needs an installed TrueType CJK font (`portal.platform.pdf.cjk_font`).

The doc (amounts are Decimal, or anything `Decimal(str(x))` reads; dates are `datetime.date`):

    number, version, period, period_start, period_end, issued_on,
    company: {name, address, phone, bank}            (all optional)
    dealer: {code, name, region, address, contact, payment_terms_days}
    opening, debits, credits, closing,
    lines: [{date, type: invoice|payment|credit_note, number, reference, debit, credit, balance}],
    ageing: {not_due, 1_30, 31_60, 61_90, over_90, unapplied, total}

Speed: the entry table is most of the work (a benchmark renders 1,000 statements, and one of 2,000 lines). Its cells
are plain strings, drawn literally (no markup, so no escaping, and no Paragraph to lay out per cell): a long number or
reference is broken into at most two lines here, with the font's glyph widths. So every row's height is known up
front, and `_Entries` splits the table across pages itself, a small table per page under a repeated header row:
ReportLab's own `Table(repeatRows=1)` builds a new table of all the remaining rows at each page break and measures
them again (rows x pages).
"""

from __future__ import annotations

import io
from decimal import Decimal

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import getFont
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    TableStyle,
)

from portal.platform.pdf import Table, cjk_font, money_text, mono_font, numbered_canvas, text

TYPE_LABELS = {"invoice": "发票 Invoice", "payment": "收款 Payment", "credit_note": "贷项通知单 Credit note"}
AGEING = (
    ("not_due", "未到期", "Not due"),
    ("1_30", "逾期 1–30 天", "1–30 days"),
    ("31_60", "逾期 31–60 天", "31–60 days"),
    ("61_90", "逾期 61–90 天", "61–90 days"),
    ("over_90", "逾期 90 天以上", "Over 90 days"),
    ("unapplied", "未核销收款", "Unapplied cash"),
    ("total", "合计", "Total"),
)
GREY = colors.HexColor("#555555")
RULE = colors.HexColor("#bbbbbb")
SHADE = colors.HexColor("#e9ecef")
STRIPE = colors.HexColor("#f6f7f8")
MARGIN = 16 * mm
WIDTH = A4[0] - 2 * MARGIN  # 178 mm
SIZE = 8  # the entry table's font size
PAD = 3  # the entry table's left/right cell padding (points)
# date, type, number, reference, debit, credit, balance
COLUMNS = [17 * mm, 31 * mm, 29 * mm, 30 * mm, 23 * mm, 23 * mm, 25 * mm]
CELL_LINES = 2  # a longer number or reference is cut short with "…"


def _date(value) -> str:
    """A date as plain text ("2026-10-31"): for Paragraph markup, pass it through `text()`."""
    return value.isoformat() if hasattr(value, "isoformat") else str(value or "")


def _yuan(value) -> str:
    """¥1,234.56 or -¥1,234.56."""
    amount = value if isinstance(value, Decimal) else Decimal(str(value or 0))
    return f"-¥{money_text(-amount)}" if amount < 0 else f"¥{money_text(amount)}"


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=font, fontSize=8.5, leading=11)
    return {
        "company": ParagraphStyle("company", parent=base, fontSize=12, leading=15),
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5, textColor=GREY),
        "title": ParagraphStyle("title", parent=base, fontSize=17, leading=21, alignment=TA_RIGHT),
        "number": ParagraphStyle("number", fontName=mono_font(), fontSize=12, leading=16, alignment=TA_RIGHT),
        "cell": base,
        "h2": ParagraphStyle("h2", parent=base, fontSize=10.5, leading=14, spaceBefore=2, spaceAfter=3),
    }


def _header(doc: dict, font: str, st: dict[str, ParagraphStyle]) -> list:
    company = doc.get("company") or {}
    details = [company.get(k) for k in ("address", "phone", "bank")]
    left = [Paragraph(text(company.get("name") or "DRP Portal"), st["company"])]
    left += [Paragraph(text(d), st["small"]) for d in details if d]
    right = [
        Paragraph("对账单 Statement of account", st["title"]),
        Paragraph(text(doc.get("number")), st["number"]),
    ]
    banner = Table([[left, right]], colWidths=[WIDTH - 80 * mm, 80 * mm])
    banner.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                ("LEFTPADDING", (0, 0), (0, -1), 0),
                ("RIGHTPADDING", (-1, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
            ]
        )
    )
    dealer = doc.get("dealer") or {}
    version = doc.get("version")
    terms = dealer.get("payment_terms_days")
    cell = st["cell"]

    def para(value):  # user data that may wrap
        return Paragraph(text(value), cell)

    period = f"{doc.get('period') or ''} ({_date(doc.get('period_start'))} – {_date(doc.get('period_end'))})"
    rows = [  # labels and short values as plain strings (drawn literally, cheaper than a Paragraph each)
        ["经销商 Dealer", Paragraph(f"{text(dealer.get('code'))} {text(dealer.get('name'))}", cell),
         "对账单号 Number", para(doc.get("number"))],
        ["区域 Region", para(dealer.get("region")), "版本 Version", f"第 {version} 版 / version {version}"],
        ["地址 Address", para(dealer.get("address")), "对账期间 Period", period],
        ["联系人 Contact", para(dealer.get("contact")), "出具日期 Issued on", _date(doc.get("issued_on"))],
        ["付款条件 Terms", f"{terms} 天 days" if terms is not None else "—", "币种 Currency", "人民币 CNY"],
    ]  # fmt: skip
    info = Table(rows, colWidths=[27 * mm, 66 * mm, 31 * mm, WIDTH - 124 * mm])
    info.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), font, 8.5, 11),
                ("TEXTCOLOR", (0, 0), (0, -1), GREY),
                ("TEXTCOLOR", (2, 0), (2, -1), GREY),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (0, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
            ]
        )
    )
    return [banner, Spacer(1, 4 * mm), info, Spacer(1, 5 * mm)]


def _summary(doc: dict, font: str) -> Table:
    labels = ["期初余额\nOpening balance", "本期借方\nDebits", "本期贷方\nCredits", "期末余额\nClosing balance"]
    values = [money_text(doc.get(k) or 0) for k in ("opening", "debits", "credits", "closing")]
    table = Table([labels, values], colWidths=[WIDTH / 4] * 4)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), font, 8, 10),
                ("TEXTCOLOR", (0, 0), (-1, 0), GREY),
                ("FONT", (0, 1), (-1, 1), font, 12.5, 15),
                ("ALIGN", (0, 0), (-1, -1), "RIGHT"),
                ("BOX", (0, 0), (-1, -1), 0.8, colors.black),
                ("LINEBEFORE", (1, 0), (-1, -1), 0.25, RULE),
                ("BACKGROUND", (-1, 0), (-1, -1), SHADE),
                ("TOPPADDING", (0, 1), (-1, 1), 2),
                ("BOTTOMPADDING", (0, 1), (-1, 1), 6),
            ]
        )
    )
    return table


def _fit(value, width: float, widths: dict, default: float) -> tuple[str, int]:
    """`value` as a plain cell string of at most CELL_LINES lines in a column `width` wide (padding included),
    broken at a space where there is one (else anywhere, as Chinese is), "…" when cut short; and its line count.
    Measured with the font's glyph widths (`widths`, 1/1000 em): far cheaper than a Paragraph or stringWidth()."""
    if value in (None, ""):
        return "", 1
    rest = " ".join(str(value).split())
    limit = (width - 2 * PAD) / (0.001 * SIZE)  # in glyph units
    lines: list[str] = []
    while rest:
        used, cut, space = 0.0, len(rest), -1
        for i, char in enumerate(rest):
            used += widths.get(ord(char), default)
            if used > limit:
                cut = i
                break
            if char == " ":
                space = i
        if cut == len(rest):  # the rest fits
            lines.append(rest)
            break
        if len(lines) == CELL_LINES - 1:  # the last line: cut short
            room = limit - widths.get(ord("…"), default)
            while cut > 0 and sum(widths.get(ord(c), default) for c in rest[:cut]) > room:
                cut -= 1
            lines.append(rest[:cut].rstrip() + "…")
            break
        if space > 0:
            lines.append(rest[:space])
            rest = rest[space + 1 :]
        else:
            cut = max(cut, 1)
            lines.append(rest[:cut])
            rest = rest[cut:]
    return "\n".join(lines), len(lines)


HEADER = [
    "日期\nDate",
    "类型\nType",
    "单据号\nNumber",
    "参考\nReference",
    "借方\nDebit",
    "贷方\nCredit",
    "余额\nBalance",
]
HEADER_HEIGHT = 2 * 9 + 3 + 3  # two lines of 7.5 pt on 9 pt leading, ReportLab's default padding
LEADING = SIZE + 2
ROW_HEIGHT = LEADING + 2 + 2  # one line, 2 pt padding above and below


class _Entries(Flowable):
    """The entry table, which splits itself across pages: a page's rows (known heights) under the header row.

    ReportLab's own `Table(repeatRows=1)` split builds a new table of all the remaining rows at each page break and
    measures them again: n rows x pages. Here every row's height is known up front (one line, or a wrapped
    reference), so a split only counts rows, and each page gets a small table with fixed row heights."""

    def __init__(self, rows: list, heights: list[float], font: str, first: int = 0, total: int | None = None):
        super().__init__()
        self.rows, self.heights, self.font = rows, heights, font
        self.first = first  # index of rows[0] among all rows (0 is the opening row)
        self.total = len(rows) if total is None else total  # all rows; the last is the totals row

    def wrap(self, availWidth, availHeight):  # noqa: N803 (ReportLab's names)
        self.width, self.height = WIDTH, HEADER_HEIGHT + sum(self.heights)
        return self.width, self.height

    def split(self, availWidth, availHeight):  # noqa: N803
        room, k = availHeight - HEADER_HEIGHT, 0
        for h in self.heights:
            if room < h:
                break
            room -= h
            k += 1
        if k == len(self.rows):
            return [self._table(self.rows, self.heights)]
        if k == len(self.rows) - 1 and k > 1:
            k -= 1  # the totals row never alone under the header on the last page
        if k == 0:
            return []  # not even one row here: on the next page
        rest = _Entries(self.rows[k:], self.heights[k:], self.font, self.first + k, self.total)
        return [self._table(self.rows[:k], self.heights[:k]), rest]

    def draw(self):
        table = self._table(self.rows, self.heights)
        table.wrapOn(self.canv, self.width, self.height)
        table.drawOn(self.canv, 0, 0)

    def _table(self, rows: list, heights: list[float]) -> Table:
        last = len(rows)
        stripes = [None, STRIPE] if self.first % 2 == 0 else [STRIPE, None]  # continued from the page before
        style = [
            ("FONT", (0, 0), (-1, -1), self.font, SIZE, LEADING),
            ("FONT", (0, 0), (-1, 0), self.font, 7.5, 9),
            ("BACKGROUND", (0, 0), (-1, 0), SHADE),
            ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
            ("ROWBACKGROUNDS", (0, 1), (-1, last), stripes),
            ("ALIGN", (4, 0), (-1, -1), "RIGHT"),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), PAD),
            ("RIGHTPADDING", (0, 0), (-1, -1), PAD),
            ("TOPPADDING", (0, 1), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 1), (-1, -1), 2),
        ]
        if self.first == 0:  # the opening row
            style.append(("TEXTCOLOR", (0, 1), (-1, 1), GREY))
        if self.first + last == self.total:  # the totals row
            style += [
                ("LINEABOVE", (0, last), (-1, last), 0.6, colors.black),
                ("BACKGROUND", (0, last), (-1, last), SHADE),
            ]
        table = Table([HEADER, *rows], colWidths=COLUMNS, rowHeights=[HEADER_HEIGHT, *heights])
        table.setStyle(TableStyle(style))
        return table


def _entries(doc: dict, font: str) -> _Entries:
    rows = [
        [
            _date(doc.get("period_start")),
            "期初余额 Opening balance",
            "",
            "",
            "",
            "",
            money_text(doc.get("opening") or 0),
        ]
    ]
    heights = [ROW_HEIGHT]
    face = getFont(font).face
    widths, default = face.charWidths, face.defaultWidth
    for line in doc.get("lines") or ():
        kind = line.get("type")
        number, n = _fit(line.get("number"), COLUMNS[2], widths, default)
        reference, r = _fit(line.get("reference"), COLUMNS[3], widths, default)
        rows.append(
            [
                _date(line.get("date")),
                TYPE_LABELS.get(kind, str(kind or "")),
                number,
                reference,
                money_text(line.get("debit")),
                money_text(line.get("credit")),
                money_text(line.get("balance")),
            ]
        )
        heights.append(ROW_HEIGHT + (max(n, r) - 1) * LEADING)
    rows.append(
        ["", "本期合计 Totals", "", "", *(money_text(doc.get(k) or 0) for k in ("debits", "credits", "closing"))]
    )
    heights.append(ROW_HEIGHT)
    return _Entries(rows, heights, font)


def _ageing(doc: dict, font: str) -> Table:
    ageing = doc.get("ageing") or {}
    labels = [f"{cn}\n{en}" for _, cn, en in AGEING]
    values = [money_text(ageing.get(key) or 0) for key, _, _ in AGEING]
    table = Table([labels, values], colWidths=[WIDTH / len(AGEING)] * len(AGEING))
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), font, 8, 10),
                ("FONT", (0, 0), (-1, 0), font, 7.5, 9),
                ("TEXTCOLOR", (0, 0), (-1, 0), GREY),
                ("ALIGN", (0, 0), (-1, -1), "RIGHT"),
                ("BACKGROUND", (0, 0), (-1, 0), SHADE),
                ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
                ("BOX", (0, 0), (-1, -1), 0.6, colors.black),
                ("LINEBEFORE", (-1, 0), (-1, -1), 0.6, colors.black),
                ("LEFTPADDING", (0, 0), (-1, -1), PAD),
                ("RIGHTPADDING", (0, 0), (-1, -1), PAD),
            ]
        )
    )
    return table


def _slip(doc: dict, font: str, st: dict[str, ParagraphStyle]) -> KeepTogether:
    dealer = doc.get("dealer") or {}
    closing, as_of = _yuan(doc.get("closing") or 0), text(_date(doc.get("period_end")))
    cut = Table([["请沿此线剪下，签字盖章后寄回 · Cut here, sign, stamp and return"]], colWidths=[WIDTH])
    cut.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), font, 7, 9),
                ("TEXTCOLOR", (0, 0), (-1, -1), GREY),
                ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                ("LINEABOVE", (0, 0), (-1, 0), 0.6, GREY, None, (3, 2)),
            ]
        )
    )
    version = text(doc.get("version"))
    body = [
        Paragraph("对账确认回执 Balance confirmation", st["h2"]),
        Paragraph(
            f"对账单 Statement {text(doc.get('number'))} · 第 {version} 版 / version {version} · "
            f"{text(doc.get('period'))}<br/>经销商 Dealer: {text(dealer.get('code'))} {text(dealer.get('name'))}",
            st["cell"],
        ),
        Spacer(1, 2 * mm),
        Paragraph(
            f"我司确认：截至 {as_of}，我司应付贵司的期末余额 <b>{closing}</b> 无误。如有不符请注明。<br/>"
            f"We confirm the closing balance of <b>{closing}</b> as of {as_of} is correct. "
            "If it is not, please state the differences below.",
            st["cell"],
        ),
    ]
    lines = Table([[""]] * 3, colWidths=[WIDTH], rowHeights=[7 * mm] * 3)
    lines.setStyle(TableStyle([("LINEBELOW", (0, 0), (-1, -1), 0.4, GREY)]))
    sign = Table(
        [
            [""] * 5,
            ["授权签字 Authorised signature", "", "公司盖章 Company seal", "", "日期 Date"],
        ],
        colWidths=[56 * mm, 5 * mm, 56 * mm, 5 * mm, 56 * mm],
        rowHeights=[20 * mm, 6 * mm],
    )
    sign.setStyle(
        TableStyle(
            [("FONT", (0, 0), (-1, -1), font, 8), ("TEXTCOLOR", (0, 0), (-1, -1), GREY)]
            + [("LINEBELOW", (c, 0), (c, 0), 0.6, colors.black) for c in (0, 2, 4)]
        )
    )
    note = Paragraph(
        "也可以在 DRP 门户中在线确认本对账单或对其中的条目提出异议。<br/>"
        "You can also confirm this statement, or dispute its entries, online in the DRP Portal.",
        st["small"],
    )
    return KeepTogether([cut, Spacer(1, 2 * mm), *body, lines, Spacer(1, 2 * mm), sign, Spacer(1, 3 * mm), note])


def render_statement(doc: dict) -> tuple[bytes, int]:
    """The statement `doc` (see the module docstring) as a PDF: (bytes, page count)."""
    font = cjk_font()
    st = _styles(font)
    buffer = io.BytesIO()
    dealer = doc.get("dealer") or {}
    template = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=f"{doc.get('number')} v{doc.get('version')}",
        author="DRP Portal",
        subject=f"对账单 Statement of account {doc.get('period')}",
    )
    story = _header(doc, font, st)
    story += [_summary(doc, font), Spacer(1, 6 * mm), Paragraph("往来明细 Entries", st["h2"])]
    story.append(_entries(doc, font))
    story += [
        Spacer(1, 6 * mm),
        KeepTogether(
            [Paragraph(f"账龄分析 Ageing at {text(_date(doc.get('period_end')))}", st["h2"]), _ageing(doc, font)]
        ),
        Spacer(1, 4 * mm),
        Paragraph(
            "账龄按到期日计算；未核销收款为已收到但尚未冲抵发票的款项（负数）。<br/>"
            "Ageing by due date. Unapplied cash is money received but not yet set against an invoice (negative).",
            st["small"],
        ),
        Spacer(1, 8 * mm),
        _slip(doc, font, st),
    ]
    footer = f"DRP Portal | {doc.get('number')} v{doc.get('version')} | {dealer.get('code') or ''}"
    canvasmaker = numbered_canvas(footer, font=font, margin=MARGIN)
    template.build(story, canvasmaker=canvasmaker)
    return buffer.getvalue(), canvasmaker.page_count
