"""The two ways data can fail: a file that is damaged, and a data set that is nowhere to be found.

Both print as one line that says what is wrong and, where there is one, the fix.
"""

from __future__ import annotations

from pathlib import Path

# The remedy for a missing data set: the three ways to get it. One line, so the CLI prints it whole.
NOT_FOUND = (
    "Fashion-MNIST was not found{where}{reason}. Get it in one of three ways: "
    "download it with `droplab data fetch`; "
    "install the system copy with `sudo apt-get install dataset-fashion-mnist`; "
    "or use a copy you have with `--data-dir DIR` (or DROPLAB_DATA=DIR)."
)

# The remedy for a damaged local file, unless the raiser knows a better one.
DAMAGED_REMEDY = ("move the file away and run `droplab data fetch` to get a good copy, or point "
                  "`--data-dir` (or DROPLAB_DATA) at one")


def one_line(text: object) -> str:
    """``text`` with every run of whitespace (newlines included) collapsed to one space."""
    return " ".join(str(text).split())


class DataError(RuntimeError):
    """A data file is unusable: truncated, corrupt, of the wrong size, magic number or checksum.

    The message names the file and what is wrong with it; the file is never used, and never deleted.

    Attributes:
        path: the file (or URL) at fault, or ``None``.
        problem: what is wrong, e.g. ``"bad magic number 0x00000801, expected 0x00000803"``.
    """

    def __init__(self, path: Path | str | None, problem: str, remedy: str = "") -> None:
        self.path = path
        self.problem = one_line(problem)
        if not remedy and path is not None and "://" not in str(path):
            remedy = DAMAGED_REMEDY
        self.remedy = remedy
        text = self.problem if path is None else f"{path}: {self.problem}"
        super().__init__(f"{text}; {remedy}" if remedy else text)

    def __reduce__(self) -> tuple[object, ...]:
        # Rebuild from the constructor's arguments, so the error survives pickling (worker processes).
        return (type(self), (self.path, self.problem, self.remedy))


class DownloadError(DataError):
    """Every mirror failed, after retries; the message lists the last error from each."""

    def __init__(self, name: str, errors: list[str]) -> None:
        self.name, self.errors = name, list(errors)
        super().__init__(None, f"could not download {name}: " + "; ".join(errors))

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.name, self.errors))


class DataNotFoundError(DataError, FileNotFoundError):
    """The data set is in none of the places droplab looks and could not be downloaded.

    Also a :class:`FileNotFoundError`, so code that caught that from the first ``load`` still works.
    """

    def __init__(self, where: str = "", reason: str = "") -> None:
        self.where = where
        self.reason = one_line(reason)
        message = NOT_FOUND.format(
            where=f" in {where}" if where else "",
            reason=f"; {self.reason}" if self.reason else "",
        )
        RuntimeError.__init__(self, message)
        self.path, self.problem, self.remedy = None, message, ""

    def __str__(self) -> str:
        return str(self.args[0])

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.where, self.reason))


__all__ = ["DAMAGED_REMEDY", "NOT_FOUND", "DataError", "DataNotFoundError", "DownloadError", "one_line"]
