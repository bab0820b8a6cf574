"""Walk the citizen's booking flow in headless Chromium at phone width and save a screenshot of each screen.

    make run                      # in one terminal
    .venv/bin/pip install playwright
    .venv/bin/python docs/tools/citizen_screens.py RESERVATION_NUMBER PASSWORD [--base http://kyoto.localhost:8000]

Uses the system's Chromium (/usr/bin/chromium, Debian's `chromium`); writes docs/screenshots/citizen-*.png
(all but 13, which docs/tools/card_screens.py takes). The card must have no booking yet; the walk books (with
one mistyped address on the way: 14), changes (15) and cancels, leaving it without a booking again.
"""

from __future__ import annotations

import argparse

from playwright.sync_api import Page, sync_playwright
from shots import launch, saver

shot = saver("citizen")


def choose_first_free_time(page: Page, nth: int = 2) -> None:
    page.get_by_role("link", name="マイナンバーカードの交付").click()
    shot(page, "03-place")
    page.get_by_role("link", name="マイナンバーカードセンター（下京）3階").click()
    free_days = page.locator("td.free a")
    if free_days.count() == 0:
        page.get_by_role("link", name="次の月").click()
    shot(page, "04-day")
    page.locator("td.free a").first.click()
    shot(page, "05-time")
    page.locator(".time-list button").nth(nth).click()


def walk(base: str, number: str, password: str) -> None:
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 360, "height": 740}, device_scale_factor=1, locale="ja-JP")
        page.goto(base + "/")
        shot(page, "00-top")
        page.get_by_role("link", name="予約する・予約を確認／変更／取消する").click()
        page.get_by_label("予約番号（12桁）").fill("0000-0000-0000")
        page.get_by_label("パスワード").fill("WRONG")
        page.get_by_role("button", name="次へ").click()
        shot(page, "01-login-refused")
        page.wait_for_timeout(1500)  # one failure here is within the limits, but leave the throttle at rest
        page.get_by_label("予約番号（12桁）").fill(number)
        page.get_by_label("パスワード").fill(password)
        page.get_by_role("button", name="次へ").click()
        shot(page, "02-mypage-empty")
        page.get_by_role("link", name="予約する").click()
        choose_first_free_time(page)
        page.get_by_label("電話番号").fill("075-222-3111")
        page.get_by_label("メールアドレス").fill("taro@example.jp")
        shot(page, "06-details")
        # A mistyped address: the error summary at the top, 「エラー: 」 in the title, what was typed kept.
        page.get_by_label("メールアドレス").fill("taro@@example.jp")
        page.get_by_role("button", name="確認へ進む").click()
        shot(page, "14-details-error")
        page.get_by_label("メールアドレス").fill("taro@example.jp")
        page.get_by_role("button", name="確認へ進む").click()
        shot(page, "07-confirm")
        page.get_by_role("button", name="この内容で予約を確定する").click()
        shot(page, "08-done")
        page.get_by_role("link", name="ご予約の確認へ").click()
        shot(page, "09-mypage")
        page.get_by_role("link", name="日時・場所を変更する").click()
        choose_first_free_time(page, nth=6)
        page.get_by_role("button", name="確認へ進む").click()
        shot(page, "10-change-confirm")
        page.get_by_role("button", name="この内容に変更する").click()
        shot(page, "15-changed")
        page.get_by_role("link", name="ご予約の確認へ").click()
        page.get_by_role("link", name="予約を取り消す").click()
        shot(page, "11-cancel")
        page.get_by_role("button", name="予約を取り消す").click()
        shot(page, "12-cancelled")
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("number")
    parser.add_argument("password")
    parser.add_argument("--base", default="http://kyoto.localhost:8000")
    args = parser.parse_args()
    walk(args.base, args.number, args.password)


if __name__ == "__main__":
    main()
