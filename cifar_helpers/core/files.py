"""Writing files safely: atomically (a reader never sees half a file), with one clear line on failure."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_write(path: str | os.PathLike, what: str = "file") -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path`` for writing (binary); on success, rename it to ``path``.

    os.replace is atomic on POSIX and Windows, so a reader sees the old file or the new one, never
    half of one, even if the process is killed mid-write. When writing fails (a full disk, a
    read-only folder) the old file stays as it was and the error is one line naming ``path``.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _open_temporary(tmp) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as error:
        if isinstance(error, RuntimeError) and "inline_container" not in str(error):
            raise  # not a failed write (torch's zip writer reports those as RuntimeError)
        reason = getattr(error, "strerror", None) or str(error).splitlines()[0]
        raise OSError(f"could not write the {what} {path} ({reason}): free some disk space or choose "
                      "another folder; any earlier file there is unchanged.") from error
    finally:
        tmp.unlink(missing_ok=True)


def _open_temporary(tmp: Path) -> BinaryIO:
    """Opened through this function so that tests can make the disk 'full' (open /dev/full instead)."""
    return open(tmp, "wb")
