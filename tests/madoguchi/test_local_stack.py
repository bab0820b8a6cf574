"""`make run` (infra/local/stack.py, issue 14 §6): both demo municipalities' staff logins in the banner, and
no banner for a web server that is not ours: a second `make run`, or another server on the port, fails
clearly and non-zero before it."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stack() -> ModuleType:
    spec = importlib.util.spec_from_file_location("local_stack", REPO / "infra" / "local" / "stack.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child(code: str) -> subprocess.Popen[bytes]:
    """A stand-in for the web server, in a process group of its own as stack.start_process makes it."""
    return subprocess.Popen([sys.executable, "-c", code], start_new_session=True)


def test_the_banner_gives_every_demo_municipality_its_administrator(stack: ModuleType) -> None:
    text = stack.banner(
        "localhost",
        8000,
        {"kyoto": ("admin", "Aa1!kyoto-secret"), "mihon": ("admin", "Aa1!mihon-secret")},
        ("operator", "console-secret"),
        Path("/repo/.local/console-totp.txt"),
    )
    assert "http://kyoto.localhost:8000/staff/   (login: admin / Aa1!kyoto-secret)" in text
    assert "http://mihon.localhost:8000/staff/   (login: admin / Aa1!mihon-secret)" in text
    assert "http://localhost:8000/   (login: operator / console-secret" in text
    assert "/repo/.local/console-totp.txt" in text and "Madoguchi is running" in text


def test_a_second_run_in_the_same_checkout_is_refused(
    stack: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack, "STATE", tmp_path)
    first = stack.acquire_run_lock(8000)
    try:
        with pytest.raises(SystemExit, match=r"another `make run` is already running .*port 8000"):
            stack.acquire_run_lock(8000)
    finally:
        first.close()
    stack.acquire_run_lock(8000).close()  # free again once the first has ended


def test_our_own_web_server_listening_is_ready(stack: ModuleType) -> None:
    port = free_port()
    web = child(
        f"import socket,time; s=socket.socket(); s.bind(('127.0.0.1',{port})); s.listen(); time.sleep(30)"
    )
    try:
        stack.wait_for_web(web, port, timeout=20)
        assert stack.port_held_by_group(port, web.pid) is True
    finally:
        web.kill()
        web.wait()


def test_a_port_held_by_someone_else_is_refused_before_any_banner(stack: ModuleType) -> None:
    other = socket.socket()
    other.bind(("127.0.0.1", 0))
    other.listen()
    port = int(other.getsockname()[1])
    web = child("import time; time.sleep(30)")  # ours, not (yet) listening: it would fail to bind
    try:
        with pytest.raises(SystemExit, match=f"port {port} is in use: is another make run running"):
            stack.wait_for_web(web, port, timeout=20)
    finally:
        web.kill()
        web.wait()
        other.close()


def test_a_web_server_that_stops_before_it_listens_is_a_failure(stack: ModuleType) -> None:
    web = child("raise SystemExit(3)")
    with pytest.raises(SystemExit, match=r"stopped \(exit code 3\)"):
        stack.wait_for_web(web, free_port(), timeout=20)
