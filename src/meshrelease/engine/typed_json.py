"""Reading JSON a user passes in (e.g. a results.json) field by field against the types the records declare.

A :class:`JsonObject` wraps one parsed object; its getters return the field typed, or raise a
:class:`~meshrelease.errors.UserInputError` naming the file and the field's path (``steps[2].outcome``,
``backend.extra.cluster``) and saying what was expected and what was found.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from types import UnionType
from typing import Any, cast, get_args, get_origin

from meshrelease.errors import UserInputError

_REQUIRED: Any = object()


class JsonObject:
    """One parsed JSON object: ``source`` names its file, ``where`` its path in the file ("" at the top),
    ``hint`` is printed with every error. A field that is missing (and has no default) or of another type
    raises a UserInputError naming the file and the field's path."""

    def __init__(self, data: object, source: str, where: str = "", *, hint: str | None = None) -> None:
        if not isinstance(data, dict):
            raise UserInputError(
                f"expected an object, found {shown(data)}", path=source, field=where or None, hint=hint
            )
        self.data: dict[str, object] = data
        self.source = source
        self.where = where
        self.hint = hint

    def _path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def _error(self, key: str, message: str) -> UserInputError:
        return UserInputError(message, path=self.source, field=self._path(key), hint=self.hint)

    def raw(self, key: str, default: object = _REQUIRED) -> object:
        if key in self.data:
            return self.data[key]
        if default is _REQUIRED:
            raise self._error(key, "missing")
        return default

    def value(self, key: str, hint: object, default: object = _REQUIRED) -> Any:
        """The field, checked against a type hint (str, int, float, bool, None, unions, list[...], dict[str, ...])."""
        if key not in self.data and default is not _REQUIRED:
            return default
        found = self.raw(key)
        wrong = _mismatch(found, hint)
        if wrong is not None:
            where, message = wrong
            raise self._error(key + where, message)
        return found

    def text(self, key: str) -> str:
        return cast(str, self.value(key, str))

    def opt_text(self, key: str, default: object = _REQUIRED) -> str | None:
        return cast(str | None, self.value(key, str | None, default))

    def choice(self, key: str, allowed: Sequence[str]) -> str:
        found = self.text(key)
        if found not in allowed:
            raise self._error(key, f"{found!r} is not one of {', '.join(allowed)}")
        return found

    def number(self, key: str, default: object = _REQUIRED) -> float:
        return cast(float, self.value(key, float, default))

    def integer(self, key: str) -> int:
        return cast(int, self.value(key, int))

    def flag(self, key: str, default: object = _REQUIRED) -> bool:
        return cast(bool, self.value(key, bool, default))

    def texts(self, key: str, default: object = _REQUIRED) -> list[str]:
        return cast(list[str], self.value(key, list[str], default))

    def counts(self, key: str) -> dict[str, int]:
        return cast(dict[str, int], self.value(key, dict[str, int]))

    def weights(self, key: str) -> dict[str, float]:
        return cast(dict[str, float], self.value(key, dict[str, float]))

    def strings(self, key: str, default: object = _REQUIRED) -> dict[str, str]:
        return cast(dict[str, str], self.value(key, dict[str, str], default))

    def obj(self, key: str) -> JsonObject:
        return JsonObject(self.raw(key), self.source, self._path(key), hint=self.hint)

    def opt_obj(self, key: str) -> JsonObject | None:
        found = self.raw(key)
        return None if found is None else JsonObject(found, self.source, self._path(key), hint=self.hint)

    def objs(self, key: str) -> list[JsonObject]:
        found = self.raw(key)
        if not isinstance(found, list):
            raise self._error(key, f"expected a list, found {shown(found)}")
        path = self._path(key)
        return [JsonObject(item, self.source, f"{path}[{i}]", hint=self.hint) for i, item in enumerate(found)]


def _mismatch(value: object, hint: object) -> tuple[str, str] | None:
    """None when ``value`` is of the type ``hint`` names; else where in it (``.key``, ``[i]`` or "") and what is
    wrong there."""
    origin = get_origin(hint)
    if origin is list and isinstance(value, list):
        for i, item in enumerate(value):
            if (wrong := _mismatch(item, get_args(hint)[0])) is not None:
                return f"[{i}]{wrong[0]}", wrong[1]
        return None
    if origin is dict and isinstance(value, dict):
        for key, item in value.items():
            if (wrong := _mismatch(item, get_args(hint)[1])) is not None:
                return f".{key}{wrong[0]}", wrong[1]
        return None
    if isinstance(hint, UnionType):
        ok = any(_mismatch(value, h) is None for h in get_args(hint))
    elif hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is type(None):
        ok = value is None
    else:
        ok = origin is None and isinstance(hint, type) and isinstance(value, hint)
    return None if ok else ("", f"expected {_describe(hint)}, found {shown(value)}")


def _describe(hint: object) -> str:
    if isinstance(hint, UnionType):
        return " or ".join(_describe(h) for h in get_args(hint))
    origin = get_origin(hint)
    if origin is list:
        return f"a list of {_describe(get_args(hint)[0]).removeprefix('a ').removeprefix('an ')}s"
    if origin is dict:
        return f"an object of {_describe(get_args(hint)[1]).removeprefix('a ').removeprefix('an ')}s"
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false", type(None): "null"}
    return names.get(hint, str(hint)) if isinstance(hint, type) else str(hint)


def shown(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
