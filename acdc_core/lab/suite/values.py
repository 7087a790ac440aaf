"""Parameter values: a ``-p`` value's text read as JSON, and every value (from ``-p`` or from
params.yaml) checked against the type its notebook declares before papermill injects it."""
from __future__ import annotations

import ast
import json

from .errors import Refused, short

KINDS = {"int": int, "float": (int, float), "str": str, "bool": bool, "list": list, "dict": dict}


def _unique_keys(pairs: list) -> dict:
    keys = [key for key, _ in pairs]
    doubled = [key for key in keys if keys.count(key) > 1]
    if doubled:
        raise ValueError(f"key {doubled[0]!r} is given twice")
    return dict(pairs)


def from_text(notebook: str, name: str, spec: dict, text: str):
    """A -p value: its JSON, or the bare text for a str parameter where the text is not JSON."""
    _check_settable(notebook, name, spec)
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError:
        if spec["type"] == "str":
            return text
        raise Refused(f"{notebook}: {name}={text!r} does not parse as {spec['type']} (default: "
                      f"{spec['default']}); -p values are JSON, e.g. 3, 0.5, true, [1, 2], "
                      '{"a": 1}') from None
    except ValueError as error:  # a key given twice
        raise Refused(f"{notebook}: -p {name}={text!r}: {error}") from None


def _foreign(value) -> list:
    """The parts of ``value`` papermill would not inject as they are: anything but numbers,
    strings, booleans, None, lists and dicts with text keys."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return []
    if isinstance(value, list):
        return [bad for item in value for bad in _foreign(item)]
    if isinstance(value, dict):
        return ([key for key in value if not isinstance(key, str)]
                + [bad for item in value.values() for bad in _foreign(item)])
    return [value]


def _default_has_text_keys(spec: dict) -> bool:
    """False when the declared default is a dict literal with a key that is not text."""
    try:
        default = ast.literal_eval(spec["default"])
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return True  # not a literal: nothing to compare with
    return not isinstance(default, dict) or all(isinstance(key, str) for key in default)


def _check_settable(notebook: str, name: str, spec: dict) -> None:
    """Refuse a parameter whose declared type the suite cannot check or papermill cannot inject."""
    if spec["type"] not in KINDS:
        raise Refused(f"{notebook}: {name} is declared {spec['type']!r}; the suite sets only "
                      f"parameters declared {', '.join(KINDS)}")
    if spec["type"] == "dict" and not _default_has_text_keys(spec):
        raise Refused(f"{notebook}: {name} cannot be set: its default {spec['default']} has keys "
                      "that are not text, and papermill injects every key as text")


def checked(notebook: str, name: str, spec: dict, value, source: str):
    """``value`` (from -p or params.yaml) when it has the parameter's declared type exactly."""
    _check_settable(notebook, name, spec)
    kind, default = spec["type"], spec["default"]
    if not isinstance(value, KINDS[kind]) or (isinstance(value, bool) and kind != "bool"):
        hint = f"; quote text that reads as JSON, e.g. -p '{name}=\"3\"'" if kind == "str" else ""
        raise Refused(f"{notebook}: {name} must be {kind}, got {short(value)} "
                      f"({type(value).__name__}) from {source} (default: {default}){hint}")
    foreign = _foreign(value)
    if foreign:
        raise Refused(f"{notebook}: {name} from {source} holds {short(foreign[0])} "
                      f"({type(foreign[0]).__name__}); expected numbers, text, booleans, null, "
                      "lists and mappings with text keys")
    return float(value) if kind == "float" else value
