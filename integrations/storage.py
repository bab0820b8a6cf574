"""Where finished exports are kept until staff download them (SO-16): S3-compatible storage or a local folder.

A tenant's full export is made by a Celery worker and downloaded later through the web process, so the
two must share the storage: in production that is an S3-compatible bucket (in Japan), reached through
boto3; on a developer's machine, when no bucket is configured, a folder.

Configuration, read from the environment each time ``export_storage()`` is called:

- ``EXPORT_S3_BUCKET``: the bucket. When set, exports go to S3; when unset, to the local folder.
- ``EXPORT_S3_PREFIX``: optional key prefix inside the bucket (e.g. ``madoguchi/``), for a shared bucket.
- ``EXPORT_S3_ENDPOINT_URL``: optional endpoint of an S3-compatible service (not AWS); path-style
  addressing is used with it, which every S3-compatible service supports.
- ``AWS_DEFAULT_REGION``: the bucket's region. Credentials come from boto3's default chain
  (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, a profile, or the instance/pod role): never from code.
- ``EXPORT_LOCAL_DIR``: the local folder when there is no bucket; default ``<repo>/.local/exports``.

Everything streams: ``save_stream`` takes an iterator of chunks (e.g. ``integrations.csv_export.iter_csv``
or ``zip_stream`` below) and neither backend holds the whole file in memory. The S3 upload is a multipart
upload fed straight from the iterator in the caller's own thread (``use_threads=False``): the chunks are
often made by database queries (the full export's CSVs), and a Django connection belongs to its thread and
its tenant's schema, so s3transfer's worker threads would read another connection, on the public schema.
It holds one part at a time, about ``S3_PART_SIZE`` bytes, whatever the file's size.
"""

from __future__ import annotations

import io
import mimetypes
import os
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Protocol, cast

from botocore.exceptions import ClientError

from integrations.csv_export import TOKYO, attachment_disposition

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_LOCAL_DIR = REPO_ROOT / ".local" / "exports"
CHUNK_BYTES = 64 * 1024
S3_PART_SIZE = 8 * 1024 * 1024
MAX_URL_SECONDS = 7 * 24 * 3600  # the longest a SigV4 presigned URL may live
MAX_KEY_LENGTH = 512


class ExportStorage(Protocol):
    """The few operations exports need. Keys are relative ``/`` paths such as ``kyoto/exports/x.zip``."""

    def save_stream(self, key: str, chunks: Iterable[bytes]) -> int:
        """Store the concatenated chunks under ``key`` (replacing any old file); return the bytes written."""
        ...

    def open(self, key: str) -> BinaryIO:
        """The stored file for reading; ``FileNotFoundError`` if there is none."""
        ...

    def delete(self, key: str) -> None:
        """Remove the file; a missing one is not an error (expiry jobs may race)."""
        ...

    def exists(self, key: str) -> bool: ...

    def files(self, folder: str) -> Iterator[tuple[str, int]]:
        """Every stored file under ``folder`` (a key prefix such as ``kyoto``): (key, bytes), for offboarding,
        which must find and destroy everything a municipality left."""
        ...

    def download_url(self, key: str, expires_seconds: int, filename: str) -> str | None:
        """A time-limited URL the browser can fetch directly, or None: the app must serve ``open(key)``."""
        ...


def check_key(key: str) -> PurePosixPath:
    """A key as a safe relative path: no absolute paths, ``..``, backslashes or empty parts.

    Keys are built from tenant names and timestamps, but a key that escaped its folder would let one
    municipality's export overwrite or expose another's, so every backend refuses it outright.
    """
    if not key or len(key) > MAX_KEY_LENGTH or "\\" in key or "\x00" in key:
        raise ValueError(f"Invalid export key: {key[:80]!r}")
    path = PurePosixPath(key)
    parts = key.split("/")
    if path.is_absolute() or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"Export key must be a relative path inside the export storage: {key[:80]!r}")
    return path


class LocalExportStorage:
    """Exports as files under ``root``: for development, and for a single-machine installation."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def path(self, key: str) -> Path:
        """The file for ``key``, guaranteed inside root (symlinks included)."""
        target = (self.root / check_key(key)).resolve()
        if not target.is_relative_to(self.root):
            raise ValueError(f"Export key escapes the export folder: {key[:80]!r}")
        return target

    def save_stream(self, key: str, chunks: Iterable[bytes]) -> int:
        """Written to a temporary file beside the target, then renamed: a half-written export never shows."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # mkstemp makes the file readable by its owner only: exports hold residents' personal data.
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as out:
                written = sum(out.write(chunk) for chunk in chunks)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return written

    def open(self, key: str) -> BinaryIO:
        return self.path(key).open("rb")

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def files(self, folder: str) -> Iterator[tuple[str, int]]:
        base = self.path(folder)
        if not base.is_dir():
            return
        for found in sorted(base.rglob("*")):
            # temporary ".part" files of an interrupted write count too: they hold the same data
            if found.is_file():
                yield found.relative_to(self.root).as_posix(), found.stat().st_size

    def download_url(self, key: str, expires_seconds: int, filename: str) -> str | None:
        """None: a folder has no URLs of its own, so an authenticated view streams ``open(key)`` instead."""
        check_expiry(expires_seconds)
        self.path(key)
        return None


class S3ExportStorage:
    """Exports as objects in an S3 (or S3-compatible) bucket, under an optional prefix."""

    def __init__(self, bucket: str, prefix: str, client: Any) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client

    def object_key(self, key: str) -> str:
        name = str(check_key(key))
        return f"{self.prefix}/{name}" if self.prefix else name

    def save_stream(self, key: str, chunks: Iterable[bytes]) -> int:
        """A multipart upload read straight from the iterator: no temporary file, memory bounded by parts."""
        from boto3.s3.transfer import TransferConfig

        reader = IterReader(chunks)
        config = TransferConfig(
            multipart_threshold=S3_PART_SIZE, multipart_chunksize=S3_PART_SIZE, use_threads=False
        )
        content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
        self.client.upload_fileobj(
            io.BufferedReader(reader, buffer_size=CHUNK_BYTES),
            self.bucket,
            self.object_key(key),
            ExtraArgs={"ContentType": content_type},
            Config=config,
        )
        return reader.bytes_read

    def open(self, key: str) -> BinaryIO:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as error:
            if _is_not_found(error):
                raise FileNotFoundError(key) from error
            raise
        # botocore's StreamingBody is an io.IOBase with read(): streamed from S3, not loaded.
        return cast(BinaryIO, response["Body"])

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))

    def files(self, folder: str) -> Iterator[tuple[str, int]]:
        base = self.object_key(folder) + "/"
        strip = len(self.prefix) + 1 if self.prefix else 0
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=base):
            for item in page.get("Contents", []):
                yield str(item["Key"])[strip:], int(item["Size"])

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as error:
            if _is_not_found(error):
                return False
            raise
        return True

    def download_url(self, key: str, expires_seconds: int, filename: str) -> str | None:
        """A presigned GET: the browser downloads from the bucket, named ``filename``, until it expires."""
        check_expiry(expires_seconds)
        url: str = self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self.object_key(key),
                "ResponseContentDisposition": attachment_disposition(filename),
            },
            ExpiresIn=expires_seconds,
        )
        return url


def check_expiry(expires_seconds: int) -> None:
    if not 0 < expires_seconds <= MAX_URL_SECONDS:
        raise ValueError(f"expires_seconds must be between 1 and {MAX_URL_SECONDS} (got {expires_seconds}).")


def _is_not_found(error: ClientError) -> bool:
    """A missing object: HEAD answers a bare 404, GET answers NoSuchKey."""
    return str(error.response.get("Error", {}).get("Code", "")) in {"404", "NoSuchKey", "NotFound"}


class IterReader(io.RawIOBase):
    """A read-only binary stream over an iterator of chunks, for APIs that want a file (boto3's uploads).

    Wrap it in ``io.BufferedReader`` where the caller expects full reads: s3transfer sizes multipart parts
    by what one ``read(n)`` returns, and S3 refuses parts under 5 MB other than the last.
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._pending = memoryview(b"")
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        self.bytes_read += size
        return size


def zip_stream(members: Iterable[tuple[str, Iterable[bytes]]]) -> Iterator[bytes]:
    """A ZIP archive of several streamed files, itself streamed: ``save_stream(key, zip_stream(...))``.

    Chosen over building the archive in a temporary file: nothing touches the disk (a worker pod's disk
    may be small) and the archive flows straight into the S3 multipart upload or an HTTP response.
    zipfile writes to a non-seekable stream with data descriptors, which the usual unzippers (Windows
    Explorer, 7-Zip, macOS, Info-ZIP) read. Members are deflated; one member over 4 GiB fails loudly
    (zipfile's ZIP64 limit without ``force_zip64``) rather than producing a broken archive. Member names
    should be ASCII: older Windows unzippers ignore ZIP's UTF-8 flag and garble Japanese names.
    """
    sink = _ChunkSink()
    stamp = datetime.now(TOKYO).timetuple()[:6]  # staff read these times in Japan time
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, chunks in members:
            info = zipfile.ZipInfo(check_member_name(name), date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w") as member:
                for chunk in chunks:
                    member.write(chunk)
                    if sink.size >= CHUNK_BYTES:
                        yield sink.take()
    if sink.size:
        yield sink.take()


def save_zip(storage: ExportStorage, key: str, members: Iterable[tuple[str, Iterable[bytes]]]) -> int:
    """Zip the members into storage under ``key``, streaming end to end; the archive's size in bytes."""
    return storage.save_stream(key, zip_stream(members))


def check_member_name(name: str) -> str:
    """Member names are relative paths too: an archive must not unpack outside its folder (zip slip)."""
    return str(check_key(name))


class _ChunkSink:
    """The write-only file zipfile writes to; ``zip_stream`` hands on what has piled up."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self.size += len(data)
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        self.size = 0
        return data

    def flush(self) -> None:
        """Nothing to flush: the data is handed on by ``take``."""

    def close(self) -> None:
        """Nothing to close; zipfile calls this when the archive is finished."""


def export_storage() -> ExportStorage:
    """The configured storage, from the environment as it is now (see the module docstring)."""
    bucket = _env("EXPORT_S3_BUCKET")
    if bucket:
        return S3ExportStorage(bucket, _env("EXPORT_S3_PREFIX"), _s3_client())
    local_dir = _env("EXPORT_LOCAL_DIR")
    return LocalExportStorage(Path(local_dir) if local_dir else DEFAULT_LOCAL_DIR)


def _env(name: str) -> str:
    """Like madoguchi.config.env_str, which is not imported: importing madoguchi starts the Celery app."""
    return os.environ.get(name, "").strip()


def _s3_client(endpoint_variable: str = "EXPORT_S3_ENDPOINT_URL") -> Any:
    import boto3
    from botocore.config import Config

    endpoint = _env(endpoint_variable) or None
    region = _env("AWS_DEFAULT_REGION") or None
    config = Config(
        signature_version="s3v4",
        retries={"mode": "standard"},
        s3={"addressing_style": "path"} if endpoint else {},
    )
    return boto3.client("s3", endpoint_url=endpoint, region_name=region, config=config)


class WriteOnceStore:
    """Objects nobody can change or delete until their retention ends: S3 Object Lock in compliance mode.

    For evidence that must outlive whoever holds the database (the operation log's checkpoints, SO-06).
    The bucket must have been created with Object Lock enabled (versioning comes with it); each object is
    put with ``COMPLIANCE`` retention, which not even the account's root user can shorten or lift, so a
    delete only adds a delete marker and the locked version stays readable through its version.
    """

    def __init__(self, bucket: str, prefix: str, client: Any, retain_days: int) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client
        self.retain_days = retain_days

    def object_key(self, key: str) -> str:
        name = str(check_key(key))
        return f"{self.prefix}/{name}" if self.prefix else name

    def put(self, key: str, body: bytes) -> None:
        retain_until = datetime.now(UTC) + timedelta(days=self.retain_days)
        self.client.put_object(
            Bucket=self.bucket,
            Key=self.object_key(key),
            Body=body,
            ContentType="application/json",
            ObjectLockMode="COMPLIANCE",
            ObjectLockRetainUntilDate=retain_until,
        )

    def keys(self, folder: str) -> Iterator[str]:
        """Every key under ``folder`` (relative to the prefix), deleted ones too: a delete marker hides an
        object from a plain listing, but its locked version is still there and still counts."""
        base = self.object_key(folder) + "/"
        seen: set[str] = set()
        paginator = self.client.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=base):
            for version in page.get("Versions", []):
                name = str(version["Key"])[len(base) :]
                if name not in seen:
                    seen.add(name)
                    yield name


def write_once_store() -> WriteOnceStore | None:
    """The configured write-once bucket, or None when there is none (then only the database keeps the
    checkpoints). ``OPLOG_CHECKPOINT_S3_BUCKET`` (created with Object Lock), ``OPLOG_CHECKPOINT_S3_PREFIX``,
    ``OPLOG_CHECKPOINT_S3_ENDPOINT_URL`` (else ``EXPORT_S3_ENDPOINT_URL``), ``OPLOG_CHECKPOINT_RETAIN_DAYS``
    (default 400: longer than the operation log's default retention of 366 days)."""
    bucket = _env("OPLOG_CHECKPOINT_S3_BUCKET")
    if not bucket:
        return None
    endpoint_variable = (
        "OPLOG_CHECKPOINT_S3_ENDPOINT_URL"
        if _env("OPLOG_CHECKPOINT_S3_ENDPOINT_URL")
        else "EXPORT_S3_ENDPOINT_URL"
    )
    days = int(_env("OPLOG_CHECKPOINT_RETAIN_DAYS") or "400")
    return WriteOnceStore(bucket, _env("OPLOG_CHECKPOINT_S3_PREFIX"), _s3_client(endpoint_variable), days)
