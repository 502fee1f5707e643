"""The zh_CN catalog is complete and well-formed (no Flask app needed).

A new `_('...')` / `_l('...')` string without a zh_CN translation fails here: follow the recipe in
portal/platform/i18n.py (pybabel extract + update, then translate).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.pofile import read_po
from babel.support import Translations

from portal.platform.i18n import compile_catalogs, extract_messages

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "portal" / "translations"
ZH_PO = TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"

# A %-directive: %(name)s, %s, %d, %.2f, %% ...
DIRECTIVE = re.compile(r"%(?:\((?P<name>[^)]*)\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa%]")


@pytest.fixture(scope="module")
def extracted() -> set[str]:
    return extract_messages(ROOT)


@pytest.fixture(scope="module")
def catalog():
    with ZH_PO.open("rb") as f:
        return read_po(f, abort_invalid=True)


def _strings(message) -> list[str]:
    return list(message.string) if isinstance(message.string, (list, tuple)) else [message.string]


def _ids(message) -> list[str]:
    return list(message.id) if isinstance(message.id, (list, tuple)) else [message.id]


def _placeholders(text: str) -> tuple[Counter, str]:
    """The %-directives of a text (without %%), and what is left once they are removed."""
    found = Counter(m.group(0) for m in DIRECTIVE.finditer(text) if m.group(0) != "%%")
    return found, DIRECTIVE.sub("", text)


def test_extraction_finds_python_and_template_strings(extracted):
    # babel.cfg must reach templates (jinja2 extractor), gettext `_` and lazy_gettext `_l` in Python.
    assert "Log in to the dealer portal" in extracted  # templates/auth/login.html
    assert "Wrong username or password." in extracted  # portal/dealers/views.py, _()
    assert "Dealer staff" in extracted  # portal/platform/web.py, _l()
    assert "Payment terms (days)" in extracted  # portal/dealers/forms.py, _l()


def test_pybabel_extract_agrees_with_extract_messages(extracted, tmp_path):
    # The documented recipe (`pybabel extract -F babel.cfg`) and the tests see the same strings.
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", "babel.cfg", "-o", str(pot), "."],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as f:
        from_cli = {_ids(m)[0] for m in read_po(f) if m.id}
    assert from_cli == extracted


def test_every_msgid_is_translated(extracted, catalog):
    by_id = {_ids(m)[0]: m for m in catalog if m.id}
    missing = sorted(m for m in extracted if m not in by_id)
    untranslated = sorted(m for m in extracted if m in by_id and not all(s.strip() for s in _strings(by_id[m])))
    fuzzy = sorted(m for m in extracted if m in by_id and by_id[m].fuzzy)
    problems = (
        [f"missing from {ZH_PO.relative_to(ROOT)}: {m!r}" for m in missing]
        + [f"empty translation: {m!r}" for m in untranslated]
        + [f"fuzzy (check the translation, then remove the flag): {m!r}" for m in fuzzy]
    )
    assert not problems, (
        f"{len(problems)} zh_CN catalog problem(s); run the recipe in portal/platform/i18n.py:\n  "
        + "\n  ".join(problems)
    )


def test_translations_keep_the_placeholders(catalog):
    # Same %(name)s placeholders as the msgid, and no stray "%": templates use Jinja's "newstyle" gettext,
    # which always %-formats the translation, so a lone "%" would break the page.
    problems = []
    for message in catalog:
        if not message.id:
            continue
        expected, _rest = _placeholders(_ids(message)[0])
        for text in _strings(message):
            if not text:
                continue
            found, rest = _placeholders(text)
            if found != expected:
                want, got = sorted(expected.elements()), sorted(found.elements())
                problems.append(f"{message.id!r}: {want} != {got} in {text!r}")
            elif "%" in rest:
                problems.append(f"{message.id!r}: stray '%' in {text!r} (write '%%')")
    assert not problems, "placeholder mismatches:\n  " + "\n  ".join(problems)


def test_catalog_checks_clean(catalog):
    # Babel's own checks (python-format placeholders, plural forms), as run by `pybabel compile`.
    errors = [f"{message.id!r}: {error}" for message, errs in catalog.check() for error in errs]
    assert not errors, "\n".join(errors)


def test_catalog_compiles_and_loads(tmp_path):
    translations = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS, translations, ignore=shutil.ignore_patterns("*.mo"))
    mo = translations / "zh_Hans_CN" / "LC_MESSAGES" / "messages.mo"

    assert compile_catalogs(translations) == [str(mo)]
    # Looked up as Flask-Babel does: the app's locale code "zh_CN" parsed by Babel (zh_Hans_CN, then zh).
    zh = Translations.load(str(translations), [Locale.parse("zh_CN")])
    assert isinstance(zh, Translations), "Flask-Babel would not find the zh_CN catalog under this folder name"
    assert zh.gettext("Dealer") == "经销商"
    assert zh.gettext("Audit log") == "操作日志"
    assert zh.gettext("Not in the catalog") == "Not in the catalog"

    # Up to date: nothing to do. Older than the .po: compiled again.
    assert compile_catalogs(translations) == []
    po = mo.with_suffix(".po")
    os.utime(mo, (po.stat().st_mtime - 10, po.stat().st_mtime - 10))
    assert compile_catalogs(translations) == [str(mo)]
    assert not list(translations.rglob("*.tmp"))
