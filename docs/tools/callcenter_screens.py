"""Walk the call-center operator's screens in headless Chromium and save screenshots for
docs/callcenter-manual.md.

    make run                                   # in one terminal
    .venv/bin/pip install playwright
    .venv/bin/python docs/tools/callcenter_screens.py OPERATOR PASSWORD RESERVATION_NUMBER BIRTH_DATE \\
        [--base http://kyoto.localhost:8000]

The card (RESERVATION_NUMBER, BIRTH_DATE as YYYY-MM-DD) must have no booking; the walk books for it, then
cancels, and books and cancels one phone-only visit.

    .venv/bin/python docs/tools/callcenter_screens.py OPERATOR PASSWORD --stop-notice [--base ...]

only signs in and saves the home with the stop notice (cc-08). Record the stop first: in the vendor console's
admin 「計画停止」 (docs/operations.md 2.3), or with `make manage ARGS="shell"` through the same service,
`console.services.do_record_stop(PlannedStop(tenant=kyoto, kind=PLANNED, starts_at=<35 days ahead>,
ends_at=<5 hours later>, site_down=True, reason=..., approved_on=<today>, approved_by=...,
approval_reference=...), actor=console.vendor_log.Actor("screenshots"))`.
The walk fails rather than shoot a home without the notice.
"""

from __future__ import annotations

import argparse
import datetime as dt

from playwright.sync_api import Page, sync_playwright
from shots import launch, saver

shot = saver("cc")


def next_weekday() -> dt.date:
    day = dt.date.today() + dt.timedelta(days=7)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def sign_in(page: Page, base: str, username: str, password: str) -> None:
    page.goto(base + "/staff/login/")
    page.get_by_label("ユーザーID").fill(username)
    page.get_by_label("パスワード").fill(password)
    page.get_by_role("button", name="ログイン").click()


def walk_stop_notice(base: str, username: str, password: str) -> None:
    """The home while a recorded stop is announced: the notice the operator sees from announcement to end."""
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="ja-JP")
        sign_in(page, base, username, password)
        page.goto(base + "/staff/callcenter/")
        # no notice means no stop recorded: fail rather than shoot a bare home
        page.get_by_text("サービス停止のお知らせ").wait_for()
        shot(page, "08-stop-notice")
        browser.close()


def walk(base: str, username: str, password: str, number: str, birth_date: str) -> None:
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="ja-JP")
        sign_in(page, base, username, password)
        page.goto(base + "/staff/callcenter/")
        page.get_by_role("button", name="新規予約").click()
        shot(page, "01-home")
        page.locator("#id_reservation_number").fill(number)
        page.get_by_label("生年月日").fill(birth_date)
        page.get_by_role("button", name="本人確認して予約画面を開く").click()
        shot(page, "02-caller-mypage")
        page.get_by_role("link", name="予約する").click()
        page.get_by_role("link", name="マイナンバーカードの交付").click()
        page.get_by_role("link", name="マイナンバーカードセンター（下京）3階").click()
        if page.locator("td.free a").count() == 0:
            page.get_by_role("link", name="次の月").click()
        page.locator("td.free a").first.click()
        shot(page, "03-caller-time")
        page.locator(".time-list button").nth(4).click()
        page.get_by_role("button", name="確認へ進む").click()
        page.get_by_role("button", name="この内容で予約を確定する").click()
        shot(page, "04-script")
        for box in page.locator("input[name=read]").all():
            box.check()
        page.get_by_role("button", name="すべてお伝えした").click()
        page.goto(base + "/staff/callcenter/visit/")
        page.get_by_label("サービス").select_option("ecert_renewal")
        page.get_by_label("場所").select_option(label="北区役所 カード交付コーナー")
        page.get_by_label("日にち").fill(next_weekday().isoformat())
        page.get_by_role("button", name="空き時間を見る").click()
        shot(page, "05-visit")
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("username", "password"):
        parser.add_argument(name)
    for name in ("number", "birth_date"):
        parser.add_argument(name, nargs="?")
    parser.add_argument("--stop-notice", action="store_true", help="only the home with a stop's notice")
    parser.add_argument("--base", default="http://kyoto.localhost:8000")
    args = parser.parse_args()
    if args.stop_notice:
        walk_stop_notice(args.base, args.username, args.password)
    elif args.number and args.birth_date:
        walk(args.base, args.username, args.password, args.number, args.birth_date)
    else:
        parser.error("RESERVATION_NUMBER and BIRTH_DATE are needed unless --stop-notice")


if __name__ == "__main__":
    main()
