"""Declarative field selectors, as written in site profiles, applied to a page or a JSON document.

A field spec is one of:
  "css:SELECTOR" / "xpath:EXPR"   the first match; an element gives its visible text,
                                  `::text` / `::attr(x)` / `@x` give the string itself
  "json:EXPRESSION"               a JMESPath expression on a JSON document
  {css|xpath|json: …, all: true}  every match, as a list
  {css|xpath|json: …, re: "(…)"}  the first regex group of the value
  {css|xpath: …, equals: "food"}  a bool: the value equals this
  {exists: "css:…"}               a bool: something matches
  {rows: "css:…", key: "css:…", value: "css:…"}   a dict built from table rows
  "const:VALUE"                   a fixed value
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from parsel import Selector, SelectorList

FieldSpec = str | Mapping[str, Any]
_WHITESPACE = re.compile(r"\s+")
_VISIBLE_TEXT = ".//text()[not(ancestor::script or ancestor::style or ancestor::noscript)]"


class FieldSpecError(ValueError):
    """A profile's field spec that cannot be applied."""


def clean_text(text: str | None) -> str | None:
    if text is None:
        return None
    cleaned = _WHITESPACE.sub(" ", text).strip()
    return cleaned or None


def visible_text(node: Selector) -> str | None:
    """An element's text without scripts and styles; a text/attribute node's own value."""
    if isinstance(node.root, str):
        return clean_text(node.root)
    return clean_text(" ".join(node.xpath(_VISIBLE_TEXT).getall()))


def _split(spec: str) -> tuple[str, str]:
    kind, sep, expression = spec.partition(":")
    if not sep or kind not in {"css", "xpath", "json", "const"}:
        raise FieldSpecError(f"field spec {spec!r} must start with css:, xpath:, json: or const:")
    return kind, expression


def _select(node: Selector, kind: str, expression: str) -> SelectorList:
    return node.css(expression) if kind == "css" else node.xpath(expression)


def _values(node: Selector, spec: str) -> list[Any]:
    kind, expression = _split(spec)
    if kind == "const":
        return [expression]
    if kind == "json":
        found = node.jmespath(expression).getall() if node.type == "json" else []
        flat: list[Any] = []
        for value in found:
            flat.extend(value if isinstance(value, list) else [value])
        return flat
    return [text for text in (visible_text(match) for match in _select(node, kind, expression)) if text is not None]


def _spec_expression(spec: Mapping[str, Any]) -> str:
    for kind in ("css", "xpath", "json", "const"):
        if kind in spec:
            return f"{kind}:{spec[kind]}"
    raise FieldSpecError(f"field spec {dict(spec)!r} needs one of css, xpath, json, const, exists or rows")


def extract_field(node: Selector, spec: FieldSpec) -> Any:
    """Apply one field spec; None (or [] / {} / False for the list, dict and bool forms) when nothing matches."""
    if isinstance(spec, str):
        values = _values(node, spec)
        return values[0] if values else None
    if not isinstance(spec, Mapping):
        raise FieldSpecError(f"field spec must be a string or a mapping, not {type(spec).__name__}: {spec!r}")
    if "exists" in spec:
        return bool(_values(node, spec["exists"]))
    if "rows" in spec:
        kind, expression = _split(spec["rows"])
        table: dict[str, str] = {}
        for row in _select(node, kind, expression):
            key, value = extract_field(row, spec["key"]), extract_field(row, spec["value"])
            if key:
                table[str(key)] = "" if value is None else str(value)
        return table
    values = _values(node, _spec_expression(spec))
    if "re" in spec:
        pattern = re.compile(spec["re"])
        matched = [pattern.search(str(value)) for value in values]
        values = [m.group(1) if m.groups() else m.group(0) for m in matched if m]
    if "equals" in spec:
        return bool(values) and str(values[0]) == str(spec["equals"])
    if spec.get("all"):
        return values
    return values[0] if values else None


def extract_fields(node: Selector, specs: Mapping[str, FieldSpec]) -> dict[str, Any]:
    return {name: extract_field(node, spec) for name, spec in specs.items()}
