"""On a phone (PRODUCT.md §12, "On a phone"): every page a dealer administrator opens works at 390 × 844, in Chinese and
in English. On each page: nothing scrolls sideways (neither the page nor a table inside it: list tables become cards),
no number or code is broken across lines, and every visible button, form control, link in a form, pagination link and
link of the top bar is at least 44 px high; the top bar's menu opens within the screen with tap targets as large. The
same pages at 1366 × 800 need no sideways scrolling either. Screenshots go to test-artifacts/."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import url_for
from playwright.sync_api import expect

from portal.platform.timeutil import today
from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 800}

# What is wrong with the page in the browser, as a list of sentences (empty: nothing).
PAGE_PROBLEMS = r"""
({phone}) => {
  const problems = [];
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\s+/).join('.') : '');
  const shown = (el) => {
    if (!el || el.closest('.visually-hidden')) return false;
    const s = getComputedStyle(el);
    return s.visibility !== 'hidden' && el.getClientRects().length > 0;
  };
  const vw = window.innerWidth;
  const doc = document.documentElement;
  if (doc.scrollWidth > vw + 1) problems.push(`the page scrolls sideways: ${doc.scrollWidth} px wide at ${vw} px`);
  const main = document.querySelector('main');
  for (const el of main.querySelectorAll('*')) {
    const s = getComputedStyle(el);
    if ((s.overflowX === 'auto' || s.overflowX === 'scroll') && el.scrollWidth > el.clientWidth + 1)
      problems.push(`${name(el)} scrolls sideways: ${el.scrollWidth} px in ${el.clientWidth} px`);
  }
  if (!phone) return problems;

  // a number (1,234.50, 0.00) or a code (SO-202612-000001, SH-001) lies on one line: its pieces share one top
  // (a figure stands alone: never inside a word such as an id)
  const pattern = /(?<![\w.,-])-?\d{1,3}(?:,\d{3})*(?:\.\d+)?(?!\w)|[A-Z]{2,}-[A-Z0-9-]+/g;
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!shown(el) || el.closest('script, style, select, option, textarea')) continue;
    for (const m of node.data.matchAll(pattern)) {
      if (m[0].length < 4) continue;
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const rects = [...range.getClientRects()].filter((r) => r.width > 0);
      if (rects.some((r) => Math.abs(r.top - rects[0].top) > 2))
        problems.push(`"${m[0]}" is broken across lines in ${name(el)}`);
    }
  }

  // tap targets: buttons, form controls and links in forms, pagination links, the top bar's links and buttons
  const targets = 'main .btn, main form button, main form a, main form select, ' +
    'main form input:not([type=hidden]):not([type=checkbox]):not([type=radio]), main .page-link, ' +
    'nav.navbar a, nav.navbar button, .dropdown-menu.show .dropdown-item';
  for (const el of document.querySelectorAll(targets)) {
    if (!shown(el)) continue;
    const box = el.getBoundingClientRect();
    const text = (el.textContent || el.value || '').trim().slice(0, 30);
    if (box.height < 43.5) problems.push(`${name(el)} "${text}" is ${box.height.toFixed(1)} px high`);
  }
  return problems;
}
"""


@pytest.fixture
def dealer_pages(world):
    """A dealer with something on every page it opens, big figures (millions) and long codes; its two administrators
    (one reads Chinese, one English) and the pages to open, as (name, path)."""
    made = world.busy_dealer("SH-001", "SH", invoices=4, orders=2)
    last_month = today().replace(day=1) - dt.timedelta(days=1)
    world.invoice("SH-001", "SI-202611-000327", "2049410.30", issued_on=last_month.replace(day=3))
    statement = world.statement("SH-001", last_month.strftime("%Y-%m"))  # version 2, with the big invoice
    users = {
        "zh_CN": world.user("dealer_admin", dealer="SH-001", username="sh001.phone", locale="zh_CN"),
        "en": world.user("dealer_admin", dealer="SH-001", username="sh001.phone.en", locale="en"),
    }
    order = made["orders"][0]
    for username in users.values():
        for n in range(6):
            world.notification(
                username,
                link=f"/orders/{order}",
                title=f"订单 {order} 的发运单 DN-202612-{n:06d} 已发出；发票 SI-202612-{n:06d}：2,049,410.30 元",
            )
    jobs = {lang: world.job(username) for lang, username in users.items()}  # a job's page is its starter's
    pages = [
        ("home", "/home"),
        ("queue", "/home/queues/statements_to_confirm"),
        ("orders", "/orders"),
        ("catalogue", "/products"),
        ("my_prices", "/dealers/SH-001/prices"),
        ("ledger", "/dealers/SH-001/ledger"),
        ("credit", "/dealers/SH-001/credit"),
        ("entry", f"/entries/{made['invoices'][1]}"),
        ("statements", "/statements?all_versions=1"),
        ("statement", f"/statements/{statement}"),
        ("statement_v1", f"/statements/{made['statement']}"),
        ("disputes", "/disputes"),
        ("stock", "/stock"),
        ("sell_through", "/sell-through"),
        ("sell_through_new", "/sell-through/new"),
        ("sell_through_import", "/sell-through/import"),
        ("backorders", "/backorders"),
        ("rebates", "/rebates"),
        ("rebate", f"/rebates/{made['rebate']}"),
        ("notifications", "/notifications?per_page=4"),
        ("account", "/account"),
        ("users", "/users"),
        ("user", f"/users/{users['en']}"),
        ("user_form", "/users/new"),
        ("overview", "/my/dealer"),
        ("contact_form", f"/dealers/SH-001/contacts/{made['contacts'][0]}/edit"),
        ("address_form", f"/dealers/SH-001/addresses/{made['addresses'][1]}/edit"),
    ]
    return {"users": users, "pages": {lang: [*pages, ("job", f"/jobs/{jobs[lang]}")] for lang in users}}


def _context(browser, viewport, errors):
    context = browser.new_context(viewport=viewport, locale="zh-CN")
    page = context.new_page()
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return context, page


def _visit_all(page, base, pages, *, phone: bool, shots, prefix: str) -> list[str]:
    problems = []
    for name, path in pages:
        response = page.goto(f"{base}{path}")
        assert response is not None and response.ok, f"{path}: {response.status if response else 'no response'}"
        problems += [f"{path}: {p}" for p in page.evaluate(PAGE_PROBLEMS, {"phone": phone})]
        if shots is not None:
            page.screenshot(path=str(shots / f"{prefix}_{name}.png"), full_page=True)
    return problems


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_every_dealer_page_works_on_a_phone(browser, live_server, app, dealer_pages, lang, artifacts_dir):
    base, errors = live_server, []
    context, page = _context(browser, PHONE, errors)
    log_in(page, base, dealer_pages["users"][lang], PASSWORD)
    assert page.evaluate("document.documentElement.lang") == ("zh-CN" if lang == "zh_CN" else "en")

    problems = _visit_all(
        page, base, dealer_pages["pages"][lang], phone=True, shots=artifacts_dir, prefix=f"phone_{lang}"
    )

    # the dealer home names the stage and the expected completion of every open order on its card
    page.goto(f"{base}/home")
    labels = page.eval_on_selector_all(
        "[data-open-orders] tr[data-order]",
        """rows => rows.map(tr => ['[data-stage]', '[data-eta]'].map(cell => {
          const td = tr.querySelector(cell);
          return td && td.getClientRects().length ? getComputedStyle(td, '::before').content : null;
        }))""",
    )
    assert len(labels) == 5  # busy_dealer's open orders
    problems += [f"/home: an open order's stage or ETA has no label: {r}" for r in labels if None in r or "none" in r]

    # the top bar's menu opens within the screen; its links, the Orders menu's items and the bar's buttons are big
    page.click("nav.navbar .navbar-toggler")
    page.wait_for_selector("#nav.show")
    page.click("[data-nav=orders]")
    page.wait_for_selector("[data-nav=orders] + .dropdown-menu.show")
    problems += [f"menu: {p}" for p in page.evaluate(PAGE_PROBLEMS, {"phone": True})]
    page.screenshot(path=str(artifacts_dir / f"phone_{lang}_menu.png"), full_page=True)

    # a catalogue row's button adds the product to the order draft and comes back to the page it was sent from
    with app.test_request_context():
        draft_add = url_for("orders.draft_add")
    page.goto(f"{base}/products?q=P-1")
    form = page.locator("form[data-draft-add='P-1']")
    if form.count() != 1:
        problems.append("/products: no form adds P-1 to the order draft")
    else:
        assert (form.get_attribute("method"), form.get_attribute("action")) == ("post", draft_add)
        assert form.locator("input[name=next]").input_value() == "/products?q=P-1"
        assert form.locator("input[name=quantity]").input_value() == "1"
        form.locator("input[name=quantity]").fill("2")
        form.locator("button[type=submit]").click()
        page.wait_for_url(f"{base}/products?q=P-1")
        expect(page.locator(".alert-success")).to_contain_text("P-1")
        expect(page.locator(".alert-success")).to_contain_text("2")
        page.screenshot(path=str(artifacts_dir / f"phone_{lang}_catalogue_added.png"), full_page=True)
    context.close()

    assert not [e for e in errors if "Content Security Policy" in e], errors
    assert not problems, "\n".join(problems)


def test_the_dealer_pages_need_no_sideways_scrolling_on_a_desktop(browser, live_server, dealer_pages, artifacts_dir):
    base, errors = live_server, []
    problems = []
    for lang in ("zh_CN", "en"):
        context, page = _context(browser, DESKTOP, errors)
        log_in(page, base, dealer_pages["users"][lang], PASSWORD)
        shots = artifacts_dir if lang == "en" else None  # the longer English labels are the tighter fit
        pages = dealer_pages["pages"][lang]
        problems += _visit_all(page, base, pages, phone=False, shots=shots, prefix=f"desktop_{lang}")
        context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors
    assert not problems, "\n".join(problems)


def test_a_page_that_breaks_a_figure_is_caught(browser, live_server, dealer_pages):
    """The checks themselves: a figure forced to break, a table too wide, a small button are each reported."""
    base, errors = live_server, []
    context, page = _context(browser, PHONE, errors)
    log_in(page, base, dealer_pages["users"]["en"], PASSWORD)
    page.goto(f"{base}/account")
    page.evaluate(
        """() => document.querySelector('main').insertAdjacentHTML('beforeend',
          '<span class="d-block text-break w-25">SO-202612-000001 2,049,410.30</span>' +
          '<div class="table-responsive"><table><tr><td class="text-nowrap">' + 'W'.repeat(80) +
          '</td></tr></table></div>' +
          '<form><button class="p-0 border-0" type="button">x</button></form>')"""
    )
    problems = page.evaluate(PAGE_PROBLEMS, {"phone": True})
    context.close()
    text = "\n".join(problems)
    assert re.search(r'"(SO-202612-000001|2,049,410\.30)" is broken across lines', text), text
    assert "scrolls sideways" in text, text
    assert re.search(r'button\.p-0\.border-0 "x" is [\d.]+ px high', text), text
