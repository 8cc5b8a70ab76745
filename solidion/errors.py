"""The exceptions solidion raises for user mistakes and unusable data.

Every user-facing error derives from :class:`SolidionError`, so the CLI can catch one type,
print its message on one line and exit with status 2. Each also derives from ``ValueError``
where the mistake is a bad value, so generic callers that catch ``ValueError`` keep working.
"""

from __future__ import annotations


class SolidionError(Exception):
    """Base class of every error solidion raises on purpose."""


class InputError(SolidionError, ValueError):
    """A bad argument: unknown species, non-positive temperature, inconsistent options."""


class TrajectoryError(SolidionError, ValueError):
    """A trajectory that cannot be read or is physically unusable.

    The message names the file (when there is one) and the frame where the problem is.
    """

    def __init__(self, message: str, *, path: object | None = None, frame: int | None = None):
        where = []
        if path is not None:
            where.append(f"{path}")
        if frame is not None:
            where.append(f"frame {frame}")
        full = f"{': '.join([', '.join(where), message]) if where else message}"
        super().__init__(full)
        self.path = path
        self.frame = frame


class FormatError(TrajectoryError):
    """An unknown or undetectable file format."""


class AnalysisError(SolidionError, ValueError):
    """An analysis that cannot give a meaningful number from the data it was given."""


class MDError(SolidionError, RuntimeError):
    """An MD run stopped by a guard (atoms too close, temperature runaway, NaN, volume drift).

    Everything written before the stop is kept: the trajectory up to the last frame, the run
    record (status ``"failed"`` with the reason) and the offending configuration.
    """


class RunInterrupted(SolidionError, RuntimeError):
    """An MD run stopped by a signal after writing a checkpoint; ``resume`` continues it."""


class ReactionBalanceError(InputError):
    """A defect reaction (Kröger–Vink) that does not conserve sites, mass or charge.

    The message names the balance that fails (``site``, ``mass`` or ``charge``) and the two sides.
    """

    def __init__(self, message: str, *, balance: str):
        super().__init__(message)
        self.balance = balance
