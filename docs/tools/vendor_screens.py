"""Open the vendor console's sign-in in headless Chromium and save a screenshot for docs/operations.md §5.

    make run                                   # in one terminal
    .venv/bin/pip install playwright
    .venv/bin/python docs/tools/vendor_screens.py [--base http://localhost:8000]

Uses the system's Chromium (/usr/bin/chromium); writes docs/screenshots/vendor-01-sign-in.png. It signs no
one in and types nothing: the form is shown empty. The browser's address must be in VENDOR_ALLOWED_NETWORKS
(loopback is the default with DEBUG on), or the console answers 403 instead.
"""

from __future__ import annotations

import argparse

from playwright.sync_api import sync_playwright
from shots import launch, saver

shot = saver("vendor")


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
    args = parser.parse_args()
    walk(args.base)


if __name__ == "__main__":
    main()
