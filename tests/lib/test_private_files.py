"""Private output files (booking.lib.private_files): owner-only, whole or not at all, never overwritten
unless asked."""

from __future__ import annotations

import io
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from booking.lib.private_files import read_chunks, write_private


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    target = tmp_path / "LETTERS.csv"
    assert write_private(target, [b"a,b\r\n", b"1,2\r\n"], replace=False) == 10
    assert target.read_bytes() == b"a,b\r\n1,2\r\n" and mode(target) == 0o600
    assert [path.name for path in tmp_path.iterdir()] == ["LETTERS.csv"]  # no temporary file left


def test_an_existing_file_is_kept_unless_replacing_is_asked_for(tmp_path: Path) -> None:
    target = tmp_path / "letters.pdf"
    target.write_bytes(b"the printed run")
    target.chmod(0o644)
    with pytest.raises(FileExistsError):
        write_private(target, [b"new"], replace=False)
    assert target.read_bytes() == b"the printed run"
    write_private(target, [b"new"], replace=True)
    assert target.read_bytes() == b"new" and mode(target) == 0o600
    assert [path.name for path in tmp_path.iterdir()] == ["letters.pdf"]


def test_a_failure_midway_leaves_the_target_as_it_was(tmp_path: Path) -> None:
    target = tmp_path / "vendor.csv"
    target.write_bytes(b"old")

    def broken() -> Iterator[bytes]:
        yield b"half"
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_private(target, broken(), replace=True)
    assert target.read_bytes() == b"old"
    assert [path.name for path in tmp_path.iterdir()] == ["vendor.csv"]


def test_a_missing_folder_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        write_private(tmp_path / "nowhere" / "x.csv", [b"x"], replace=False)


def test_a_stored_file_is_copied_in_chunks() -> None:
    assert list(read_chunks(io.BytesIO(b"abcdefg"), 3)) == [b"abc", b"def", b"g"]
