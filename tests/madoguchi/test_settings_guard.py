"""Configuration comes from the environment; production mode refuses insecure values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GOOD_KEY = "p7Qm2x9Lr4Tz8Vw1Ks6Hd3Fb5Nc0Yj7Ue2Ia9Og4Rl1Xs8Wq3Ez6Tv5By0Pn2Mk"


def start_django(**env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "RESERVATION_PASSWORD_KEY", "OPLOG_KEY"}
    }
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)",
        ],
        cwd=REPO,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


PRODUCTION = {
    "DATABASE_URL": "postgres://u@db/x",
    "REDIS_URL": "redis://r:6379/0",
    "RESERVATION_PASSWORD_KEY": "k" * 40,
    "OPLOG_KEY": "o" * 40,
}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "false", **PRODUCTION}, "it is not set"),
        ({"SECRET_KEY": "short", **PRODUCTION}, "shorter than 50 characters"),
        ({"SECRET_KEY": "django-insecure-" + "a1b2c3d4e5" * 5, **PRODUCTION}, "it is the development key"),
        ({**PRODUCTION, "SECRET_KEY": GOOD_KEY, "DATABASE_URL": ""}, "DATABASE_URL must be set"),
        ({**PRODUCTION, "SECRET_KEY": GOOD_KEY, "REDIS_URL": ""}, "REDIS_URL must be set"),
        (
            {**PRODUCTION, "SECRET_KEY": GOOD_KEY, "RESERVATION_PASSWORD_KEY": ""},
            "RESERVATION_PASSWORD_KEY must be set",
        ),
        ({**PRODUCTION, "SECRET_KEY": GOOD_KEY, "OPLOG_KEY": ""}, "OPLOG_KEY must be set"),
        ({"DEBUG": "perhaps"}, "DEBUG must be one of"),
    ],
)
def test_production_mode_refuses_insecure_configuration(env: dict[str, str], message: str) -> None:
    result = start_django(**env)
    assert result.returncode != 0
    assert message in result.stderr


def test_production_mode_starts_with_secure_configuration() -> None:
    result = start_django(SECRET_KEY=GOOD_KEY, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_local_defaults_work_in_debug_mode() -> None:
    result = start_django(DEBUG="true")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
