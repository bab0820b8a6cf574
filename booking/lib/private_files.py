"""Private output files: what the service writes onto an operator's disk (LETTERS.csv, notice letters) holds
residents' personal data and passwords, so it is readable by its owner only and never seen half written.

One writer for every such file: the bytes go to a temporary file beside the target (mode 0600 from
`mkstemp`), are flushed to the disk, and only then take the target's name. A crash, a full disk or a killed
process leaves the target as it was, never a truncated file someone might print.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO


def write_private(path: Path, chunks: Iterable[bytes], *, replace: bool) -> int:
    """Write the chunks to `path`, mode 0600, whole or not at all; the bytes written.

    Without `replace` an existing `path` is left alone (FileExistsError), even one that appeared while the
    chunks were being written: the finished file is linked into place, which fails rather than overwrites.
    With `replace` an existing file is replaced in one rename, and the new file is 0600 whatever the old
    one's mode was. OSError for anything else the file system refuses.
    """
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            written = sum(out.write(chunk) for chunk in chunks)
            out.flush()
            os.fsync(out.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)
            os.unlink(temporary)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return written


def read_chunks(source: IO[bytes], size: int = 64 * 1024) -> Iterator[bytes]:
    """A readable binary file as chunks of `size` bytes, for `write_private` (a stored file, copied out)."""
    while chunk := source.read(size):
        yield chunk
