"""What the screenshot walks share: the system's Chromium as this machine can run it, and where shots go."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Browser, Page, Playwright

OUT = Path(__file__).resolve().parents[1] / "screenshots"
# Without the background-networking flags Chromium keeps trying hosts this closed network refuses.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)


def saver(prefix: str) -> Callable[[Page, str], None]:
    """A function saving full-page shots as docs/screenshots/<prefix>-<name>.png."""
    OUT.mkdir(parents=True, exist_ok=True)

    def shot(page: Page, name: str) -> None:
        page.screenshot(path=str(OUT / f"{prefix}-{name}.png"), full_page=True)
        print(f"saved {prefix}-{name}.png ({page.url})")

    return shot
