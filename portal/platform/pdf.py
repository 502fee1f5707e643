"""Shared PDF helpers (ReportLab): the embedded CJK font, text and money for Paragraph markup, "x / y" page numbers.

Chinese text needs a font that every viewer can show. ReportLab's built-in CID fonts (STSong-Light) are not embedded:
viewers without an Asian font pack (pdftoppm, many browsers and phones) show empty boxes. So the documents embed a
subset of a TrueType CJK font installed on the host: `PORTAL_PDF_FONT` (Flask config, else the environment) names
one, otherwise the first of the known Debian paths below (`make fonts`: the apt package fonts-wqy-microhei).
"""

from __future__ import annotations

import os
import threading
from decimal import Decimal
from xml.sax.saxutils import escape

from flask import current_app, has_app_context
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Table as _Table
from reportlab.platypus import TableStyle

# (path, subfont index in a .ttc): TrueType outlines only (ReportLab cannot embed CFF, e.g. Noto CJK's .ttc)
FONT_PATHS: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),  # fonts-wqy-microhei (`make fonts`)
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),  # fonts-wqy-zenhei
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),  # fonts-arphic-uming
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),  # fonts-droid-fallback
)
FONT_NAME = "PortalCJK"

# Fixed-width faces for numbers and VINs, embedded like the CJK font (never ReportLab's standard Courier, which is
# referenced, not embedded: not archival): the Mono face inside WenQuanYi Micro Hei's .ttc, else DejaVu Sans Mono
# (fonts-dejavu-core), else the CJK font itself.
MONO_PATHS: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 1),
    ("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", 0),
)
MONO_NAME = "PortalMono"

_lock = threading.Lock()
_registered: dict[tuple[str, int], str] = {}  # (path, subfont index) -> registered ReportLab font name


def _configured() -> str | None:
    if has_app_context():
        value = current_app.config.get("PORTAL_PDF_FONT")
        if value:
            return str(value)
    return os.environ.get("PORTAL_PDF_FONT") or None


def _font_file() -> tuple[str, int]:
    configured = _configured()
    if configured:  # "path" or "path#index" (a .ttc holds several faces)
        path, _, index = configured.partition("#")
        if not os.path.isfile(path):
            raise RuntimeError(
                f"PORTAL_PDF_FONT={configured!r}: no such font file. Point it at a TrueType .ttf/.ttc with Chinese "
                "glyphs, or unset it and run `make fonts` (apt package fonts-wqy-microhei)."
            )
        return path, int(index or 0)
    for path, index in FONT_PATHS:
        if os.path.isfile(path):
            return path, index
    raise RuntimeError(
        "No CJK font for PDFs: run `make fonts` (apt package fonts-wqy-microhei, "
        f"{FONT_PATHS[0][0]}) or set PORTAL_PDF_FONT to a TrueType .ttf/.ttc with Chinese glyphs. Tried: "
        + ", ".join(path for path, _ in FONT_PATHS)
    )


def cjk_font() -> str:
    """The name of the registered CJK TrueType font (embedded as a subset in each PDF); registered once per file."""
    return _register(_font_file(), FONT_NAME)


def mono_font() -> str:
    """A fixed-width TrueType face for order numbers and VINs (embedded); the CJK font when none is installed."""
    for path, index in MONO_PATHS:
        if os.path.isfile(path):
            try:
                return _register((path, index), MONO_NAME)
            except RuntimeError:
                continue
    return cjk_font()


def _register(key: tuple[str, int], base: str) -> str:
    name = _registered.get(key)
    if name is None:
        with _lock:
            name = _registered.get(key)
            if name is None:
                taken = sum(1 for n in _registered.values() if n.startswith(base))
                name = base if not taken else f"{base}-{taken}"
                try:
                    pdfmetrics.registerFont(TTFont(name, key[0], subfontIndex=key[1]))
                except Exception as exc:  # not TrueType, a CFF-flavoured .ttc, a broken file
                    raise RuntimeError(f"Cannot use {key[0]!r} as the PDF font: {exc}") from exc
                # no real bold or italic face: <b>/<i> in Paragraph markup map to the same font instead of failing
                pdfmetrics.registerFontFamily(name, normal=name, bold=name, italic=name, boldItalic=name)
                _registered[key] = name
    return name


def money_text(value) -> str:
    """An amount as "1,234.56" ("-1,234.56" below zero); "" for None (an empty cell)."""
    if value is None or value == "":
        return ""
    if not isinstance(value, Decimal):
        value = Decimal(str(value))
    return f"{value:,.2f}"


def text(value) -> str:
    """User data (names, addresses) inside Paragraph markup: escaped, or `&` and `<` would garble or drop text.
    "—" when missing. Plain strings in Table cells are drawn literally and must not go through this."""
    return escape(str(value)) if value not in (None, "") else "—"


FOOTER_GREY = colors.HexColor("#777777")


class Table(_Table):
    """ReportLab's Table with the embedded CJK font as every cell's default: its own default is the standard
    Helvetica, referenced but not embedded, which a cell without a FONT command would pull into the file. Style
    commands given later (FONT of a row, a size) still apply over it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), cjk_font())]))


class NumberedCanvas(Canvas):
    """A canvas that holds its pages until the end, then draws the footer on each: `footer_left` on the left and
    "x / y" on the right. Use `numbered_canvas(...)` for a class to pass as `canvasmaker`; after `build()` its
    `page_count` is the number of pages."""

    footer_left = ""
    footer_font = ""  # the CJK font unless numbered_canvas names one
    footer_size = 7.5
    margin = 16 * mm
    baseline = 9 * mm
    page_count = 0

    def __init__(self, *args, **kwargs):
        # the page's initial font is ReportLab's Helvetica unless named: a referenced, not embedded font in the file
        if kwargs.get("initialFontName") is None:
            kwargs["initialFontName"] = self.footer_font or cjk_font()
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []

    def showPage(self):  # the page is kept, not written: the footer needs the total first
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        total = len(self._pages)
        type(self).page_count = total
        for state in self._pages:
            self.__dict__.update(state)
            self._footer(total)
            super().showPage()
        super().save()

    def _footer(self, total: int) -> None:
        self.saveState()
        self.setFont(self.footer_font or cjk_font(), self.footer_size)
        self.setFillColor(FOOTER_GREY)
        if self.footer_left:
            self.drawString(self.margin, self.baseline, self.footer_left)
        self.drawRightString(self._pagesize[0] - self.margin, self.baseline, f"{self._pageNumber} / {total}")
        self.restoreState()


def numbered_canvas(footer_left: str = "", *, font: str | None = None, margin: float = 16 * mm) -> type[NumberedCanvas]:
    """A fresh `NumberedCanvas` class for one document (so its `page_count` is that document's)."""
    attrs = {"footer_left": footer_left, "footer_font": font or cjk_font(), "margin": margin}
    return type("NumberedCanvas", (NumberedCanvas,), attrs)
