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

`compile_field` turns a spec into a `Field` once (CSS translated to XPath, XPath and JMESPath compiled),
so reading a page costs lxml calls, not parsel's per-call bookkeeping; site profiles compile theirs
when they are loaded. `extract_field` accepts a spec or a `Field`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from typing import Any

import jmespath
from cssselect import SelectorError
from lxml import etree
from parsel import Selector
from parsel.csstranslator import GenericTranslator, HTMLTranslator

_WHITESPACE = re.compile(r"\s+")
_VISIBLE_TEXT = ".//text()[not(ancestor::script or ancestor::style or ancestor::noscript)]"
_VISIBLE_TEXT_XPATH = etree.XPath(_VISIBLE_TEXT, smart_strings=False)
# The prefixes parsel offers every XPath (EXSLT regular expressions and sets).
_XPATH_NAMESPACES = dict(Selector._default_namespaces)
# lxml registers the functions of these EXSLT namespaces each time an evaluator that maps them runs, and with
# libxml2 2.13+ every registration after the first adds an entry to the evaluator's error log, which cannot be
# cleared: reused, such an evaluator grows with every page. As parsel does, a query maps only the prefixes it
# uses, and one that maps such a namespace gets a fresh evaluator per call.
_EXSLT_REGISTERED_PER_CALL = frozenset(
    f"http://exslt.org/{name}" for name in ("dates-and-times", "math", "sets", "strings")
)
_CSS_TRANSLATORS = {"html": HTMLTranslator(), "xml": GenericTranslator()}


def _xpath_evaluator(query: str) -> Callable[[], etree.XPath]:
    """The compiled XPath, compiled once (raising on a bad query) and reused unless reuse would leak."""
    namespaces = {prefix: uri for prefix, uri in _XPATH_NAMESPACES.items() if f"{prefix}:" in query}
    compiled = etree.XPath(query, namespaces=namespaces, smart_strings=False)
    if _EXSLT_REGISTERED_PER_CALL.intersection(namespaces.values()):
        return lambda: etree.XPath(query, namespaces=namespaces, smart_strings=False)
    return lambda: compiled


class FieldSpecError(ValueError):
    """A profile's field spec that cannot be applied."""


def clean_text(text: str | None) -> str | None:
    if text is None:
        return None
    cleaned = _WHITESPACE.sub(" ", text).strip()
    return cleaned or None


def visible_text(node: Selector) -> str | None:
    """An element's text without scripts and styles; a text/attribute node's own value."""
    return _visible(node.root)


def _visible(root: Any) -> str | None:
    """visible_text of a raw lxml result: a string as is, an element's text outside scripts, nothing else
    (an XPath number or boolean is no field value)."""
    if isinstance(root, str):
        return clean_text(root)
    if isinstance(root, etree._Element):
        return clean_text(" ".join(_VISIBLE_TEXT_XPATH(root)))
    return None


def _split(spec: str) -> tuple[str, str]:
    kind, sep, expression = spec.partition(":")
    if not sep or kind not in {"css", "xpath", "json", "const"}:
        raise FieldSpecError(f"field spec {spec!r} must start with css:, xpath:, json: or const:")
    return kind, expression


class _Selection:
    """One css:/xpath:/json:/const: expression, compiled: the matches on a node, and their values."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.kind, self.expression = _split(spec)
        self._xpaths: dict[str, Callable[[], etree.XPath]] = {}
        self._json = None
        try:
            if self.kind == "json":
                self._json = jmespath.compile(self.expression)
            elif self.kind in ("css", "xpath"):
                self._xpath_for("html")  # a spec that cannot be translated or compiled fails here, once
        except (SelectorError, etree.XPathError, jmespath.exceptions.JMESPathError) as exc:
            raise FieldSpecError(f"field spec {spec!r}: {exc}") from None

    def _xpath_for(self, type_: str) -> etree.XPath:
        """The compiled XPath for a document type (CSS translates differently for HTML and XML)."""
        if self.kind == "xpath":
            type_ = "html"  # an XPath reads the same in both
        evaluator = self._xpaths.get(type_)
        if evaluator is None:
            query = self.expression if self.kind == "xpath" else _CSS_TRANSLATORS[type_].css_to_xpath(self.expression)
            evaluator = self._xpaths[type_] = _xpath_evaluator(query)
        return evaluator()

    def _compiled_on(self, node: Selector) -> etree.XPath | None:
        """The compiled XPath when the node is an HTML/XML element; None sends other nodes through parsel."""
        if node.type in ("html", "xml") and isinstance(node.root, etree._Element):
            return self._xpath_for(node.type)
        return None

    def _raw_matches(self, node: Selector, compiled: etree.XPath) -> list[Any]:
        try:
            found = compiled(node.root)
        except etree.XPathError as exc:  # as parsel reports it
            raise ValueError(f"XPath error: {exc} in {self.expression}") from None
        return found if isinstance(found, list) else [found]

    def nodes(self, node: Selector) -> list[Selector]:
        """The matches as selectors (table rows to read further)."""
        compiled = self._compiled_on(node)
        if compiled is None:
            return list(node.css(self.expression) if self.kind == "css" else node.xpath(self.expression))
        return [Selector(root=found, type=node.type) for found in self._raw_matches(node, compiled)]

    def values(self, node: Selector) -> Iterator[Any]:
        """The matches' values in document order, lazily: a single-valued field stops at the first."""
        if self.kind == "const":
            yield self.expression
            return
        if self.kind == "json":
            if node.type != "json":
                return
            found = self._json.search(_json_data(node.root))
            for value in [] if found is None else found if isinstance(found, list) else [found]:
                yield from value if isinstance(value, list) else [value]
            return
        compiled = self._compiled_on(node)
        if compiled is None:
            matches = node.css(self.expression) if self.kind == "css" else node.xpath(self.expression)
            texts = (visible_text(match) for match in matches)
        else:
            texts = (_visible(found) for found in self._raw_matches(node, compiled))
        for text in texts:
            if text is not None:
                yield text


def _json_data(root: Any) -> Any:
    """What parsel's jmespath() reads: a string root is JSON text again (parsel's own quirk, kept)."""
    if isinstance(root, str):
        try:
            return json.loads(root)
        except ValueError:
            return None
    return root


class Field:
    """A field spec compiled once; call it on a node (a parsel Selector) to read the field."""

    __slots__ = ("spec", "_read")

    def __init__(self, spec: str | Mapping[str, Any]) -> None:
        self.spec = spec
        self._read = _reader(spec)

    def __call__(self, node: Selector) -> Any:
        return self._read(node)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Field) and other.spec == self.spec

    def __reduce__(self) -> tuple[Any, ...]:
        # compiled again from the spec when unpickled (a pickled profile): lxml's XPaths cannot be pickled
        return (compile_field, (self.spec,))

    __hash__ = None  # type: ignore[assignment]  # a mapping spec is not hashable

    def __repr__(self) -> str:
        return f"Field({self.spec!r})"


FieldSpec = str | Mapping[str, Any] | Field


_NOTHING = object()


def _first(values: Iterator[Any]) -> Any:
    return next(values, None)


def _reader(spec: Any) -> Callable[[Selector], Any]:
    if isinstance(spec, str):
        selection = _Selection(spec)
        return lambda node: _first(selection.values(node))
    if not isinstance(spec, Mapping):
        raise FieldSpecError(f"field spec must be a string or a mapping, not {type(spec).__name__}: {spec!r}")
    if "exists" in spec:
        selection = _Selection(spec["exists"])
        return lambda node: next(selection.values(node), _NOTHING) is not _NOTHING
    if "rows" in spec:
        rows, key, value = _Selection(spec["rows"]), compile_field(spec["key"]), compile_field(spec["value"])
        if rows.kind not in ("css", "xpath"):
            raise FieldSpecError(f"field spec {dict(spec)!r}: rows must be css: or xpath:")

        def table(node: Selector) -> dict[str, str]:
            found: dict[str, str] = {}
            for row in rows.nodes(node):
                row_key, row_value = key(row), value(row)
                if row_key:
                    found[str(row_key)] = "" if row_value is None else str(row_value)
            return found

        return table
    selection = _Selection(_spec_expression(spec))
    pattern = re.compile(spec["re"]) if "re" in spec else None
    wanted = str(spec["equals"]) if "equals" in spec else None
    every = bool(spec.get("all"))

    def read(node: Selector) -> Any:
        values: Iterator[Any] = selection.values(node)
        if pattern is not None:
            matched = (pattern.search(str(v)) for v in values)
            values = (m.group(1) if m.groups() else m.group(0) for m in matched if m)
        if wanted is not None:
            first = next(values, _NOTHING)
            return first is not _NOTHING and str(first) == wanted
        return list(values) if every else _first(values)

    return read


def _spec_expression(spec: Mapping[str, Any]) -> str:
    for kind in ("css", "xpath", "json", "const"):
        if kind in spec:
            return f"{kind}:{spec[kind]}"
    raise FieldSpecError(f"field spec {dict(spec)!r} needs one of css, xpath, json, const, exists or rows")


@lru_cache(maxsize=1024)
def _compiled_string(spec: str) -> Field:
    return Field(spec)


def compile_field(spec: FieldSpec) -> Field:
    """A spec as a Field (raises FieldSpecError when it cannot be applied); string specs are cached."""
    if isinstance(spec, Field):
        return spec
    if isinstance(spec, str):
        return _compiled_string(spec)
    return Field(spec)


def extract_field(node: Selector, spec: FieldSpec) -> Any:
    """Apply one field spec; None (or [] / {} / False for the list, dict and bool forms) when nothing matches."""
    return compile_field(spec)(node)


def extract_fields(node: Selector, specs: Mapping[str, FieldSpec]) -> dict[str, Any]:
    return {name: compile_field(spec)(node) for name, spec in specs.items()}
