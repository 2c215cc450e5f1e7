"""The one error type for bad user input (suite files, names, checkpoints, results files).

The CLI turns a :class:`UserInputError` into a single line on stderr and exit code 2; anything
else is a bug or a system failure and keeps its traceback.
"""

from __future__ import annotations


class UserInputError(Exception):
    """Bad input from the user: names the file (if any), the key (if any) and what is allowed."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None):
        self.file = file
        self.key = key
        self.detail = message
        where = ": ".join(part for part in (file, key) if part)
        super().__init__(f"{where}: {message}" if where else message)
