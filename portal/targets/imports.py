"""Targets from a CSV or XLSX file, applied whole or not at all; the export and the template (PRODUCT.md §15).

Columns (a header row names them, any order, in English or Chinese — `COLUMNS`): period, scope, measure, amount
required, category optional. The file is read by `portal.platform.files` (UTF-8 or GB18030 CSV, XLSX); every row is
checked by the same `services.check_items` as the API and the grid — a period may also be written 2026/3 or 2026年3月
or be a date cell of the month's first day (Excel turns a typed 2026-03 into one), amounts as spreadsheets hold them
(`parse_file_money`). A file with any bad row writes nothing and reports every rejected row with its line number
(the header is line 1; an XLSX: the sheet's row numbers) and reason. Like the other imports it runs as a job
(`run_import`), started by the page or the API.

The export has the same columns, so an exported file imports back as it is.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from itertools import islice

from flask_babel import gettext as _

from portal.extensions import db
from portal.jobs import report_progress, tracked
from portal.platform import files
from portal.platform.files import Column
from portal.platform.money import FULL_WIDTH, parse_file_money
from portal.targets import services

COLUMNS = (
    Column("period", ("月份", "期间"), required=True, max_length=None),
    Column("scope", ("对象", "范围"), required=True),
    Column("measure", ("指标",), required=True),
    Column("category", ("品类", "产品类别"), max_length=60),
    Column("amount", ("目标", "目标值", "金额"), required=True),
)
EXAMPLE = ("2026-03", "region:EAST", "sell_in_amount", "", "1,250,000.00")
MAX_ROWS = 100_000  # a year of every target of 2,000 dealers (12 months × 3 measures) and more
KIND = "target_import"

# what people type for a month in a spreadsheet besides YYYY-MM
_FILE_PERIOD = re.compile(r"([0-9]{4})\s*(?:[-/.]|年)\s*([0-9]{1,2})\s*月?")
# the Chinese names of the measures, accepted in files
MEASURE_NAMES = {
    "提货金额": "sell_in_amount",
    "提货额": "sell_in_amount",
    "销售额": "sell_in_amount",
    "进货额": "sell_in_amount",
    "分销台数": "sell_through_units",
    "分销量": "sell_through_units",
    "零售量": "sell_through_units",
    "回款金额": "collections_amount",
    "回款额": "collections_amount",
}


def parse_file_period(cell) -> dt.date:
    """A month from a file: YYYY-MM, YYYY/M, YYYY.M, YYYY年M月 (full-width digits too) or a date cell of the month's
    first day (what Excel makes of a typed 2026-03); ValueError with the reason."""
    if isinstance(cell, dt.datetime):
        cell = cell.date()
    if isinstance(cell, dt.date):
        if cell.day != 1:
            raise ValueError(_("A month as YYYY-MM (01 to 12)."))
        return cell
    text = files.cell_text(cell).translate(FULL_WIDTH)
    found = _FILE_PERIOD.fullmatch(text)
    if found is None:
        raise ValueError(_("A month as YYYY-MM (01 to 12)."))
    return services.parse_period(f"{found[1]}-{int(found[2]):02d}")


def _item(values: dict) -> dict:
    measure = files.cell_text(values["measure"])
    return {
        "period": values["period"],
        "scope": files.cell_text(values["scope"]),
        "measure": MEASURE_NAMES.get(measure, measure),
        "category": files.cell_text(values["category"]),
        "amount": values["amount"],
    }


def parse(data: bytes, filename: str) -> tuple[list[tuple[int, dict]], list[dict]]:
    """([(line, item)], errors [{line, reason}]) of the file's rows, before any checking of the items."""
    try:
        records = list(islice(files.read_rows(data, filename, COLUMNS), MAX_ROWS + 1))
    except files.FileError as exc:
        return [], [{"line": exc.line, "reason": exc.message}]
    errors = [{"line": r.line, "reason": " ".join(r.problems)} for r in records[:MAX_ROWS] if r.problems]
    rows = [(r.line, _item(r.values)) for r in records[:MAX_ROWS] if not r.problems]
    if len(records) > MAX_ROWS:
        errors.append({"line": records[MAX_ROWS].line, "reason": _("More than %(n)s rows; split the file.",
                                                                    n=MAX_ROWS)})  # fmt: skip
    if not records:
        errors.append({"line": 1, "reason": _("The file has no target rows.")})
    return rows, errors


def import_targets(actor, data: bytes, filename: str, progress: Callable[[int, int], None] | None = None) -> dict:
    """Check every row, then save every target in this one transaction — or none."""
    report = progress or (lambda done, total: None)
    rows, errors = parse(data, filename)
    report(len(rows) // 2, len(rows) or 1)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    if rows:
        lines = [line for line, _item in rows]
        checks = services.check_items(
            services.writer_scope(actor),
            [item for _line, item in rows],
            amount=parse_file_money,
            period=parse_file_period,
            duplicate=lambda i: _("line %(n)s", n=lines[i]),
        )
        for index, problems in checks.errors.items():
            reason = " ".join(f"{name}: {msg}" for name, msgs in problems.items() for msg in msgs)
            errors.append({"line": lines[index], "reason": reason})
        if not errors:
            counts = services.write(actor, [c for c in checks.items if c is not None])
    report(len(rows) or 1, len(rows) or 1)
    if errors:
        errors.sort(key=lambda e: e["line"])
        return {"applied": False, "rows": len(rows), **{k: 0 for k in counts}, "errors": errors}
    return {"applied": True, "rows": len(rows), **counts, "errors": []}


@tracked
def run_import(record, path: str):
    """The job: the kept file (imports/<job id>.<kind>) imported by whoever started it."""
    from pathlib import Path

    from portal.dealers.models import User

    actor = db.session.get(User, record.started_by_id) if record.started_by_id else None
    file = Path(path)
    return import_targets(actor, file.read_bytes(), file.name, progress=report_progress)


def start(actor, upload):
    """Check the upload, keep it and queue the job (after the commit); the job's record."""
    from portal.background.services import start_job

    job_id, path = files.keep_upload(upload)
    return start_job(KIND, "portal.targets.imports.run_import", started_by=actor, job_id=job_id,
                     params={"filename": upload.filename or "targets.csv"}, args=(str(path),))  # fmt: skip


# ---------------------------------------------------------------- export


def export_rows(stmt):
    """The listed targets (`services.list_targets`) as the import's columns: an export imports back as it is."""
    for row in db.session.execute(stmt):
        yield [services.period_of(row.month), f"{row.kind}:{row.code}", row.measure, row.category or "", row.amount,
               row.name, row.updated_by]  # fmt: skip


EXPORT_HEADER = [c.name for c in COLUMNS] + ["name", "updated_by"]
