"""Pydantic's validation errors in the configuration's words.

Each error becomes one line naming the dotted key, what the key allows (read
from the schema's field types: ``an integer >= 0``, ``one of a, b``) and what
was given; an unknown key gets the allowed ones and the closest spelling.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from upseg.pipelines.config.schema import _SECRET_WORDS, UpsegConfig, _KeyedError

__all__ = ["dotted_key", "problem_of", "secret_keys", "shown"]


def dotted_key(loc: tuple) -> str:
    """``("models", "uplift", "approaches", 0)`` as ``models.uplift.approaches[0]``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".") or "(top level)"


def shown(value: Any) -> str:
    """``value`` as the YAML reader wrote it; containers by kind, never by content."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list" if value else "an empty list"
    return repr(value)


def secret_keys(node: Any, loc: tuple = ()) -> list[tuple]:
    """The locations of keys anywhere in ``node`` whose names mark a credential."""
    found = []
    if isinstance(node, Mapping):
        for key, value in node.items():
            name = str(key).lower().replace("-", "_")
            if any(word in name for word in _SECRET_WORDS):
                found.append((*loc, key))
            else:
                found.extend(secret_keys(value, (*loc, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(secret_keys(value, (*loc, i)))
    return found


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The section model whose keys live at ``loc``, if ``loc`` names one."""
    model: type[BaseModel] | None = UpsegConfig
    for part in loc:
        if isinstance(part, int):
            continue
        if model is None or part not in model.model_fields:
            return None
        inner = [a for a in _members(model.model_fields[part].annotation) if _is_model(a)]
        model = inner[0] if inner else None
    return model


def _field_at(loc: tuple) -> FieldInfo | None:
    """The field of the key at ``loc`` (list indices skipped), if there is one."""
    keys = tuple(p for p in loc if not isinstance(p, int))
    parent = _model_at(keys[:-1]) if keys else None
    return parent.model_fields.get(keys[-1]) if parent else None


def _is_model(annotation: Any) -> bool:
    """Whether ``annotation`` is a section (a pydantic model class)."""
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _members(annotation: Any) -> tuple:
    """The alternatives of ``X | None`` (or just ``X``)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def _expected(annotation: Any, metadata: list, *, item: bool = False) -> str:
    """What a key of this type accepts, in words: ``an integer >= 0``, ``one of a, b``."""
    members = [a for a in _members(annotation) if a is not type(None)]
    nullable = len(members) < len(_members(annotation))
    tp = members[0]
    if typing.get_origin(tp) is Annotated:
        tp, *extra = typing.get_args(tp)
        for m in extra:
            metadata = [*metadata, *(m.metadata if isinstance(m, FieldInfo) else [m])]
    if item and typing.get_origin(tp) is tuple:
        return _expected(typing.get_args(tp)[0], [])
    bounds = []
    for m in metadata:
        for kind, symbol in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            value = getattr(m, kind, None)
            if value is not None:
                bounds.append(f"{symbol} {value}")
    if typing.get_origin(tp) is Literal:
        words = "one of " + ", ".join(str(a) for a in typing.get_args(tp))
    elif typing.get_origin(tp) is tuple:
        choices = typing.get_args(typing.get_args(tp)[0])
        words = "a non-empty list drawn from " + ", ".join(choices)
    elif _is_model(tp):
        words = "a mapping with keys " + ", ".join(tp.model_fields)
    else:
        words = {
            bool: "true or false",
            int: "an integer",
            float: "a number",
            str: "a string",
            Path: "a path",
        }.get(tp, getattr(tp, "__name__", str(tp)))
        if tp is str and any(isinstance(m, annotated_types.MinLen) for m in metadata):
            words = "a non-empty string"
    words = " ".join([words, " and ".join(bounds)]).strip()
    if not nullable:
        return words
    return f"{words}, or null" if "," in words else f"{words} or null"


def problem_of(error: Mapping[str, Any]) -> tuple[tuple, str]:
    """One pydantic error as (location, "must be …; got …")."""
    loc, kind = tuple(error["loc"]), error["type"]
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        allowed = list(parent.model_fields) if parent else []
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return loc, f"unknown key{hint}; allowed: {', '.join(allowed)}"
    error_obj = (error.get("ctx") or {}).get("error")
    if isinstance(error_obj, _KeyedError):
        return (*loc, error_obj.key), str(error_obj)
    if isinstance(error_obj, ValueError):
        return loc, str(error_obj)
    field = _field_at(loc)
    if field is None:
        return loc, error["msg"]
    item = bool(loc) and isinstance(loc[-1], int)
    expected = _expected(field.annotation, field.metadata, item=item)
    if kind == "missing":
        return loc, f"required; must be {expected}"
    return loc, f"must be {expected}; got {shown(error['input'])}"
