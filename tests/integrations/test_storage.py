"""Export storage (SO-16): the local folder, zips of CSV streams, and S3 against a real S3-compatible server.

The S3 tests start moto's standalone server (``moto[server]``, an HTTP S3-compatible endpoint) on a free
loopback port and talk to it through boto3 exactly as production talks to the bucket; they are skipped
when moto is not installed.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import random
import socket
import stat
import subprocess
import sys
import time
import tracemalloc
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from integrations.csv_export import iter_csv
from integrations.storage import (
    DEFAULT_LOCAL_DIR,
    LocalExportStorage,
    S3ExportStorage,
    export_storage,
    save_zip,
    zip_stream,
)

BUCKET = "madoguchi-exports"
REGION = "ap-northeast-1"
MB = 1024 * 1024
ESCAPING_KEYS = [
    "../x.zip",
    "/etc/passwd",
    "kyoto/../../x.zip",
    "kyoto\\..\\x.zip",
    "",
    "a//b.zip",
    "./a.zip",
]


def fresh_chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """New bytes objects every time (a storage that kept them would show in the memory peak)."""
    for i in range(total // size):
        yield i.to_bytes(4, "big") * (size // 4)


def noise_chunks(total: int, seed: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """Incompressible but repeatable data: deflate cannot shrink it to one chunk."""
    generator = random.Random(seed)
    for _ in range(total // size):
        yield generator.randbytes(size)


def bookings_csv(count: int) -> Iterator[bytes]:
    rows = ((i, f"京都 太郎{i}", "=1+1", None) for i in range(count))
    return iter_csv(["id", "氏名", "メモ", "備考"], rows, "utf-8-sig")


def peak_memory_of(work: Any) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        result = work()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --- local folder ---


def test_local_round_trip(tmp_path: Path) -> None:
    storage = LocalExportStorage(tmp_path)
    key = "kyoto/exports/2026-11-24T10-00-00.zip"
    assert not storage.exists(key)
    assert storage.save_stream(key, [b"abc", b"", b"def"]) == 6
    assert storage.exists(key)
    with storage.open(key) as stored:
        assert stored.read() == b"abcdef"
    assert (tmp_path / key).read_bytes() == b"abcdef"
    assert storage.download_url(key, 600, "全件.zip") is None  # the app serves it itself
    storage.save_stream(key, [b"new"])
    assert storage.open(key).read() == b"new"
    storage.delete(key)
    storage.delete(key)  # already gone: not an error
    assert not storage.exists(key)
    with pytest.raises(FileNotFoundError):
        storage.open(key)


def test_local_files_are_private_and_never_half_written(tmp_path: Path) -> None:
    storage = LocalExportStorage(tmp_path)
    storage.save_stream("kyoto/a.csv", [b"a"])
    assert stat.S_IMODE((tmp_path / "kyoto/a.csv").stat().st_mode) == 0o600

    def broken() -> Iterator[bytes]:
        yield b"partial"
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        storage.save_stream("kyoto/b.csv", broken())
    assert not storage.exists("kyoto/b.csv")
    assert sorted(p.name for p in (tmp_path / "kyoto").iterdir()) == ["a.csv"]  # no temporary left


@pytest.mark.parametrize("key", ESCAPING_KEYS)
def test_local_keys_cannot_escape_the_folder(tmp_path: Path, key: str) -> None:
    storage = LocalExportStorage(tmp_path / "exports")
    with pytest.raises(ValueError):
        storage.save_stream(key, [b"x"])
    with pytest.raises(ValueError):
        storage.open(key)
    assert list(tmp_path.iterdir()) == []


def test_local_keys_cannot_escape_through_a_symlink(tmp_path: Path) -> None:
    root = tmp_path / "exports"
    root.mkdir()
    (root / "kyoto").symlink_to(tmp_path)
    with pytest.raises(ValueError):
        LocalExportStorage(root).save_stream("kyoto/x.zip", [b"x"])


def test_local_streaming_save_of_a_large_iterator(tmp_path: Path) -> None:
    storage = LocalExportStorage(tmp_path)
    written, peak = peak_memory_of(lambda: storage.save_stream("kyoto/big.bin", fresh_chunks(64 * MB)))
    assert written == 64 * MB == (tmp_path / "kyoto/big.bin").stat().st_size
    assert peak < 2 * MB


# --- zips of CSV streams ---


def test_zip_of_two_csv_streams_is_readable_and_identical(tmp_path: Path) -> None:
    storage = LocalExportStorage(tmp_path)
    size = save_zip(
        storage, "kyoto/all.zip", [("bookings.csv", bookings_csv(3000)), ("slots.csv", bookings_csv(5))]
    )
    assert size == (tmp_path / "kyoto/all.zip").stat().st_size
    with zipfile.ZipFile(storage.open("kyoto/all.zip")) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == ["bookings.csv", "slots.csv"]
        assert archive.read("bookings.csv") == b"".join(bookings_csv(3000))
        assert archive.read("slots.csv") == b"".join(bookings_csv(5))
        assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in archive.infolist())


def test_zip_streams_in_chunks_and_flat_memory(tmp_path: Path) -> None:
    chunks = list(
        zip_stream([("a.bin", noise_chunks(2 * MB, seed=1)), ("b.bin", noise_chunks(2 * MB, seed=2))])
    )
    assert len(chunks) > 40
    with zipfile.ZipFile(io.BytesIO(b"".join(chunks))) as archive:
        assert archive.read("b.bin") == b"".join(noise_chunks(2 * MB, seed=2))

    storage = LocalExportStorage(tmp_path)
    members = [("bookings.csv", bookings_csv(200_000)), ("noise.bin", noise_chunks(32 * MB, seed=3))]
    size, peak = peak_memory_of(lambda: save_zip(storage, "kyoto/all.zip", members))
    assert size > 32 * MB
    assert peak < 4 * MB


@pytest.mark.parametrize("name", ["../evil.csv", "/etc/cron.d/x", "a/../../b.csv"])
def test_zip_member_names_cannot_escape_on_unpacking(name: str) -> None:
    with pytest.raises(ValueError):
        list(zip_stream([(name, [b"x"])]))


# --- configuration ---


def test_local_storage_is_the_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("EXPORT_S3_BUCKET", "EXPORT_LOCAL_DIR"):
        monkeypatch.delenv(name, raising=False)
    storage = export_storage()
    assert isinstance(storage, LocalExportStorage)
    assert (
        storage.root
        == DEFAULT_LOCAL_DIR.resolve()
        == (Path(__file__).parents[2] / ".local/exports").resolve()
    )

    monkeypatch.setenv("EXPORT_LOCAL_DIR", str(tmp_path))
    storage = export_storage()  # read at call time, not at import
    assert isinstance(storage, LocalExportStorage)
    assert storage.root == tmp_path.resolve()


# --- S3, against moto's S3-compatible server ---


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"moto_server did not listen on port {port} within {seconds} s")


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A real HTTP S3-compatible server on a free loopback port, for this module's tests."""
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("flask") is None:
        pytest.skip("moto[server] is not installed (pip install 'moto[server]'): no S3-compatible server")
    port = _free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The environment production sets, pointing at the local server; credentials are moto's dummies."""
    monkeypatch.setenv("EXPORT_S3_BUCKET", BUCKET)
    monkeypatch.setenv("EXPORT_S3_PREFIX", "/madoguchi/")
    monkeypatch.setenv("EXPORT_S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return s3_endpoint


@pytest.fixture
def s3(s3_env: str) -> S3ExportStorage:
    storage = export_storage()
    assert isinstance(storage, S3ExportStorage)
    with contextlib.suppress(storage.client.exceptions.BucketAlreadyOwnedByYou):
        storage.client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return storage


def test_s3_round_trip_under_the_prefix(s3: S3ExportStorage) -> None:
    key = "kyoto/exports/2026-11-24T10-00-00.zip"
    assert not s3.exists(key)
    assert s3.save_stream(key, [b"abc", b"def"]) == 6
    assert s3.exists(key)
    head = s3.client.head_object(Bucket=BUCKET, Key=f"madoguchi/{key}")
    assert head["ContentLength"] == 6
    assert head["ContentType"] == "application/zip"
    with s3.open(key) as stored:
        assert stored.read() == b"abcdef"
    s3.delete(key)
    s3.delete(key)
    assert not s3.exists(key)
    with pytest.raises(FileNotFoundError):
        s3.open(key)


def test_s3_large_stream_goes_up_as_a_multipart_upload(s3: S3ExportStorage) -> None:
    assert s3.save_stream("kyoto/big.bin", fresh_chunks(20 * MB)) == 20 * MB
    head = s3.client.head_object(Bucket=BUCKET, Key="madoguchi/kyoto/big.bin")
    assert head["ContentLength"] == 20 * MB
    assert head["ETag"].strip('"').endswith("-3")  # three 8 MB parts: streamed, not one PUT of everything
    with s3.open("kyoto/big.bin") as stored:
        assert stored.read() == b"".join(fresh_chunks(20 * MB))


def test_s3_empty_stream_is_an_empty_object(s3: S3ExportStorage) -> None:
    assert s3.save_stream("kyoto/empty.csv", []) == 0
    assert s3.open("kyoto/empty.csv").read() == b""


def test_s3_zip_of_csv_streams(s3: S3ExportStorage) -> None:
    save_zip(s3, "kyoto/all.zip", [("bookings.csv", bookings_csv(50_000)), ("slots.csv", bookings_csv(3))])
    with zipfile.ZipFile(io.BytesIO(s3.open("kyoto/all.zip").read())) as archive:
        assert archive.read("bookings.csv") == b"".join(bookings_csv(50_000))
        assert archive.read("slots.csv") == b"".join(bookings_csv(3))


def test_s3_presigned_download_names_the_file_and_expires(s3: S3ExportStorage) -> None:
    s3.save_stream("kyoto/all.zip", [b"PK-data"])
    url = s3.download_url("kyoto/all.zip", 300, "京都市_全件_2026-11-24.zip")
    assert url is not None
    assert "X-Amz-Expires=300" in url
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - a URL we just made, to loopback
        assert response.read() == b"PK-data"
        disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="2026-11-24.zip"; ')
    assert unquote(disposition.split("''", 1)[1]) == "京都市_全件_2026-11-24.zip"
    for bad in (0, -1, 8 * 24 * 3600):
        with pytest.raises(ValueError):
            s3.download_url("kyoto/all.zip", bad, "x.zip")


@pytest.mark.parametrize("key", ESCAPING_KEYS)
def test_s3_keys_are_checked_too(s3: S3ExportStorage, key: str) -> None:
    with pytest.raises(ValueError):
        s3.save_stream(key, [b"x"])


def test_s3_configuration_is_read_at_call_time(s3_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = export_storage()
    assert isinstance(storage, S3ExportStorage)
    assert (storage.bucket, storage.prefix) == (BUCKET, "madoguchi")
    assert storage.client.meta.endpoint_url == s3_env
    assert storage.client.meta.region_name == REGION
    monkeypatch.delenv("EXPORT_S3_BUCKET")
    assert isinstance(export_storage(), LocalExportStorage)
    assert os.environ.get("EXPORT_S3_ENDPOINT_URL") == s3_env
