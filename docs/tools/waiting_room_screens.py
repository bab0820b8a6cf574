"""The waiting room's screens (issue 12) in headless Chromium: the vendor console's pages, and the queue page
a resident sees, for docs/operations.md and docs/citizen-guide.md.

    make run                                   # in one terminal
    .venv/bin/python docs/tools/waiting_room_screens.py USERNAME PASSWORD
        [--totp-uri-file .local/console-totp.txt] [--console http://localhost:8000]
        [--site http://kyoto.localhost:8000] [--schema kyoto]

Signs in to the vendor console with the password and the current TOTP code, computed here from the
operator's otpauth:// address (the file `make run` writes); sets the municipality's room to admit one
resident at a time; opens the site once (that visitor is let in) and again in a second browser (that one
waits: the queue page, in Japanese and in English); schedules an event, shows a refused one, then cancels it
and switches the room off again. Writes docs/screenshots/waiting-room-*.png. The browser's address must be
in VENDOR_ALLOWED_NETWORKS (loopback by default with DEBUG on).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import hmac
import struct
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Browser, Page, sync_playwright
from shots import launch, saver

shot = saver("waiting-room")
TOKYO = dt.timezone(dt.timedelta(hours=9))


def totp_now(uri: str) -> str:
    """RFC 6238 (SHA-1, 6 digits, 30 s), the code an authenticator app shows for this otpauth:// address."""
    query = parse_qs(urlsplit(uri).query)
    secret = query["secret"][0]
    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    period = int(query.get("period", ["30"])[0])
    digest = hmac.new(key, struct.pack(">Q", int(time.time()) // period), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


def sign_in(page: Page, console: str, username: str, password: str, uri: str) -> None:
    page.goto(console + "/admin/login/?next=/waiting-room/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.fill("#id_otp_token", totp_now(uri))
    page.click("input[type=submit]")
    page.wait_for_url("**/waiting-room/")


def set_limits(page: Page, console: str, schema: str, enabled: bool, active: int) -> None:
    page.goto(f"{console}/waiting-room/{schema}/")
    page.set_checked("#id_enabled", enabled)
    page.fill("#id_active_limit", str(active))
    page.fill("#id_per_minute", "30")
    page.fill("#id_idle_minutes", "15")
    page.click("form[action$='/limits/'] button[type=submit]")


def queue_pages(browser: Browser, site: str) -> None:
    inside = browser.new_context(viewport={"width": 360, "height": 740}, locale="ja-JP")
    inside.new_page().goto(site + "/")  # the one resident the room holds
    for language in ("ja", "en"):
        waiting = browser.new_context(viewport={"width": 360, "height": 740}, locale="ja-JP")
        waiting.add_cookies([{"name": "django_language", "value": language, "url": site}])
        page = waiting.new_page()
        page.goto(site + "/")
        page.locator("[role=status]").wait_for()
        shot(page, f"03-queue-{language}")
        waiting.close()
    inside.close()


def walk(args: argparse.Namespace) -> None:
    uri = Path(args.totp_uri_file).read_text().strip()
    with sync_playwright() as p:
        browser = launch(p)
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ja-JP")
        page = context.new_page()
        sign_in(page, args.console, args.username, args.password, uri)
        set_limits(page, args.console, args.schema, True, 1)
        queue_pages(browser, args.site)
        page.goto(args.console + "/waiting-room/?manual=1")
        shot(page, "01-live")
        next_week = dt.datetime.now(TOKYO) + dt.timedelta(days=7)
        start = next_week.replace(hour=8, minute=0, second=0, microsecond=0)
        page.goto(f"{args.console}/waiting-room/{args.schema}/")
        page.fill("#id_event-name", "通知書の発送日")
        page.fill("#id_event-starts_at", start.strftime("%Y-%m-%dT%H:%M"))
        page.fill("#id_event-ends_at", (start + dt.timedelta(hours=10)).strftime("%Y-%m-%dT%H:%M"))
        page.fill("#id_event-active_limit", "300")
        page.fill("#id_event-per_minute", "100")
        page.click("form[action$='/events/'] button[type=submit]")
        shot(page, "02-settings")
        # the same hours again: refused, with the reason at the top and by the field
        page.fill("#id_event-name", "重なる予定")
        page.fill("#id_event-starts_at", (start + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
        page.fill("#id_event-ends_at", (start + dt.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"))
        page.fill("#id_event-active_limit", "300")
        page.fill("#id_event-per_minute", "100")
        page.click("form[action$='/events/'] button[type=submit]")
        shot(page, "04-event-refused")
        # leave things as they were: the event cancelled, the room off
        page.goto(f"{args.console}/waiting-room/{args.schema}/")
        page.click("form[action$='/cancel/'] button")
        set_limits(page, args.console, args.schema, False, 500)
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("username")
    parser.add_argument("password")
    parser.add_argument("--totp-uri-file", default=".local/console-totp.txt")
    parser.add_argument("--console", default="http://localhost:8000")
    parser.add_argument("--site", default="http://kyoto.localhost:8000")
    parser.add_argument("--schema", default="kyoto")
    walk(parser.parse_args())


if __name__ == "__main__":
    main()
