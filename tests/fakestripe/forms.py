"""Stripe's request encoding, read back: form bodies with bracketed keys, and the
per-endpoint allow-list of parameters with Stripe's error messages.

The SDK sends `metadata[payment_id]=7&line_items[0][price_data][unit_amount]=2500&
expand[0]=payment_intent` (brackets unescaped). `decode` turns that into nested dicts and
lists of strings; `coerce` checks it against a spec (unknown parameter -> Stripe's "Received
unknown parameter", a bad integer -> "Invalid integer") and converts the leaves."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_TOKEN = re.compile(r"\[([^\[\]]*)\]")


class ParamError(Exception):
    """A request Stripe would answer with 400 invalid_request_error."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


def decode(encoded: str) -> dict[str, Any]:
    """`a[b][0]=x&a[b][1]=y&c=z` -> {"a": {"b": ["x", "y"]}, "c": "z"}."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(encoded, keep_blank_values=True):
        match = _KEY.match(key)
        if match is None:
            raise ParamError(f"Invalid parameter name: {key}", key)
        tokens = [match.group(1), *_TOKEN.findall(match.group(2))]
        node = root
        for position, token in enumerate(tokens):
            last = position == len(tokens) - 1
            if token == "":
                # expand[]=a&expand[]=b: append.
                token = str(sum(1 for k in node if k.isdigit()))
            if last:
                if isinstance(node.get(token), dict):
                    raise ParamError(f"Invalid value for {key}: expected an object", key)
                node[token] = value
            else:
                child = node.setdefault(token, {})
                if not isinstance(child, dict):
                    raise ParamError(f"Invalid value for {key}: {token} is not an object", key)
                node = child
    return _lists(root)


def _lists(node: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        if isinstance(value, dict):
            value = _lists(value)
            if value and all(k.isdigit() for k in value):
                value = [value[k] for k in sorted(value, key=int)]
        out[key] = value
    return out


def canonical(encoded: str) -> tuple[tuple[str, str], ...]:
    """The parameters of a request in a comparable form (for idempotency)."""
    return tuple(sorted(parse_qsl(encoded, keep_blank_values=True)))


@dataclass(frozen=True)
class Choice:
    values: tuple[str, ...]

    def __init__(self, *values: str) -> None:
        object.__setattr__(self, "values", values)


class _Metadata:
    """Free-form string keys and values, with Stripe's limits."""


METADATA = _Metadata()


def _field_name(path: str, key: str) -> str:
    return f"{path}[{key}]" if path else key


def coerce(value: Any, spec: Any, path: str = "") -> Any:
    """Check `value` (from `decode`) against `spec` and convert it. Empty strings mean
    "unset" to Stripe: they are dropped from objects."""
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            raise ParamError(f"Invalid object: {path} must be an object", path or None)
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = _field_name(path, key)
            if key not in spec:
                raise ParamError(f"Received unknown parameter: {name}", name)
            if item == "":
                continue
            out[key] = coerce(item, spec[key], name)
        return out
    if isinstance(spec, list):
        if not isinstance(value, list):
            raise ParamError(f"Invalid array: {path} must be an array", path)
        return [coerce(item, spec[0], f"{path}[{i}]") for i, item in enumerate(value)]
    if spec is METADATA:
        if not isinstance(value, dict):
            raise ParamError(f"Invalid object: {path} must be an object", path)
        if len(value) > 50:
            raise ParamError("You can specify up to 50 keys in metadata.", path)
        meta: dict[str, str] = {}
        for key, item in value.items():
            if not isinstance(item, str):
                raise ParamError(f"Invalid value for {path}[{key}]: expected a string", path)
            if len(key) > 40:
                raise ParamError("Metadata keys can have up to 40 characters.", path)
            if len(item) > 500:
                raise ParamError("Metadata values can have up to 500 characters.", path)
            if item != "":
                meta[key] = item
        return meta
    if not isinstance(value, str):
        raise ParamError(f"Invalid value for {path}: expected a single value", path)
    if spec is str:
        return value
    if spec is int:
        if not re.fullmatch(r"-?[0-9]+", value):
            raise ParamError(f"Invalid integer: {value}", path)
        return int(value)
    if spec is bool:
        if value not in ("true", "false"):
            raise ParamError(f"Invalid boolean: {value}", path)
        return value == "true"
    if isinstance(spec, Choice):
        # Choice("true", "one_off", "recurring"): a boolean or one of the strings.
        if "true" in spec.values and value in ("true", "false"):
            return value == "true"
        if value in spec.values:
            return value
        raise ParamError(f"Invalid {path}: must be one of {', '.join(spec.values)}", path)
    raise TypeError(f"bad spec {spec!r}")


def with_expand(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {**spec, "expand": [str]}
