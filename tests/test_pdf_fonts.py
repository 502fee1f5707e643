"""Every font in the PDFs the portal makes is embedded (archival; shows the same in every viewer): statements and
delivery notes alike, read from the PDF's own font dictionaries (what `pdffonts` reports as `emb yes`)."""

from __future__ import annotations

import io

import pytest
from pdfminer.pdfdocument import PDFDocument
from pdfminer.pdfpage import PDFPage
from pdfminer.pdfparser import PDFParser
from pdfminer.pdftypes import resolve1

from tests.test_shipping_pages import _note
from tests.test_statement_pdf import _doc

EMBEDDED = ("FontFile", "FontFile2", "FontFile3")


def fonts(pdf: bytes) -> dict[str, bool]:
    """BaseFont name -> embedded, for every font any page uses."""
    document = PDFDocument(PDFParser(io.BytesIO(pdf)))
    out: dict[str, bool] = {}
    for page in PDFPage.create_pages(document):
        for font in (resolve1(resolve1(page.resources).get("Font")) or {}).values():
            font = resolve1(font)
            descendants = resolve1(font.get("DescendantFonts"))
            face = resolve1(descendants[0]) if descendants else font
            descriptor = resolve1(face.get("FontDescriptor")) or {}
            out[resolve1(font["BaseFont"]).name] = any(k in descriptor for k in EMBEDDED)
    return out


def _statement() -> bytes:
    from portal.statements.pdf import render_statement

    return render_statement(_doc(60))[0]


def _delivery_note() -> bytes:
    from portal.shipping.pdf import delivery_note

    return delivery_note(_note(40, "A&B <Motors>"))


@pytest.mark.parametrize("make", [_statement, _delivery_note], ids=["statement", "delivery_note"])
def test_every_font_is_embedded(make):
    found = fonts(make())
    assert found, "no fonts found: the check would pass on anything"
    assert all(found.values()), found
    assert not any(name.startswith(("Helvetica", "Courier", "Times")) for name in found), found
