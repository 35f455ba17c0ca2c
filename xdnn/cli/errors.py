"""What the command line reports as the user's error: ``InputError`` (one line on stderr, exit code 2),
and the helpers that phrase a message as that one line."""

from __future__ import annotations


class InputError(Exception):
    """A problem with what the user asked for: reported in one line with exit code 2."""


def reason(error: OSError) -> str:
    """An ``OSError`` without its ``[Errno N]`` prefix and file name (the caller names the path)."""
    return error.strerror.lower() if error.strerror else str(error)


def one_line(text: str) -> str:
    """``text`` with its runs of white space (new lines included) made single spaces."""
    return " ".join(text.split())
