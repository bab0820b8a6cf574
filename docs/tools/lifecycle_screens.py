"""A municipality's life in the vendor console (docs/operations.md §6, docs/admin-guide.md §1.1): signs in as
an operator (password and the TOTP code computed from the authenticator's otpauth:// address, as the app
does), adds the municipality "uji" with its first administrator, opens the invitation link from the mail on
uji's own host, suspends and resumes it, asks for a full export and offboards it; a screenshot of each screen.

It changes data: run it against a database of its own, never one you keep. With a free port and Redis db:

    export DEBUG=true BASE_DOMAIN=localhost DATABASE_URL=postgres://postgres@127.0.0.1:5432/madoguchi_life \\
           REDIS_URL=redis://127.0.0.1:6379/9 EXPORT_LOCAL_DIR=/tmp/madoguchi-life-exports
    .venv/bin/python -c 'import os, sys; sys.path.insert(0, "infra/local"); import stack; \\
        stack.prepare_database(dict(os.environ))'
    DJANGO_SUPERUSER_PASSWORD='Ops-Console1!x' .venv/bin/python manage.py createsuperuser --noinput \\
        --username ops --email ops@localhost
    .venv/bin/python manage.py enrol_operator_totp ops --uri-only > /tmp/life-totp.txt
    .venv/bin/python manage.py runserver --noreload 127.0.0.1:8047 > /tmp/life-server.log 2>&1 &
    .venv/bin/python -m celery -A madoguchi worker --concurrency 1 > /tmp/life-worker.log 2>&1 &
    .venv/bin/python docs/tools/lifecycle_screens.py --base http://localhost:8047 --user ops \\
        --password 'Ops-Console1!x' --totp /tmp/life-totp.txt --mail-log /tmp/life-server.log

(stop the server and the worker afterwards). Mail goes to the console backend with DEBUG on, so the
invitation is read from the server's output. Writes docs/screenshots/vendor-1*.png and
staff-34-invitation.png.
"""

from __future__ import annotations

import argparse
import base64
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from django_otp.oath import totp
from playwright.sync_api import Page, sync_playwright
from shots import launch, saver

vendor = saver("vendor")
staff = saver("staff")


def current_code(totp_file: Path) -> str:
    uri = totp_file.read_text().split()[0]
    secret = parse_qs(urlsplit(uri).query)["secret"][0]
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return f"{totp(key):06d}"


def invitation_link(mail_log: Path, seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = re.findall(r"https?://\S+/staff/invitation/\S+/", mail_log.read_text(errors="replace"))
        if found:
            return str(found[-1])
        time.sleep(0.5)
    raise SystemExit(f"no invitation link in {mail_log}")


def wait_until_done(page: Page, url: str, marker: str, seconds: float = 120) -> None:
    """The worker makes exports and offboards; the pages say so once it has (no JavaScript polls)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        page.goto(url)
        if re.search(marker, page.content()):
            return
        time.sleep(2)
    raise SystemExit(f"the worker did not finish ({url}): is it running?")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="http://localhost:8047")
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--totp", type=Path, required=True, help="file holding the otpauth:// address")
    parser.add_argument("--mail-log", type=Path, required=True, help="the server's output (console mail)")
    args = parser.parse_args()
    base = args.base.rstrip("/")
    port = urlsplit(base).port or 80
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="ja-JP")
        page.goto(base + "/")
        page.fill("#id_username", args.user)
        page.fill("#id_password", args.password)
        page.fill("#id_otp_token", current_code(args.totp))
        with page.expect_navigation():
            page.locator("form [type=submit]").first.click()

        page.goto(base + "/municipalities/new/")
        for field, value in {
            "schema_name": "uji",
            "name": "宇治市",
            "name_en": "Uji City",
            "domain": "uji.localhost",
            "admin_username": "uji-admin",
            "admin_email": "mail@example",
        }.items():
            page.fill(f"#id_{field}", value)
        page.select_option("#id_preset", "kyoto")
        with page.expect_navigation():
            page.locator("main form [type=submit]").click()
        vendor(page, "11-new-municipality-error")  # the address is refused: nothing was made
        page.fill("#id_admin_email", "joho@city.uji.example.jp")
        with page.expect_navigation(timeout=120_000):
            page.locator("main form [type=submit]").click()
        vendor(page, "12-municipality")

        link = invitation_link(args.mail_log)
        invited = browser.new_page(viewport={"width": 1280, "height": 800}, locale="ja-JP")
        invited.goto(re.sub(r"^https?://[^/]+", f"http://uji.localhost:{port}", link))
        staff(invited, "34-invitation")
        invited.close()

        page.fill("#id_reason", "契約更新の手続きが終わるまで")
        with page.expect_navigation():
            page.locator("form:has(#id_reason) [type=submit]").click()
        vendor(page, "13-suspended")
        site = browser.new_page(viewport={"width": 1280, "height": 800}, locale="ja-JP")
        site.goto(f"http://uji.localhost:{port}/")
        vendor(site, "14-suspended-site")
        site.close()
        with page.expect_navigation():
            page.locator("button[value=resume]").click()

        with page.expect_navigation():
            page.locator("form[action$='/exports/'] [type=submit]").click()
        wait_until_done(page, base + "/municipalities/uji/", r"出力 \d+ をダウンロード")
        page.goto(base + "/")
        vendor(page, "10-municipalities")

        page.goto(base + "/municipalities/uji/offboard/")
        page.fill("#id_confirm", "uji")
        page.fill("#id_asked_by", "宇治市 総務部 情報政策課 課長 宇治太郎（宇総情第45号）")
        vendor(page, "15-offboard")
        with page.expect_navigation():
            page.locator("main form [type=submit]").click()
        wait_until_done(page, page.url, "データ廃棄証明書:")
        vendor(page, "16-certificate")
        browser.close()


if __name__ == "__main__":
    main()
