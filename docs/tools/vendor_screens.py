"""Open the vendor console's sign-in in headless Chromium and save a screenshot for docs/operations.md §5.

    make run                                   # in one terminal
    .venv/bin/pip install playwright
    .venv/bin/python docs/tools/vendor_screens.py [--base http://localhost:8000]

Uses the system's Chromium (/usr/bin/chromium); writes docs/screenshots/vendor-01-sign-in.png with the form
empty. The browser's address must be in VENDOR_ALLOWED_NETWORKS (loopback is the default with DEBUG on), or
the console answers 403 instead.

With `--report kyoto/2026-12` it also signs in as the operator `make run` made (user name and password from
.local/console-login.txt, the 6-digit code computed from the authenticator account in .local/console-totp.txt,
as an operator's app does) and saves the availability report page (docs/operations.md §2.6) as
vendor-02-availability.png.
"""

from __future__ import annotations

import argparse
import base64
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from django_otp.oath import totp
from playwright.sync_api import sync_playwright
from shots import launch, saver

shot = saver("vendor")
LOCAL = Path(__file__).resolve().parents[2] / ".local"


def current_code() -> str:
    """The code an authenticator app shows now for the account in .local/console-totp.txt."""
    uri = (LOCAL / "console-totp.txt").read_text().split()[0]
    secret = parse_qs(urlsplit(uri).query)["secret"][0]
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return f"{totp(key):06d}"


def report(base: str, which: str) -> None:
    username, password = (LOCAL / "console-login.txt").read_text().split()[:2]
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="ja-JP")
        page.goto(base + "/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.fill("#id_otp_token", current_code())
        with page.expect_navigation():
            page.locator("form [type=submit]").first.click()
        schema, month = which.split("/")
        page.goto(f"{base}/availability/{schema}/{month}/")
        page.locator("svg.report-chart").wait_for()
        shot(page, "02-availability")
        browser.close()


def walk(base: str) -> None:
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="ja-JP")
        page.goto(base + "/")  # the console sends a visitor who is not signed in to its sign-in
        page.locator("#id_otp_token").wait_for()  # the one-time code's field: the page is the sign-in
        shot(page, "01-sign-in")
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="http://localhost:8000")
    parser.add_argument("--report", help="also the availability report of SCHEMA/YYYY-MM (signs in)")
    args = parser.parse_args()
    walk(args.base)
    if args.report:
        report(args.base, args.report)


if __name__ == "__main__":
    main()
