"""Bank statement layouts (PRODUCT.md §14): which of a bank's columns hold the date, the credit and debit amounts (or
one signed amount), the payer's account and name, the memo and the bank's serial number.

Each field lists the headers banks use for it (compared without blanks, full-width brackets as ASCII, case-folded).
Three layouts ship (`SHIPPED`); more are configured with PORTAL_BANK_LAYOUTS, the path of a JSON file:

    [{"code": "abc", "name": "ABC export", "date": ["交易日期"], "amount": ["交易金额"], "serial": ["流水号"],
      "payer_account": ["对方账号"], "payer_name": ["对方户名"], "memo": ["摘要"]}]

A configured layout with the code of a shipped one replaces it. The header row is found among the first
`HEADER_SEARCH_ROWS` rows (banks put a title, the account and the period above it); when no `bank` is given, the
layout whose headers match best is used.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _

FIELDS = ("date", "credit", "debit", "amount", "payer_account", "payer_name", "memo", "serial")
HEADER_SEARCH_ROWS = 30
_BLANKS = re.compile(r"\s+")
_FULL_WIDTH = str.maketrans("（）：", "():")


class LayoutError(ValueError):
    """PORTAL_BANK_LAYOUTS cannot be used: the message says why."""


def normalise(header: object) -> str:
    return _BLANKS.sub("", str(header or "")).translate(_FULL_WIDTH).casefold()


@dataclass(frozen=True)
class Layout:
    code: str
    name: str
    date: tuple[str, ...]
    serial: tuple[str, ...]
    credit: tuple[str, ...] = ()
    debit: tuple[str, ...] = ()
    amount: tuple[str, ...] = ()  # one signed amount: positive = money in (instead of credit/debit)
    payer_account: tuple[str, ...] = ()
    payer_name: tuple[str, ...] = ()
    memo: tuple[str, ...] = ()
    aliases: dict[str, frozenset[str]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        for name in FIELDS:
            self.aliases[name] = frozenset(normalise(h) for h in getattr(self, name))

    def map_header(self, cells) -> dict[str, int] | None:
        """{field: position} when these cells are this layout's header (date, serial and an amount present)."""
        found: dict[str, int] = {}
        for index, cell in enumerate(cells):
            text = normalise(cell)
            if not text:
                continue
            for name in FIELDS:
                if name not in found and text in self.aliases[name]:
                    found[name] = index
                    break
        has_amount = "amount" in found or "credit" in found
        if "date" in found and "serial" in found and has_amount:
            return found
        return None


def _layout(code, name, **columns) -> Layout:
    return Layout(code=code, name=name, **{k: tuple(v) for k, v in columns.items()})


DATE = ("交易日期", "交易时间", "记账日期", "入账日期", "日期", "date")
CREDIT = ("贷方发生额", "贷方金额", "收入金额", "收入", "贷方发生额(收入)", "credit")
DEBIT = ("借方发生额", "借方金额", "支出金额", "支出", "借方发生额(支取)", "debit")
PAYER_ACCOUNT = ("对方账号", "对方账户", "付款人账号", "对方账号/卡号", "payer_account")
PAYER_NAME = ("对方户名", "对方单位名称", "对方账户名称", "付款人名称", "对方名称", "payer_name")
MEMO = ("摘要", "附言", "用途", "备注", "交易附言", "memo")
SERIAL = ("流水号", "交易流水号", "银行流水号", "凭证号", "交易参考号", "serial")

SHIPPED: tuple[Layout, ...] = (
    _layout(
        "icbc",
        "ICBC (工商银行) account detail",
        date=("交易时间", "交易日期"),
        credit=("贷方发生额",),
        debit=("借方发生额",),
        payer_account=("对方账号",),
        payer_name=("对方单位名称", "对方户名"),
        memo=("摘要", "用途"),
        serial=("凭证号", "流水号"),
    ),
    _layout(
        "ccb",
        "CCB (建设银行) account detail",
        date=("记账日期", "交易时间"),
        credit=("贷方发生额(收入)", "贷方发生额"),
        debit=("借方发生额(支取)", "借方发生额"),
        payer_account=("对方账号",),
        payer_name=("对方户名",),
        memo=("备注", "摘要"),
        serial=("账户明细编号-交易流水号", "交易流水号"),
    ),
    _layout(
        "generic",
        "Generic (交易日期, 贷方发生额, 借方发生额, 对方账号, 对方户名, 摘要, 流水号)",
        date=DATE,
        credit=CREDIT,
        debit=DEBIT,
        payer_account=PAYER_ACCOUNT,
        payer_name=PAYER_NAME,
        memo=MEMO,
        serial=SERIAL,
    ),
)


def _configured(path: str) -> list[Layout]:
    where = f"PORTAL_BANK_LAYOUTS ({path})"
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise LayoutError(f"{where} cannot be read: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise LayoutError(f"{where} is not valid JSON: {exc}") from exc
    if not isinstance(data, list):
        raise LayoutError(f"{where} must be a JSON list of layouts")
    layouts = []
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise LayoutError(f"{where}: layout {i} is not an object")
        unknown = set(item) - {"code", "name", *FIELDS}
        if unknown:
            raise LayoutError(f"{where}: layout {i} has unknown keys {sorted(unknown)}")
        code = item.get("code")
        if not isinstance(code, str) or not re.fullmatch(r"[a-z0-9_-]{1,32}", code):
            raise LayoutError(f"{where}: layout {i} needs a code of 1-32 lowercase letters, digits, - or _")
        columns = {}
        for name in FIELDS:
            value = item.get(name, [])
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
                raise LayoutError(f"{where}: layout {code!r}: {name} must be a header or a list of headers")
            columns[name] = value
        if not columns["date"] or not columns["serial"]:
            raise LayoutError(f"{where}: layout {code!r} needs date and serial headers")
        if bool(columns["amount"]) == bool(columns["credit"]):
            raise LayoutError(f"{where}: layout {code!r} needs either credit (and debit) or one signed amount")
        layouts.append(_layout(code, str(item.get("name") or code), **columns))
    return layouts


def available() -> dict[str, Layout]:
    """The layouts by code: the shipped ones, then those of PORTAL_BANK_LAYOUTS (LayoutError when malformed)."""
    layouts = {layout.code: layout for layout in SHIPPED}
    path = current_app.config.get("PORTAL_BANK_LAYOUTS", "")
    if path:
        layouts.update({layout.code: layout for layout in _configured(path)})
    return layouts


def find_header(rows, bank: str | None) -> tuple[Layout, int, dict[str, int]] | None:
    """(layout, index of the header row in `rows`, {field: position}) for the first of `rows` (cells per row) that is
    a header of the named layout, or of any layout (the one matching the most fields); None when none is."""
    layouts = available()
    candidates = [layouts[bank]] if bank else list(layouts.values())
    for index, cells in enumerate(rows[:HEADER_SEARCH_ROWS]):
        best = None
        for layout in candidates:
            mapping = layout.map_header(cells)
            if mapping and (best is None or len(mapping) > len(best[1])):
                best = (layout, mapping)
        if best:
            return best[0], index, best[1]
    return None


def unknown_bank_message(bank: str) -> str:
    return _("Unknown bank layout %(bank)s; known: %(known)s.", bank=bank, known=", ".join(sorted(available())))
