"""Translation catalogs: find the UI strings, compile the catalogs.

English is the source language (the msgids); Simplified Chinese lives in
portal/translations/zh_Hans_CN/LC_MESSAGES/messages.po, the source of truth. The folder is zh_Hans_CN,
not zh_CN: Flask-Babel parses the locale "zh_CN" with Babel, which expands it to zh_Hans_CN, and looks
for catalogs under that name (then "zh"); a zh_CN folder is never found. The compiled .mo files are
git-ignored: the app compiles them at start-up (`compile_catalogs`), whenever a .mo is missing or
older than its .po. English needs no catalog: Flask-Babel falls back to the msgid.

Wrap strings as `_('...')` in templates, `_()` (gettext) or `_l()` (lazy_gettext) in Python, with
named placeholders only: `_('Dealer %(code)s saved.', code=code)`. Translate with the Chinese terms of
the channel glossary (GLOSSARY.md: 经销商, 区域, 级别, 渠道类型, 审核, 信用额度, 操作日志...).

Recipe, from the repository root, after adding or changing strings:

    # 1. extract every msgid (babel.cfg: portal/**.py and templates/**.html) into a scratch template
    .venv/bin/pybabel extract -F babel.cfg -o /tmp/messages.pot .
    # 2. merge it into the catalog: new msgids appear with an empty msgstr, changed ones as "fuzzy"
    .venv/bin/pybabel update -i /tmp/messages.pot -d portal/translations
    # 3. translate the empty and the "#, fuzzy" entries in messages.po (remove the fuzzy flag when done)
    # 4. check: every msgid translated, same %(name)s placeholders, the catalog compiles
    .venv/bin/python -m pytest tests/test_i18n_catalog.py -q
    # optional: compile now (the app does it by itself at start-up)
    .venv/bin/pybabel compile -d portal/translations

Do not commit /tmp/messages.pot or the .mo files.
(A new language: `pybabel init -i /tmp/messages.pot -d portal/translations -l <locale>`, with <locale> as
str(babel.Locale.parse(code)) spells it, e.g. zh_Hant_TW for zh_TW.)
"""

from __future__ import annotations

import functools
import logging
import os
import re
from decimal import Decimal
from pathlib import Path

from babel import Locale
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask_babel import get_locale
from markupsafe import Markup, escape

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent.parent
TRANSLATIONS_DIR = ROOT / "portal" / "translations"


def compile_catalogs(translations_dir: str | os.PathLike[str] = TRANSLATIONS_DIR) -> list[str]:
    """Compile every `*.po` under `translations_dir` to the `.mo` beside it, if the .mo is missing or older.

    Returns the paths of the .mo files written. Fuzzy entries are left out (as `pybabel compile` does);
    catalog problems (e.g. placeholder mismatches) are logged as warnings. The .mo is written to a
    temporary file and moved into place, so concurrently starting workers never read half a file.
    """
    written: list[str] = []
    for po_path in sorted(Path(translations_dir).rglob("*.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as f:
            catalog = read_po(f)
        for message, errors in catalog.check():
            for error in errors:
                log.warning("%s: msgid %r: %s", po_path, message.id, error)
        tmp_path = mo_path.with_name(f"{mo_path.name}.{os.getpid()}.tmp")
        try:
            with tmp_path.open("wb") as f:
                write_mo(f, catalog)
            os.replace(tmp_path, mo_path)
        except OSError:
            log.exception("cannot write %s; the interface falls back to English", mo_path)
            tmp_path.unlink(missing_ok=True)
            continue
        log.info("compiled %s", mo_path)
        written.append(str(mo_path))
    return written


# Dates and times read the same in both languages: ISO 8601, the way the portal writes dates everywhere else
# (Babel's own short formats were 2026/12/7 in Chinese and 12/7/26 in English). Flask-Babel looks up
# `<kind>.<width>` for `|datetimeformat('short')`, `format_date(d)` and the like; these patterns replace the locale's.
ISO_DATE_FORMATS = {
    **{f"date.{w}": "yyyy-MM-dd" for w in ("short", "medium", "long", "full")},
    **{f"datetime.{w}": "yyyy-MM-dd HH:mm" for w in ("short", "medium")},
    **{f"datetime.{w}": "yyyy-MM-dd HH:mm:ss zzz" for w in ("long", "full")},
    "time.short": "HH:mm",
    "time.medium": "HH:mm:ss",
    **{f"time.{w}": "HH:mm:ss zzz" for w in ("long", "full")},
}


def request_translations():
    """The translations of the current locale, looked up once per request and locale.

    Flask-Babel's own lookup (`get_translations()`: the domain, the locale, the cache key, each through `g`) costs
    tens of microseconds, and a page says `_()` a few hundred times (a table's `data-label`s on every row): a tenth
    or more of a page's CPU. Here the translations are kept on `g` with the locale object they are for, and looked up
    again whenever Flask-Babel's current locale is another object (`force_locale()`, `refresh()`), so the answer is
    always what `get_translations()` would say."""
    from flask import g
    from flask_babel import get_translations

    state = g._get_current_object().__dict__
    locale = getattr(state.get("_flask_babel"), "babel_locale", None)  # Flask-Babel's locale of the request, once read
    kept = state.get("_portal_translations")
    if kept is not None and locale is not None and kept[0] is locale:
        return kept[1]
    translations = get_translations()
    locale = getattr(state.get("_flask_babel"), "babel_locale", None)
    state["_portal_translations"] = (locale, translations)
    return translations


def use_request_translations(app) -> None:
    """Templates' `_()`, `ngettext()`, `pgettext()` and `npgettext()` read `request_translations()` (after
    `babel.init_app`, which installs Flask-Babel's own callables; the same newstyle gettext: autoescaped, `%(name)s`
    placeholders)."""
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: request_translations().ugettext(s),
        ngettext=lambda s, p, n: request_translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: request_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: request_translations().unpgettext(c, s, p, n),
    )


def use_iso_dates(babel) -> None:
    """Make Flask-Babel's date, datetime and time formats ISO in every locale (after `babel.init_app`)."""
    babel.date_formats.update(ISO_DATE_FORMATS)


def read_mapping(root: str | os.PathLike[str] = ROOT) -> tuple[list[tuple[str, str]], dict[str, dict]]:
    """The method map and options map of `<root>/babel.cfg`, the file `pybabel extract -F` reads."""
    cfg = Path(root) / "babel.cfg"
    with cfg.open(encoding="utf-8") as f:
        return parse_mapping_cfg(f, str(cfg))


def extract_messages(root: str | os.PathLike[str] = ROOT) -> set[str]:
    """Every msgid in the sources under `root` (portal/**.py, templates/**.html, as mapped by babel.cfg).

    The same extraction as `pybabel extract -F babel.cfg .`; for plural forms, the singular msgid.
    """
    root = os.path.abspath(root)
    method_map, options_map = read_mapping(root)
    # Only walk the top-level folders the mapping can match (not .venv, instance/, ...); like pybabel,
    # skip folders whose name starts with "." or "_".
    tops = {pattern.split("/", 1)[0] for pattern, _method in method_map}
    walk_everything = any("*" in top for top in tops)

    def directory_filter(dirpath: str) -> bool:
        rel = os.path.relpath(dirpath, root).replace(os.sep, "/")
        if os.path.basename(dirpath).startswith((".", "_")):
            return False
        return walk_everything or rel.split("/", 1)[0] in tops

    messages: set[str] = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        root, method_map, options_map, directory_filter=directory_filter
    ):
        messages.add(message[0] if isinstance(message, tuple) else message)
    return messages


@functools.lru_cache(maxsize=32)
def parsed_locale(code: str) -> Locale:
    """The Babel locale of a locale code ("zh_CN" → zh_Hans_CN), parsed once per process: Flask-Babel parses what the
    locale selector answers on every request unless it is a Locale already, and parsing "zh_CN" (likely subtags, a
    look for each candidate in Babel's data) costs ~0.1 ms — a few percent of an API call."""
    return Locale.parse(code)


def current_lang() -> str:
    """'zh_CN' or 'en' (Babel spells the Chinese locale zh_Hans_CN)."""
    locale = get_locale()
    return "zh_CN" if locale is not None and locale.language == "zh" else "en"


def is_english() -> bool:
    """Whether the current locale is English (False outside any locale: the portal's default is Chinese)."""
    return getattr(get_locale(), "language", None) == "en"


# ---------------------------------------------------------------- free text on narrow screens

_RUN = re.compile(r"[A-Za-z0-9,.\-]+")  # letters, digits and "-,.": a code, an amount or a date (ASCII only)
_DIGIT = re.compile(r"[0-9]")


def keep_whole(text) -> Markup:
    """Free text (a notification's title or body) as HTML with every number and code in it kept on one line: each run
    of ASCII letters, digits and "-,." that is 4 to 40 characters long and holds a digit (SO-202611-000336,
    1,793,150.18, 2027-01-21) goes in a nowrap span, so a phone never breaks it at a hyphen; Chinese text around it
    still wraps anywhere. Everything else is escaped. (The `keep_whole` macro of templates/_macros.html, in Python: the
    macro walked the text a character at a time, a tenth of the dealer home's rendering.)"""
    text = str(text or "")
    out, at = [], 0
    for found in _RUN.finditer(text):
        out.append(escape(text[at : found.start()]))
        run = found.group()
        if 3 < len(run) <= 40 and _DIGIT.search(run):
            out.append(Markup('<span class="text-nowrap">%s</span>') % run)
        else:
            out.append(escape(run))
        at = found.end()
    out.append(escape(text[at:]))
    return Markup("").join(out)


# ---------------------------------------------------------------- numbers

NUMBER_PATTERNS = {0: "#,##0", 1: "#,##0.0", 2: "#,##0.00"}


def number_text(value, places: int = 2) -> str:
    """A number as the pages write it in both of the portal's languages — Babel's `#,##0.00` (`places` decimals):
    thousands grouped with ",", "." before the decimals, rounded half to even — without Babel's pattern parsing and
    locale lookups on every call (~40 µs a figure, a fifth of a price list page's rendering). zh_CN and en write
    numbers alike; tests/test_statement_counts.py checks this against Babel in both."""
    if not isinstance(value, Decimal | int):  # as Babel reads anything else: a float by its shortest repr, a string
        value = Decimal(str(value))
    return f"{value:,.{places}f}"
