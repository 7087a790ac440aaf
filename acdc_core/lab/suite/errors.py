"""Refusals: a request the suite will not start, said in one line."""


class Refused(Exception):
    """A request the suite will not start: the message says what is allowed."""


def first_line(error: Exception) -> str:
    """The first line of an error's message (its type's name when it has none)."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def short(value) -> str:
    """``repr(value)``, cut to 80 characters for a one-line message."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
