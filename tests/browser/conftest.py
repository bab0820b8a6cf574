"""The browser suite (issue 15): the real app served on a free loopback port, seeded once with realistic
data, driven by Playwright in Debian's Chromium with axe-core injected.

Run by `make test-browser`, never by `make test` (the root conftest ignores this folder unless the run
names it). Data is seeded once per session and committed, since the server answers from its own threads and
connections; the tests carry the django_db mark only so that pytest-django creates the test database, which
is dropped at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.seed import Seed, seed_kyoto
from tests.browser.walk import AXE
from tests.conftest import Tenants

# Playwright's sync API keeps an asyncio loop running on the main thread, which makes Django refuse database
# calls there (SynchronousOnlyOperation), the django_db mark's own transaction included. The app is read and
# written only by the server's threads; the main thread only seeds (before Playwright starts) and rolls back.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def seeded(
    tenants: Tenants, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Seed]:
    """Kyoto's data for every page, committed; the database stays open to the server's threads."""
    # The card import keeps its upload where exports go: a folder of this run's, not the repository's.
    with pytest.MonkeyPatch.context() as patch, django_db_blocker.unblock():
        patch.setenv("EXPORT_LOCAL_DIR", str(tmp_path_factory.mktemp("exports")))
        yield seed_kyoto()


@pytest.fixture(scope="session")
def base_url(seeded: Seed, django_db_blocker: Any) -> Iterator[str]:
    """The app on 127.0.0.1:<free port>, reached as http://kyoto.localhost:<port>/ (host picks the tenant)."""
    from django.conf import settings
    from django.db import connections
    from django.test import override_settings
    from django.test.testcases import LiveServerThread

    # Sign-in counters live in Redis under the cache's key prefix: the walk (module-scoped, before any test's
    # own prefix) gets one of its own, so that earlier runs' failed sign-ins do not slow this one down.
    caches = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"browser-{uuid.uuid4().hex}"}}
    with django_db_blocker.unblock(), override_settings(CACHES=caches):
        # whitenoise serves the static files itself (DEBUG, finders), so the app needs no static wrapper;
        # Django's stub says a handler class, but any callable that wraps the app will do.
        server = LiveServerThread("127.0.0.1", lambda app: app, port=0)  # type: ignore[arg-type]
        server.daemon = True
        server.start()
        server.is_ready.wait()
        if server.error:
            raise server.error
        try:
            yield f"http://kyoto.localhost:{server.port}"
        finally:
            server.terminate()
            connections.close_all()


@pytest.fixture(scope="session")
def chromium(base_url: str) -> Iterator[Any]:
    """One Chromium for the whole suite (contexts are cheap; a browser is not)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test-browser` installs Debian's chromium")
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make test-browser` runs npm ci in tests/browser")
    from django.db import connections
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            # *.localhost is loopback by the standard; say so in case a resolver disagrees. The sandbox needs
            # user namespaces, which CI containers running as root do not have.
            args=["--host-resolver-rules=MAP *.localhost 127.0.0.1", "--no-sandbox"],
        )
        try:
            yield browser
        finally:
            browser.close()
            # While Playwright's loop runs, Django (asgiref) keeps this thread's connections per context, not
            # per thread: the tests' connection must be closed now, or the test database cannot be dropped.
            connections.close_all()
