"""Walk the staff console in headless Chromium and save a screenshot of each screen for docs/admin-guide.md.

    make run                                   # in one terminal; it prints the staff login
    .venv/bin/pip install playwright
    .venv/bin/python docs/tools/staff_screens.py USERNAME PASSWORD [--base http://kyoto.localhost:8000]

Uses the system's Chromium (/usr/bin/chromium); writes docs/screenshots/staff-*.png. Read-only but for a
full-export request; it changes no setting.
"""

from __future__ import annotations

import argparse

from playwright.sync_api import sync_playwright
from shots import launch, saver

PAGES = [
    ("02-home", "/staff/"),
    ("03-bookings", "/staff/bookings/?date_from=2026-11-01&date_to=2027-03-31&ordering=start"),
    ("05-settings", "/staff/settings/"),
    ("06-settings-window", "/staff/settings/window/"),
    ("07-settings-fields", "/staff/settings/fields/"),
    ("08-settings-texts", "/staff/settings/texts/"),
    ("09-settings-places", "/staff/settings/places/"),
    ("11-settings-closed-days", "/staff/settings/closed-days/"),
    ("12-staff", "/staff/users/"),
    ("13-security", "/staff/security/"),
    ("14-oplog", "/staff/log/?verify=1"),
    ("15-exports", "/staff/exports/"),
    ("16-password", "/staff/password/"),
]


shot = saver("staff")


def walk(base: str, username: str, password: str) -> None:
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="ja-JP")
        page.goto(base + "/staff/login/")
        shot(page, "01-login")
        page.get_by_label("ユーザーID").fill(username)
        page.get_by_label("パスワード").fill(password)
        page.get_by_role("button", name="ログイン").click()
        for name, path in PAGES:
            page.goto(base + path)
            shot(page, name)
            if name == "03-bookings":
                page.locator("table.list tbody a").first.click()
                shot(page, "04-booking")
            if name == "09-settings-places":
                page.goto(base + "/staff/settings/places/1/")
                shot(page, "10-settings-place")
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("username")
    parser.add_argument("password")
    parser.add_argument("--base", default="http://kyoto.localhost:8000")
    args = parser.parse_args()
    walk(args.base, args.username, args.password)


if __name__ == "__main__":
    main()
