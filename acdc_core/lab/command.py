"""What the training command lines share: argument types that refuse bad values in one line
(argparse prints the message and exits with status 2), never a traceback."""
from __future__ import annotations

import argparse
from typing import Callable, Iterable


def run_spec(recipes: Iterable[str]) -> Callable[[str], tuple[str, int]]:
    """The type of a ``RECIPE[:SEED]`` argument: ``(recipe, seed)``, seed 0 when not given."""
    known = tuple(recipes)

    def parse(text: str) -> tuple[str, int]:
        name, separator, seed = text.partition(":")
        if name not in known:
            raise argparse.ArgumentTypeError(f"unknown recipe {name!r} in {text!r}; valid recipes: "
                                             f"{', '.join(known)}")
        if separator and not (seed.isascii() and seed.isdigit()):
            raise argparse.ArgumentTypeError(f"the seed in {text!r} must be a non-negative integer, "
                                             f"got {seed!r}")
        return name, int(seed) if separator else 0
    parse.__name__ = "RECIPE[:SEED]"
    return parse


def count(least: int) -> Callable[[str], int]:
    """The type of an integer argument of at least ``least``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < least:
            raise argparse.ArgumentTypeError(f"expected an integer of at least {least}, got {text!r}")
        return value
    parse.__name__ = f"integer >= {least}"
    return parse
