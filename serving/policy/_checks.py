"""Problems as one line each, and the field checks shared by loading and the engine.

Every problem reads ``<source>: <key path>: <what is wrong>; expected <allowed>;
got <given>``; the helpers here add such lines and return ``None`` (or
:data:`_MISSING`) for a field they refused, so that loading reports every
problem at once.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from upseg.errors import UpsegError

__all__ = ["NumberRange", "ProblemsError"]

_MISSING = object()


class ProblemsError(UpsegError, ValueError):
    """A YAML file (a policy, trigger rules) that cannot be used, with every problem found.

    ``problems`` holds one line per problem; subclasses name what the file is
    (:attr:`what`).
    """

    what = "file"

    def __init__(self, problems: Sequence[str] | str, source: str | None = None) -> None:
        self.problems = (problems,) if isinstance(problems, str) else tuple(problems)
        self.source = source
        n = len(self.problems)
        head = "1 problem" if n == 1 else f"{n} problems"
        where = f" {source}" if source else ""
        super().__init__(
            f"{head} in {self.what}{where}:\n" + "\n".join(f"  - {p}" for p in self.problems)
        )

    def __reduce__(self) -> tuple:
        return (type(self), (self.problems, self.source))


class _Problems:
    """Collects problems as ``<source>: <path>: <what>; expected <allowed>; got <given>``."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: list[str] = []

    def add(self, path: str, what: str, expected: str, got: Any) -> None:
        self.lines.append(f"{self.source}: {path}: {what}; expected {expected}; got {_show(got)}")


def _show(value: Any) -> str:
    """A value as the user wrote it in YAML, shortened."""
    if value is _MISSING:
        return "nothing"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return repr(value)
    kinds: dict[type, str] = {dict: "mapping", list: "list"}
    kind = kinds.get(type(value), type(value).__name__)
    text = repr(value)
    return f"a {kind} {text[:57] + '...' if len(text) > 60 else text}"


def _one_of(options: Iterable[str]) -> str:
    """``one of a, b, c``."""
    return "one of " + ", ".join(options)


def _suggest(word: Any, options: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for a close option, else ``""``."""
    close = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _mapping(node: Any, path: str, keys: Sequence[str], p: _Problems, what: str) -> dict | None:
    """``node`` if it is a mapping (unknown keys reported), else None after a problem."""
    if node is _MISSING:
        p.add(path, "missing", f"a mapping with keys {', '.join(keys)}", _MISSING)
        return None
    if not isinstance(node, dict):
        p.add(path, f"wrong type for {what}", f"a mapping with keys {', '.join(keys)}", node)
        return None
    for key in node:
        if key not in keys:
            p.add(
                path,
                f"unknown key {str(key)!r}{_suggest(key, keys)}",
                _one_of(keys),
                key,
            )
    return node


@dataclass(frozen=True)
class NumberRange:
    """An interval of allowed numbers that says itself in words: ``a number in [0, 1)``."""

    lo: float
    hi: float
    lo_open: bool = False
    hi_open: bool = False

    def __str__(self) -> str:
        if math.isinf(self.hi):
            return f"a number {'>' if self.lo_open else '>='} {_num(self.lo)}"
        left, right = "(" if self.lo_open else "[", ")" if self.hi_open else "]"
        return f"a number in {left}{_num(self.lo)}, {_num(self.hi)}{right}"

    def __contains__(self, x: float) -> bool:
        above = x > self.lo if self.lo_open else x >= self.lo
        below = x < self.hi if self.hi_open else x <= self.hi
        return above and below


def _num(x: float) -> str:
    """``1`` for 1.0, ``0.25`` for 0.25: a bound as the user would write it."""
    return str(int(x)) if float(x).is_integer() else str(x)


def _is_number(value: Any) -> bool:
    """An int or float, but not a bool (YAML's true is not a number here)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(
    section: dict, key: str, path: str, rng: NumberRange, p: _Problems, *, or_null: bool = False
) -> float | None:
    """``section[key]`` if a number in ``rng`` (or null when allowed), else None after a problem."""
    value = section.get(key, _MISSING)
    expected = f"{rng}, or null for no limit" if or_null else str(rng)
    if value is _MISSING:
        p.add(path, "missing", expected, value)
    elif not _is_number(value) or math.isnan(value):
        p.add(path, "wrong type", expected, value)
    elif value not in rng:
        p.add(path, "out of range", expected, value)
    else:
        return float(value)
    return None


def _integer(
    section: dict, key: str, path: str, minimum: int, p: _Problems, *, or_null: bool = False
) -> int | None:
    """``section[key]`` if an integer >= ``minimum``, else None after a problem."""
    value = section.get(key, _MISSING)
    expected = f"an integer >= {minimum}" + (", or null for no limit" if or_null else "")
    if value is _MISSING:
        p.add(path, "missing", expected, value)
    elif not isinstance(value, int) or isinstance(value, bool):
        p.add(path, "wrong type", expected, value)
    elif value < minimum:
        p.add(path, "out of range", expected, value)
    else:
        return value
    return None


def _string(section: dict, key: str, path: str, p: _Problems, expected: str) -> str | None:
    """``section[key]`` if a non-empty string, else None after a problem."""
    value = section.get(key, _MISSING)
    if value is _MISSING:
        p.add(path, "missing", expected, value)
    elif not isinstance(value, str) or not value.strip():
        p.add(path, "wrong type" if not isinstance(value, str) else "empty", expected, value)
    else:
        return value
    return None


def _choice(
    section: dict,
    key: str,
    path: str,
    options: Sequence[str],
    p: _Problems,
    *,
    what: str = "unknown value",
) -> str | None:
    """``section[key]`` if one of ``options``, else None after a problem (with a suggestion)."""
    value = section.get(key, _MISSING)
    if value is _MISSING:
        p.add(path, "missing", _one_of(options), value)
    elif value not in options:
        p.add(path, f"{what}{_suggest(value, options)}", _one_of(options), value)
    else:
        return value
    return None
