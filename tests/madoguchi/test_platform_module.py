"""`platform/` is the Django project's folder, but must never shadow the standard library's `platform`
module, which Django, Celery and sentry-sdk import (MT-01 layout hazard)."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()
CHECK = "import platform; assert platform.system(); print(platform.system(), platform.__file__)"


def run_from_repo_root(*argv: str) -> str:
    result = subprocess.run(
        argv, cwd=REPO, env=dict(os.environ), capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def assert_stdlib_platform(output: str) -> None:
    system, path = output.strip().splitlines()[-1].split(" ", 1)
    assert system == "Linux"
    assert Path(path).resolve().parent == STDLIB, f"platform came from {path}, not the standard library"


def test_platform_folder_is_not_a_package() -> None:
    assert (REPO / "platform").is_dir()
    assert not (REPO / "platform" / "__init__.py").exists()


def test_stdlib_platform_inside_pytest() -> None:
    import platform

    assert platform.system() == "Linux"
    assert Path(platform.__file__).resolve().parent == STDLIB


def test_stdlib_platform_in_python_started_from_repo_root() -> None:
    assert_stdlib_platform(run_from_repo_root(sys.executable, "-c", CHECK))


def test_stdlib_platform_in_manage_py() -> None:
    assert_stdlib_platform(run_from_repo_root(sys.executable, "manage.py", "shell", "-c", CHECK))


def test_stdlib_platform_in_celery() -> None:
    # `celery report` imports the app (and Django settings) and prints the platform's details.
    output = run_from_repo_root(sys.executable, "-m", "celery", "-A", "madoguchi", "report")
    assert "system:Linux" in output.replace(" ", "")
    assert_stdlib_platform(run_from_repo_root(sys.executable, "-c", "import madoguchi.celery; " + CHECK))


def test_project_packages_come_from_the_platform_folder() -> None:
    import console
    import madoguchi

    assert Path(madoguchi.__file__).resolve().parent == REPO / "platform" / "madoguchi"
    assert Path(console.__file__).resolve().parent == REPO / "platform" / "console"
