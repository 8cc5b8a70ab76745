"""Read a text trajectory file, turning OS and decoding errors into TrajectoryError."""

from __future__ import annotations

import os
from pathlib import Path

from solidion.errors import TrajectoryError


def read_lines(path: Path) -> list[str]:
    """All lines of a UTF-8 text file.

    Raises:
        TrajectoryError: Missing, unreadable or not text — naming the file.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TrajectoryError("no such file", path=path) from None
    except UnicodeDecodeError:
        raise TrajectoryError("not a text file (cannot decode it as UTF-8)", path=path) from None
    except OSError as exc:
        raise TrajectoryError(f"cannot read: {exc.strerror}", path=path) from None
    lines = text.splitlines()
    if lines and lines[-1].strip() and not text.endswith(("\n", "\r")):
        raise truncated_error(path)
    return lines


#: Why a text trajectory must end with a newline: a file cut inside its last number still
#: parses ("2.1117900" for "2.11179003..."), so the only sign of such a truncation is the
#: missing line end. Every MD program writes one.
def truncated_error(path: Path) -> TrajectoryError:
    """The error for a text file whose last line has no line end."""
    return TrajectoryError(
        "the file ends in the middle of a line (no newline after the last line), so its last "
        "frame may be cut short; if the file is complete, add a newline at its end",
        path=path,
    )


def ends_mid_line(path: Path) -> bool:
    """Whether a text file's last line is non-blank and has no line end (a truncated file).

    Reads only the tail of the file, so streaming readers can check before they start.
    """
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 4096))
        tail = fh.read()
    if not tail or tail.endswith((b"\n", b"\r")):
        return False
    return bool(tail.splitlines()[-1].strip())
