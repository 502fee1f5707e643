"""A bank statement as the bank sent it (PRODUCT.md §14), imported by one job (`portal.jobs.banking`).

The file (CSV in UTF-8 with or without BOM, or GB18030/GBK; or XLSX) is read by `portal.platform.files`; its header
row is found below the bank's title lines and its layout (`portal.banking.layouts`) named or detected. Every line is
classified first:

- a credit line of a customer: matched to a dealer by payer account (digits only, an active payer account), else by
  the exact payer name (the name of an active payer account, or the dealer's name; a name that fits two dealers is not
  a match) — posted as the dealer's payment, reference = the bank's serial, applied FIFO (`matched`); a serial already
  posted (or already held as an unmatched receipt) is reported as such in `skipped`, never posted twice;
- a credit line no dealer fits: an `UnmatchedReceipt` (once per serial) for finance (`unmatched`);
- debit lines, zero amounts, interest and other lines that are not customers' receipts, and summary lines:
  `skipped`, each with its reason.

A line that cannot be read (date, amount, a credit line without serial, a serial twice in the file) is broken: the
result lists every broken line with its reason and nothing of the file is posted (`applied: false`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select

from portal.audit.services import record
from portal.banking import layouts
from portal.banking.models import PayerAccount, UnmatchedReceipt
from portal.banking.services import account_digits
from portal.credit import events
from portal.credit import services as credit
from portal.credit.models import LedgerEntry
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.platform import files
from portal.platform.money import ZERO, fmt, money, parse_file_money
from portal.platform.timeutil import today

MAX_LINES = 50_000
NOT_CUSTOMER = ("利息", "结息", "interest", "冲正", "退汇")  # memo words of the bank's own credits
SUMMARY = re.compile(r"^(合计|总计|小计|本页合计|共\s*\d+\s*笔|total)", re.IGNORECASE)
_COMPACT_DATE = re.compile(r"[0-9]{8}")


class Broken(ValueError):
    pass


def _text(cell) -> str:
    return files.cell_text(cell)


def _date(cell) -> dt.date:
    """A statement's date: a date cell, YYYY-MM-DD / YYYY/M/D / YYYY年M月D日 / YYYYMMDD, a time after it ignored."""
    if isinstance(cell, (dt.datetime, dt.date)):
        return files.parse_file_date(cell)
    text = _text(cell)
    head = re.split(r"[ T]", text, maxsplit=1)[0] if text else text
    if _COMPACT_DATE.fullmatch(head):
        try:
            return dt.date(int(head[:4]), int(head[4:6]), int(head[6:]))
        except ValueError as exc:
            raise ValueError(_("Not a valid date.")) from exc
    return files.parse_file_date(head)


def _amount(cell, *, signed: bool) -> Decimal:
    """An amount cell; empty and `-` are zero; a signed column may carry a minus sign."""
    text = _text(cell) if not isinstance(cell, (int, float)) or isinstance(cell, bool) else None
    if text is not None and text in ("", "-", "--"):
        return ZERO
    negative = False
    if signed:
        if isinstance(cell, (int, float)) and cell < 0:
            cell, negative = -cell, True
        elif text is not None and text.startswith(("-", "－")):
            cell, negative = text[1:], True
    value = parse_file_money(cell if text is None or negative else text)
    return -value if negative else value


def read_statement(data: bytes, filename: str, bank: str | None) -> tuple[layouts.Layout, list[dict]]:
    """(layout, lines): each line {line, cells by field}; FileError for the file as a whole."""
    kind = files.file_kind(data, filename)
    records = files._xlsx_records(data) if kind == "xlsx" else files._csv_records(data)  # noqa: SLF001 - the reader
    searched = 0
    found = None
    lines: list[dict] = []
    for number, raw in records:
        cells = [c.strip() if isinstance(c, str) else c for c in raw]
        if all(c in (None, "") for c in cells):
            continue
        if found is None:
            found = layouts.find_header([cells], bank)
            searched += 1
            if found is None and searched >= layouts.HEADER_SEARCH_ROWS:
                break
            continue
        if len(lines) >= MAX_LINES:
            raise files.FileError(_("More than %(n)s lines; split the file.", n=MAX_LINES), number)
        values = {name: (cells[pos] if pos < len(cells) else None) for name, pos in found[2].items()}
        values["_first"] = next((c for c in cells if c not in (None, "")), None)
        lines.append({"line": number, "values": values})
    if found is None:
        if bank:
            raise files.FileError(_("No header row of the %(bank)s layout was found in the first %(n)s rows.",
                                    bank=bank, n=layouts.HEADER_SEARCH_ROWS))  # fmt: skip
        raise files.FileError(_("No bank statement header (交易日期, 贷方发生额, 流水号…) was found in the first %(n)s "
                                "rows; name the bank's layout.", n=layouts.HEADER_SEARCH_ROWS))  # fmt: skip
    layout = found[0]
    return layout, lines


def _classify(layout, entry: dict) -> dict:
    """The line as {line, kind, ...}: kind credit | skipped | broken."""
    v, line = entry["values"], entry["line"]
    serial = _text(v.get("serial"))[:64]
    out = {
        "line": line,
        "serial": serial or None,
        "payer_account": account_digits(v.get("payer_account")) or None,
        "payer_name": _text(v.get("payer_name"))[:120] or None,
        "memo": _text(v.get("memo")) or None,
    }
    first = _text(v.get("_first"))
    if SUMMARY.match(first) or (not _text(v.get("date")) and not serial):
        return {**out, "kind": "skipped", "reason": "summary", "message": _("Not a transaction (a summary line).")}
    problems = []
    try:
        out["received_on"] = _date(v.get("date"))
        if out["received_on"] > today():
            problems.append(_("The date is in the future."))
    except ValueError as exc:
        problems.append(_("Date: %(why)s", why=str(exc)))
    credit_amount = debit_amount = ZERO
    try:
        if layout.amount:
            signed = _amount(v.get("amount"), signed=True)
            credit_amount, debit_amount = (signed, ZERO) if signed > 0 else (ZERO, -signed)
        else:
            credit_amount = _amount(v.get("credit"), signed=False)
            debit_amount = _amount(v.get("debit"), signed=False) if "debit" in v else ZERO
    except ValueError as exc:
        problems.append(_("Amount: %(why)s", why=str(exc)))
    out["amount"] = fmt(credit_amount or debit_amount)
    if not problems and credit_amount > 0 and not serial:
        problems.append(_("The bank's serial number (流水号) is missing."))
    if problems:
        return {**out, "kind": "broken", "reason": "broken", "message": " ".join(problems)}
    if credit_amount == 0 and debit_amount > 0:
        return {**out, "kind": "skipped", "reason": "debit", "message": _("A debit (money paid out).")}
    if credit_amount == 0:
        return {**out, "kind": "skipped", "reason": "zero_amount", "message": _("No amount.")}
    memo = (out["memo"] or "").casefold()
    return {**out, "kind": "credit", "value": credit_amount, "bank_entry": any(w in memo for w in NOT_CUSTOMER)}


class _Matcher:
    """Payer accounts and names, read once for the whole file."""

    def __init__(self):
        self.accounts: dict[str, int] = {}
        self.names: dict[str, set[int]] = {}
        # HQ's dealers only (§16): a sub-dealer pays its distributor, never into HQ's bank
        for number, name, dealer_id in db.session.execute(
            select(PayerAccount.account_number, PayerAccount.account_name, PayerAccount.dealer_id)
            .join(Dealer, Dealer.id == PayerAccount.dealer_id)
            .where(PayerAccount.active.is_(True), Dealer.parent_id.is_(None))
        ):
            self.accounts[number] = dealer_id
            self.names.setdefault(name.strip(), set()).add(dealer_id)
        for name, dealer_id in db.session.execute(select(Dealer.name, Dealer.id).where(Dealer.parent_id.is_(None))):
            self.names.setdefault(name.strip(), set()).add(dealer_id)

    def dealer_id(self, line: dict) -> tuple[int | None, str]:
        if line["payer_account"] and line["payer_account"] in self.accounts:
            return self.accounts[line["payer_account"]], "account"
        ids = self.names.get(line["payer_name"] or "", set())
        if len(ids) == 1:
            return next(iter(ids)), "name"
        return None, "ambiguous_name" if len(ids) > 1 else "unknown_payer"


def _public(line: dict, **extra) -> dict:
    keep = ("line", "serial", "received_on", "amount", "payer_account", "payer_name", "memo", "reason", "message")
    out = {k: line.get(k) for k in keep if k in line}
    if isinstance(out.get("received_on"), dt.date):
        out["received_on"] = out["received_on"].isoformat()
    out.update(extra)
    return out


def _post_all(actor, dealers: dict[int, Dealer], groups: dict[int, list[dict]], progress) -> None:
    """What `credit.services.post_payment` does for each line, done for the whole statement at once: the dealers'
    credit rows locked (in id order), the payments inserted (each dealer's oldest first, then in file order; their
    references checked new beforehand by `_already`, and unique per dealer in the database), applied FIFO to the
    oldest open invoices (`auto_apply_many`: the dealers' open items read in a few queries), an automatic overdue
    hold lifted where they settle it; then per payment its `payment.post` audit entry, and the `payment_posted`
    signal once for all of them (payment notices match on it, reading their candidates in a few queries)."""
    by = credit.actor_name(actor)
    ids = sorted(groups)
    for dealer_id in ids:
        credit.lock_credit(dealers[dealer_id])
    payments = [
        LedgerEntry(dealer=dealers[dealer_id], type="payment", number=line["serial"], entry_date=line["received_on"],
                    amount=money(line["value"]), source="import", created_by=by)
        for dealer_id in ids
        for line in sorted(groups[dealer_id], key=lambda x: (x["received_on"], x["line"]))
    ]  # fmt: skip
    db.session.add_all(payments)
    db.session.flush()
    credit.auto_apply_many([dealers[d] for d in ids], by)
    for dealer_id in ids:
        credit.reevaluate_overdue_hold(dealers[dealer_id], today(), actor, may_set=False)
    for payment in payments:
        record(actor, "payment.post", "payment", payment.number, dealer_id=payment.dealer_id,
               after={"amount": str(payment.amount), "received_on": payment.entry_date.isoformat()})  # fmt: skip
    db.session.flush()  # the audit entries in one go: the receivers' queries then find nothing left to flush
    events.payment_posted.send(actor, payments=payments)
    if progress and payments:
        progress(len(payments), len(payments))


def _already(serials: list[str]) -> tuple[dict[str, str], set[str]]:
    """({serial: dealer code} of the payments already posted under these serials, serials held as receipts)."""
    posted: dict[str, str] = {}
    held: set[str] = set()
    for i in range(0, len(serials), 1000):
        chunk = serials[i : i + 1000]
        for number, code in db.session.execute(
            select(LedgerEntry.number, Dealer.code)
            .join(Dealer, Dealer.id == LedgerEntry.dealer_id)
            .where(LedgerEntry.type == "payment", LedgerEntry.number.in_(chunk))
        ):
            posted[number] = code
        held.update(
            db.session.execute(select(UnmatchedReceipt.serial).where(UnmatchedReceipt.serial.in_(chunk))).scalars()
        )
    return posted, held


def import_statement(
    actor,
    data: bytes,
    filename: str,
    *,
    bank: str | None = None,
    job_id: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Classify every line, then post the matched ones and keep the unmatched ones — or, with a broken line, nothing.
    The result: {applied, bank, matched, unmatched, skipped, broken, total_matched, total_unmatched}."""
    empty = {"applied": False, "bank": bank, "matched": [], "unmatched": [], "skipped": [], "broken": [],
             "total_matched": "0.00", "total_unmatched": "0.00"}  # fmt: skip
    try:
        if bank and bank not in layouts.available():
            return {**empty, "broken": [{"line": 1, "reason": "file", "message": layouts.unknown_bank_message(bank)}]}
        layout, entries = read_statement(data, filename, bank)
    except files.FileError as exc:
        return {**empty, "broken": [{"line": exc.line, "reason": "file", "message": exc.message}]}
    lines = [_classify(layout, entry) for entry in entries]
    seen: dict[str, int] = {}
    for line in lines:
        if line["kind"] == "credit":
            if line["serial"] in seen:
                line.update(kind="broken", reason="broken",
                            message=_("Serial %(serial)s appears twice in this file (line %(first)s).",
                                      serial=line["serial"], first=seen[line["serial"]]))  # fmt: skip
            else:
                seen[line["serial"]] = line["line"]
    result = {**empty, "bank": layout.code}
    result["skipped"] = [_public(x) for x in lines if x["kind"] == "skipped"]
    broken = [_public(x) for x in lines if x["kind"] == "broken"]
    if broken:
        return {**result, "broken": broken}
    credits = [x for x in lines if x["kind"] == "credit"]
    if not credits and not result["skipped"]:
        return {**result, "broken": [{"line": 1, "reason": "file", "message": _("The statement has no lines.")}]}
    posted, held = _already([x["serial"] for x in credits])
    matcher = _Matcher()
    wanted = {matcher.dealer_id(x)[0] for x in credits} - {None}
    dealers: dict[int, Dealer] = {}
    for i in range(0, len(wanted), 1000):  # the matched dealers in a few queries, not one each
        chunk = sorted(wanted)[i : i + 1000]
        dealers.update(
            (d.id, d) for d in db.session.execute(select(Dealer).where(Dealer.id.in_(chunk))).unique().scalars()
        )
    total_matched = total_unmatched = ZERO
    to_post: dict[int, list[dict]] = {}
    for line in credits:
        serial = line["serial"]
        if serial in posted:
            message = _("Already posted (serial %(serial)s).", serial=serial)
            result["skipped"].append(
                _public(line, reason="already_posted", dealer_code=posted[serial], message=message)
            )
        elif serial in held:
            result["skipped"].append(_public(line, reason="already_unmatched",
                                             message=_("Already kept as an unmatched receipt.")))  # fmt: skip
        else:
            dealer_id, how = matcher.dealer_id(line)
            if line["bank_entry"] and how != "account":
                message = _("Not a customer's payment (interest or a bank's own entry).")
                result["skipped"].append(_public(line, reason="not_customer", message=message))
            elif dealer_id is not None:
                to_post.setdefault(dealer_id, []).append(line)
                message = _("Matched by payer account.") if how == "account" else _("Matched by payer name.")
                result["matched"].append(
                    _public(line, reason=how, dealer_code=dealers[dealer_id].code, message=message)
                )
                total_matched += line["value"]
            else:
                db.session.add(UnmatchedReceipt(
                    bank=layout.code, serial=serial, received_on=line["received_on"], amount=line["value"],
                    payer_account=line["payer_account"], payer_name=line["payer_name"],
                    memo=(line["memo"] or "")[:2000] or None, status="open", job_id=job_id,
                ))  # fmt: skip
                ambiguous = how == "ambiguous_name"
                message = _("Two dealers have this payer name.") if ambiguous else _("No dealer has this payer.")
                result["unmatched"].append(_public(line, reason=how, message=message))
                total_unmatched += line["value"]
    if to_post:
        _post_all(actor, dealers, to_post, progress)
    elif progress and credits:
        progress(len(credits), len(credits))
    db.session.flush()
    result["skipped"].sort(key=lambda x: x["line"])
    return {**result, "applied": True, "total_matched": fmt(total_matched), "total_unmatched": fmt(total_unmatched)}
