"""Uploaded files as offices save them, and the dates and whole numbers in them (docs/IMPORTS.md).

A file is an XLSX workbook or a CSV. XLSX is recognised by its content (a ZIP archive, `PK\\x03\\x04`), whatever its
name; an old binary workbook (.xls, or a password-protected one) and a file named .xls/.xlsx that is not a workbook
are refused with a reason. A CSV is comma-separated text in UTF-8 (with or without BOM) or else GB18030 (the superset
of GBK that Excel writes on Chinese Windows): UTF-8 is tried first, strictly, then GB18030.

`read_rows` yields the data rows of the first sheet (XLSX) or of the file (CSV) as `Row(line, values, problems)`:
`line` is the sheet's row number / the CSV record number, so the header — the first row that is not empty — is
normally line 1; `values` maps each column of the import's table (`Column`: the English name or one of its Chinese
names, case-insensitive, blanks trimmed) to its cell. Other columns are ignored, empty rows skipped. A problem with
the file as a whole (format, encoding, header) raises `FileError` with the line it concerns.

Cells are what the file holds: text (stripped; None when empty) in a CSV, and in an XLSX also int, float, datetime
(a date cell), time and bool. Text columns (`Column.max_length`, the database column's length) come as str, checked
against their limit; `parse_file_date` and `parse_whole_number` read dates and quantities, and
`portal.platform.money.parse_file_money` reads amounts.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import uuid
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from flask import Response, current_app
from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage

from portal.platform.errors import Invalid
from portal.platform.money import FULL_WIDTH

Cell = str | int | float | bool | dt.datetime | dt.date | dt.time | None

ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and workbooks protected by a password
MAX_UNPACKED = 200 * 1024 * 1024  # an XLSX larger than this once unpacked is refused (memory)

ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_FILE_DATES = (
    ISO_DATE,
    re.compile(r"[0-9]{4}/[0-9]{1,2}/[0-9]{1,2}"),
    re.compile(r"[0-9]{4}年[0-9]{1,2}月[0-9]{1,2}日"),
)
_DATE_PARTS = re.compile(r"[0-9]+")
_WHOLE = re.compile(r"[0-9]+|[1-9][0-9]{0,2}(?:,[0-9]{3})+")

# what openpyxl raises on a damaged workbook (zip, XML, missing parts)
_WORKBOOK_ERRORS: tuple[type[Exception], ...] = (
    zipfile.BadZipFile,
    zlib.error,
    KeyError,
    SyntaxError,  # xml.etree.ElementTree.ParseError
    ValueError,
    OSError,
    EOFError,
)


class FileError(ValueError):
    """The file as a whole cannot be read: `message` for the user, `line` it concerns."""

    def __init__(self, message: str, line: int = 1):
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(frozen=True)
class Column:
    """A column of an import: its English name (also the key of `Row.values`) and the Chinese names accepted."""

    name: str
    chinese: tuple[str, ...]
    required: bool = False
    max_length: int | None = None  # a text column: the database column's length

    @property
    def label(self) -> str:
        return f"{self.name} ({self.chinese[0]})"


class Row(NamedTuple):
    line: int
    values: dict[str, Cell]
    problems: list[str]  # the row's own problems found while reading (values past the header, text too long)


# ---------------------------------------------------------------- cells


def cell_text(cell: Cell) -> str:
    """A cell as text: stripped; an integral float without its `.0`; dates in ISO form."""
    if cell is None:
        return ""
    if isinstance(cell, str):
        return cell.strip()
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, (dt.date, dt.time)):  # datetime is a date
        return cell.isoformat()
    return str(cell)


def parse_iso_date(text: str) -> dt.date:
    """Exactly YYYY-MM-DD (`date.fromisoformat` alone also takes 20261201 and the week date 2026-W49-1)."""
    if not ISO_DATE.fullmatch(text):
        raise ValueError(_("Date must be YYYY-MM-DD."))
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(_("Not a valid date.")) from exc


def parse_file_date(cell: Cell) -> dt.date:
    """A date from a file: a date cell of an XLSX (its day), or text as YYYY-MM-DD, YYYY/M/D or YYYY年M月D日
    (full-width digits accepted). ValueError with the reason."""
    if isinstance(cell, dt.datetime):
        return cell.date()
    if isinstance(cell, dt.date):
        return cell
    if isinstance(cell, str):
        text = cell.strip().translate(FULL_WIDTH)
        if any(form.fullmatch(text) for form in _FILE_DATES):
            year, month, day = (int(part) for part in _DATE_PARTS.findall(text))
            try:
                return dt.date(year, month, day)
            except ValueError as exc:
                raise ValueError(_("Not a valid date.")) from exc
    raise ValueError(_("Date must be YYYY-MM-DD (or YYYY/MM/DD, YYYY年MM月DD日)."))


def parse_whole_number(cell: Cell) -> int:
    """A whole number from a file or a form: an XLSX number cell without a fraction, or text of ASCII or full-width
    digits, plain or grouped in thousands by commas (`1,000`). ValueError."""
    if isinstance(cell, int) and not isinstance(cell, bool):
        return cell
    if isinstance(cell, float) and cell.is_integer():
        return int(cell)
    if isinstance(cell, str):
        text = cell.strip().translate(FULL_WIDTH)
        if _WHOLE.fullmatch(text):
            return int(text.replace(",", ""))
    raise ValueError(_("Not a whole number."))


# ---------------------------------------------------------------- the file


def file_kind(data: bytes, filename: str) -> str:
    """The kind of the file, "xlsx" or "csv", by its content first; FileError for a workbook that cannot be read."""
    if data.startswith(ZIP_MAGIC):
        return "xlsx"
    if data.startswith(OLE2_MAGIC):
        raise FileError(_("This is an old Excel workbook (.xls) or one protected by a password: save it as .xlsx "
                          "without a password, or as CSV."))  # fmt: skip
    if filename.lower().endswith((".xlsx", ".xlsm", ".xls")):
        raise FileError(_("The file is named as an Excel workbook but is not one: save it as .xlsx or as CSV."))
    return "csv"


def decode_text(data: bytes) -> str:
    """A CSV's text: UTF-8 (a BOM is dropped), else GB18030; FileError when it is neither."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding).removeprefix("\ufeff")
        except UnicodeDecodeError:
            continue
    raise FileError(_("The file is neither UTF-8 nor GB18030 (GBK) text: save it from Excel as CSV or as XLSX."))


def _open_workbook(data: bytes):
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    unreadable = _("The file is not a readable XLSX workbook.")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise FileError(unreadable) from exc
    if unpacked > MAX_UNPACKED:
        raise FileError(_("The workbook is too large once unpacked: split it, or save it as CSV."))
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except (*_WORKBOOK_ERRORS, InvalidFileException) as exc:
        raise FileError(unreadable) from exc
    if not workbook.worksheets:
        workbook.close()
        raise FileError(_("The workbook has no sheet."))
    return workbook


def check_file(data: bytes, filename: str) -> str:
    """What an upload is checked for before it is queued: not empty, a readable XLSX or a CSV in UTF-8 or GB18030.
    Returns its kind ("xlsx" or "csv"); FileError otherwise."""
    if not data.strip():
        raise FileError(_("The file is empty."))
    kind = file_kind(data, filename)
    if kind == "xlsx":
        _open_workbook(data).close()
    else:
        decode_text(data)
    return kind


def keep_upload(upload: FileStorage) -> tuple[str, Path]:
    """Check an uploaded file (`check_file`; Invalid on the `file` field otherwise) and keep it in the storage folder
    shared by web and workers as `imports/<job id>.<kind>`. Returns (job id, path)."""
    data = upload.read()
    try:
        kind = check_file(data, upload.filename or "")
    except FileError as exc:
        raise Invalid(fields={"file": [exc.message]}) from exc
    job_id = str(uuid.uuid4())
    folder = Path(current_app.config["PORTAL_STORAGE"]) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{job_id}.{kind}"
    path.write_bytes(data)
    return job_id, path


def _csv_records(data: bytes) -> Iterator[tuple[int, Sequence[Cell]]]:
    reader = csv.reader(io.StringIO(decode_text(data)))
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):
            yield number, cells
    except csv.Error as exc:
        raise FileError(_("The file cannot be read as CSV from this line on."), number + 1) from exc


def _xlsx_records(data: bytes) -> Iterator[tuple[int, Sequence[Cell]]]:
    workbook = _open_workbook(data)
    number = 0
    try:
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # the stored dimensions may be wrong: read every row there is
        for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, cells
    except _WORKBOOK_ERRORS as exc:
        raise FileError(_("The workbook cannot be read from this row on."), number + 1) from exc
    finally:
        workbook.close()


def _clean(cell: Cell) -> Cell:
    if isinstance(cell, str):
        return cell.strip() or None
    return cell


def map_header(cells: Sequence[Cell], columns: Sequence[Column], line: int) -> dict[int, Column]:
    """{position: column} for the header's cells that name a column (English or Chinese, case-insensitive, blanks
    trimmed); FileError when a column is named twice or a required one is missing."""
    names = {alias.casefold(): column for column in columns for alias in (column.name, *column.chinese)}
    found: dict[int, Column] = {}
    for index, cell in enumerate(cells):
        column = names.get(cell_text(cell).casefold())
        if column is None:
            continue
        if column in found.values():
            raise FileError(_("The column %(name)s appears twice.", name=column.label), line)
        found[index] = column
    missing = [c.label for c in columns if c.required and c not in found.values()]
    if missing:
        raise FileError(_("Missing columns: %(cols)s.", cols=", ".join(missing)), line)
    return found


def read_rows(data: bytes, filename: str, columns: Sequence[Column]) -> Iterator[Row]:
    """The data rows of the file, each `Row(line, {column name: cell}, problems)`; FileError when the file as a whole
    cannot be read (possibly after some rows)."""
    records = _xlsx_records(data) if file_kind(data, filename) == "xlsx" else _csv_records(data)
    header: dict[int, Column] | None = None
    named: set[int] = set()
    for line, raw in records:
        cells = [_clean(cell) for cell in raw]
        if all(cell is None for cell in cells):
            continue
        if header is None:
            header = map_header(cells, columns, line)
            named = {i for i, cell in enumerate(cells) if cell is not None}
            continue
        values: dict[str, Cell] = {column.name: None for column in columns}
        problems: list[str] = []
        for index, cell in enumerate(cells):
            if index in header:
                values[header[index].name] = cell
            elif cell is not None and index not in named:
                problems.append(_("More values than columns."))
                break
        for column in columns:
            if column.max_length is not None:
                text = cell_text(values[column.name])
                values[column.name] = text
                if len(text) > column.max_length:
                    problems.append(_("%(column)s: at most %(n)s characters.", column=column.name,
                                      n=column.max_length))  # fmt: skip
        yield Row(line, values, problems)
    if header is None:
        map_header([], columns, 1)  # raises: every required column is missing


def template_download(columns: Sequence[Column], example: Sequence[str], name: str, chinese: bool) -> Response:
    """A CSV template (UTF-8 with BOM, which Excel opens as such): the header in English or in Chinese and one
    example row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([column.chinese[0] if chinese else column.name for column in columns])
    writer.writerow(example)
    filename = f"{name}-template-{'zh' if chinese else 'en'}.csv"
    return Response(
        "\ufeff" + out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )
