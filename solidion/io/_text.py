"""Read a text trajectory file, turning OS and decoding errors into TrajectoryError."""

from __future__ import annotations

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
    return text.splitlines()
