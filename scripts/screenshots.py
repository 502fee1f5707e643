"""Take headless-Chromium screenshots of portal pages as a given user (a developer tool).

    python scripts/screenshots.py --base http://127.0.0.1:5000 --user admin --out /tmp/shots /home /dealers

Uses Debian's /usr/bin/chromium through Playwright (no downloaded browser).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="http://127.0.0.1:5000")
    ap.add_argument("--user")
    ap.add_argument("--password", default="demo-pass-2026")
    ap.add_argument("--lang", choices=["zh_CN", "en"], help="switch the user's language first")
    ap.add_argument("--out", default="/tmp/shots")
    ap.add_argument("--width", type=int, default=1366)
    ap.add_argument("paths", nargs="+")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": args.width, "height": 900})
        if args.user:
            page.goto(f"{args.base}/login")
            page.fill("#username", args.user)
            page.fill("#password", args.password)
            page.click("form:has(#password) button[type=submit]")
            page.wait_for_load_state()
        if args.lang:
            page.goto(f"{args.base}/account")
            page.select_option("#lang-locale", args.lang)
            page.click("form:has(#lang-locale) button[type=submit]")
        for path in args.paths:
            page.goto(args.base + path)
            slug = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_") or "root"
            name = f"{args.user or 'anon'}_{args.lang or ''}_{slug}.png"
            page.screenshot(path=str(out / name), full_page=True)
            print(out / name)
        browser.close()


if __name__ == "__main__":
    main()
