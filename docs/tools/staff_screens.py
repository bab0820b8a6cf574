"""Walk the staff console in headless Chromium and save a screenshot of each screen for docs/admin-guide.md.

    make run                                   # in one terminal; it prints the staff login
    .venv/bin/pip install playwright
    .venv/bin/python docs/tools/staff_screens.py USERNAME PASSWORD [--base http://kyoto.localhost:8000]

Or against a database and Redis db of your own and a free port, without `make run` (as in card_screens.py):

    export DEBUG=true BASE_DOMAIN=localhost DATABASE_URL=postgres://postgres@127.0.0.1:5432/madoguchi_docs \\
           REDIS_URL=redis://127.0.0.1:6379/9 EXPORT_LOCAL_DIR=/tmp/madoguchi-docs-exports
    .venv/bin/python -c 'import os, sys; sys.path.insert(0, "infra/local"); import stack; \\
        stack.prepare_database(dict(os.environ))'
    STAFF_PASSWORD='Aa1!demo-password' .venv/bin/python manage.py create_staff kyoto admin \\
        --role administrator --no-forced-change
    .venv/bin/python docs/tools/staff_screens.py --contact   # the demo call-center number, see below
    .venv/bin/python manage.py runserver --noreload 127.0.0.1:8023 &    # stop it (kill %1) afterwards
    .venv/bin/python docs/tools/staff_screens.py admin 'Aa1!demo-password' \\
        --base http://kyoto.localhost:8023

`--contact` saves a plainly fictional call-center number (0120-000-000) and hours in the kyoto tenant through
the product's own service, so that the contact page shows them; the presets hold no number (a municipality
enters its own). `--only 31-settings-contact …` (last on the line) retakes only the shots named. Uses the
system's Chromium (/usr/bin/chromium); writes docs/screenshots/staff-*.png. The walk is read-only but for a
full-export request; it changes no setting.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

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
    ("31-settings-contact", "/staff/settings/contact/"),
    ("32-settings-services", "/staff/settings/services/"),
    ("33-availability", "/staff/availability/?month=2026-12"),  # BK-08: the month `make run` has probed
    ("12-staff", "/staff/users/"),
    ("13-security", "/staff/security/"),
    ("14-oplog", "/staff/log/?verify=1"),
    ("15-exports", "/staff/exports/"),
    ("16-password", "/staff/password/"),
]


shot = saver("staff")
REPO = Path(__file__).resolve().parents[2]


def walk(base: str, username: str, password: str, only: set[str] | None = None) -> None:
    """Sign in and save every page of PAGES (or only those named, e.g. {"31-settings-contact"})."""
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="ja-JP")
        page.goto(base + "/staff/login/")
        if not only or "01-login" in only:
            shot(page, "01-login")
        page.get_by_label("ユーザーID").fill(username)
        page.get_by_label("パスワード").fill(password)
        page.get_by_role("button", name="ログイン").click()
        for name, path in PAGES:
            if only and name not in only:
                continue
            page.goto(base + path)
            shot(page, name)
            if name == "03-bookings":
                page.locator("table.list tbody a").first.click()
                shot(page, "04-booking")
            if name == "09-settings-places":
                page.goto(base + "/staff/settings/places/1/")
                shot(page, "10-settings-place")
        browser.close()


def demo_contact() -> None:
    """Save the demo call-center contact in the kyoto tenant, as an administrator would on its page."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.settings")
    sys.path.insert(0, str(REPO))
    django.setup()
    from django_tenants.utils import schema_context

    from booking.audit.oplog import Actor
    from booking.configuration.rule_settings import ContactInput, do_update_contact

    contact = ContactInput(
        callcenter_phone="0120-000-000",  # a toll-free number with zeros: nobody's real line
        callcenter_hours="平日 9:00〜17:00",  # short enough to show whole in the page's field
        callcenter_hours_en="Weekdays 9:00–17:00",
    )
    with schema_context("kyoto"):
        print(do_update_contact(Actor(None, "docs", "127.0.0.1"), contact))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("username", nargs="?")
    parser.add_argument("password", nargs="?")
    parser.add_argument("--base", default="http://kyoto.localhost:8000")
    parser.add_argument(
        "--only", nargs="+", metavar="NAME", help="retake only these, e.g. 06-settings-window"
    )
    parser.add_argument(
        "--contact", action="store_true", help="only save the demo call-center number and hours (kyoto)"
    )
    args = parser.parse_args()
    if args.contact:
        demo_contact()
    elif args.username and args.password:
        walk(args.base, args.username, args.password, set(args.only or ()))
    else:
        parser.error("give USERNAME PASSWORD, or --contact")


if __name__ == "__main__":
    main()
