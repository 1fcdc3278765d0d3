"""Rule packs: YAML files a legal officer can read, loaded into checked dataclasses.

A pack is one violation category with its legal basis; its rules hold keywords, regexes and the
contexts that cancel or qualify a hit, and examples that the pack's own tests run. Anything wrong
in a pack fails at load with the file, the line and the rule id (see PackError).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from netwatch.checks.legal import (
    LAWS_FILE,
    Citation,
    LawIndex,
    find_laws_file,
    load_laws,
    parse_citation,
    render_citations,
)
from netwatch.checks.text.evasion import STEPS as EVASION_STEPS
from netwatch.checks.text.matcher import compile_regex
from netwatch.checks.text.yaml_source import _KEY_LINES, _LINE, PackError, read_yaml
from netwatch.domain.vocab import CATEGORIES, SEVERITIES

FIELDS = ("title", "description", "specs", "shop_name", "shop_text", "review")
PRODUCT_CATEGORIES = ("food", "cosmetics", "health_food", "drug", "medical_device", "general")

PACK_KEYS = {
    "id", "title", "category", "legal_basis", "severity", "fields", "product_categories",
    "except_product_categories", "description", "exclusions", "cancel_near", "rules", "examples",
}
RULE_KEYS = {
    "id", "title", "keywords", "regex", "exclusions", "near", "cancel_near", "severity", "legal_basis",
    "collapse_repeats", "word_boundary", "examples", "evasions", "product_categories", "except_product_categories",
}
PROXIMITY_KEYS = {"terms", "within"}
EXAMPLE_KEYS = {"text", "field", "product_categories"}
MIN_KEYWORD_CHARS = 2  # one character (的, a) occurs in nearly every text: a hit per occurrence swamps a crawl


@dataclass(frozen=True)
class Proximity:
    """Terms that must (near) or must not (cancel_near) occur within `within` characters of a hit."""

    terms: tuple[str, ...]
    within: int


@dataclass(frozen=True)
class Example:
    text: str
    expect_hit: bool
    field: str | None = None  # None: the pack's first field
    product_categories: tuple[str, ...] = ()
    line: int | None = None


@dataclass
class Rule:
    id: str
    keywords: tuple[str, ...] = ()
    regexes: tuple[str, ...] = ()
    exclusions: tuple[str, ...] = ()
    near: Proximity | None = None
    cancel_near: Proximity | None = None
    severity: str | None = None  # None: the pack's severity
    legal_basis: str | None = None  # rendered citations (netwatch.checks.legal); None: the pack's legal basis
    collapse_repeats: bool = False
    word_boundary: bool = False
    examples: tuple[Example, ...] = ()
    title: str | None = None
    line: int | None = None
    citations: tuple[Citation, ...] = ()
    evasions: tuple[str, ...] = ()  # opt-in evasion steps (netwatch.checks.text.evasion.STEPS)
    product_categories: tuple[str, ...] = ()  # empty: whatever the pack reads
    except_product_categories: tuple[str, ...] = ()

    def applies_to(self, product_categories: frozenset[str]) -> bool:
        """Whether the rule reads an item of these product categories (none given: it may be anything)."""
        if product_categories & set(self.except_product_categories):
            return False
        return not (self.product_categories and product_categories) or bool(product_categories & set(self.product_categories))


@dataclass
class Pack:
    id: str
    title: str
    category: str
    legal_basis: str  # the citations rendered for display: 《广告法》第九条第（三）项
    severity: str
    fields: tuple[str, ...]
    rules: list[Rule]
    examples: tuple[Example, ...] = ()
    product_categories: tuple[str, ...] = ()  # empty: every product category
    except_product_categories: tuple[str, ...] = ()
    exclusions: tuple[str, ...] = ()
    cancel_near: Proximity | None = None
    description: str | None = None
    path: Path | None = None
    citations: tuple[Citation, ...] = ()

    def all_examples(self) -> list[tuple[Rule | None, Example]]:
        """Pack-level examples (rule None) then each rule's, in file order."""
        return [(None, ex) for ex in self.examples] + [(rule, ex) for rule in self.rules for ex in rule.examples]

    def applies_to(self, field_name: str, product_categories: frozenset[str]) -> bool:
        """Whether the pack reads this field for an item of these product categories.

        Unknown categories (none given) count as "could be anything", so category-bound packs still apply.
        """
        if field_name not in self.fields:
            return False
        if product_categories & set(self.except_product_categories):
            return False
        if self.product_categories and product_categories:
            return bool(product_categories & set(self.product_categories))
        return True


def laws_near(path: Path) -> LawIndex:
    """The law index that citations in the file (or folder) at `path` are checked against (find_laws_file)."""
    start = path if path.is_dir() else path.parent
    try:
        laws_file = find_laws_file(start)
    except FileNotFoundError as exc:
        raise PackError(path, None, None, str(exc)) from exc
    try:
        return load_laws(laws_file)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise PackError(laws_file, None, None, f"law index unusable: {exc}") from exc


def read_legal_basis(path: Path) -> str | None:
    """The rendered legal_basis of a YAML file that is not a pack (rules/signals/*.yaml), checked like a pack's."""
    data = read_yaml(path, "expected a mapping at the top level")
    return _PackReader(path, laws_near(path)).citations(data, None)[1]


def load_pack(path: str | Path, laws: LawIndex | None = None) -> Pack:
    """Load and check one pack file; raise PackError naming file, line and rule on any problem."""
    path = Path(path)
    data = read_yaml(path)
    return _PackReader(path, laws or laws_near(path)).pack(data)


class _PackReader:
    def __init__(self, path: Path, laws: LawIndex):
        self.path = path
        self.laws = laws

    def citations(self, node: dict, rule_id: str | None) -> tuple[tuple[Citation, ...], str | None]:
        """legal_basis: a list of {law, article, paragraph?, clause?}, each checked against the law index;
        returns the citations and their display text (None when the key is absent)."""
        value = node.get("legal_basis")
        if value is None:
            return (), None
        if not isinstance(value, list) or not value:
            raise self.fail(node, rule_id, "legal_basis must be a list of citations like "
                            "- {law: 广告法, article: 9, clause: 3}", "legal_basis")
        citations = []
        for item in value:
            where = item if isinstance(item, dict) else node
            try:
                citation = parse_citation(item)
            except ValueError as exc:
                raise self.fail(where, rule_id, f"legal_basis: {exc}", "legal_basis") from exc
            problem = self.laws.problem(citation)
            if problem:
                raise self.fail(where, rule_id, f"legal_basis: {problem}", "law")
            citations.append(citation)
        return tuple(citations), render_citations(citations)

    def fail(self, node: Any, rule_id: str | None, message: str, key: str | None = None) -> PackError:
        """A PackError at the line of `key` in `node` (else of the node itself)."""
        line = None
        if isinstance(node, dict):
            line = node.get(_KEY_LINES, {}).get(key) or node.get(_LINE)
        return PackError(self.path, line, rule_id, message)

    def rule_id(self, node: Any, allowed: set[str]) -> str:
        """A rule node's id, once the node is checked to be a mapping with a lower_snake_case id and known keys."""
        if not isinstance(node, dict):
            raise PackError(self.path, None, None, f"a rule must be a mapping, got {node!r}")
        rule_id = node.get("id")
        if not isinstance(rule_id, str) or not re.fullmatch(r"[a-z0-9_]+", rule_id):
            raise self.fail(node, None, f"rule id {rule_id!r} missing or not lower_snake_case")
        self.check_keys(node, allowed, rule_id, "a rule")
        return rule_id

    def check_keys(self, node: dict, allowed: set[str], rule_id: str | None, what: str) -> None:
        unknown = sorted(k for k in node if k not in (_LINE, _KEY_LINES) and k not in allowed)
        if unknown:
            raise self.fail(node, rule_id, f"unknown key(s) {unknown} in {what}; allowed: {sorted(allowed)}", unknown[0])

    def text_list(self, node: dict, key: str, rule_id: str | None) -> tuple[str, ...]:
        value = node.get(key) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
            raise self.fail(node, rule_id, f"{key} must be a list of texts", key)
        texts = tuple(str(v) for v in value)
        if any(not t.strip() for t in texts):
            raise self.fail(node, rule_id, f"{key} contains an empty text", key)
        return texts

    def choice(self, node: dict, key: str, choices: tuple[str, ...], rule_id: str | None, default: Any = None):
        value = node.get(key, default)
        if value is None:
            return None
        if value not in choices:
            raise self.fail(node, rule_id, f"{key} {value!r} is not one of {', '.join(choices)}", key)
        return value

    def proximity(self, node: dict, key: str, rule_id: str | None) -> Proximity | None:
        value = node.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.fail(node, rule_id, f"{key} must be a mapping with terms and within")
        self.check_keys(value, PROXIMITY_KEYS, rule_id, key)
        terms = self.text_list(value, "terms", rule_id)
        within = value.get("within")
        if not terms or not isinstance(within, int) or isinstance(within, bool) or within < 0:
            raise self.fail(value, rule_id, f"{key} needs terms and a non-negative integer within")
        return Proximity(terms, within)

    def examples(self, node: dict, rule_id: str | None) -> tuple[Example, ...]:
        value = node.get("examples")
        if value is None:
            return ()
        if not isinstance(value, dict):
            raise self.fail(node, rule_id, "examples must be a mapping with hit: and miss: lists")
        self.check_keys(value, {"hit", "miss"}, rule_id, "examples")
        out: list[Example] = []
        for key in ("hit", "miss"):
            items = value.get(key) or []
            if not isinstance(items, list):
                raise self.fail(value, rule_id, f"examples.{key} must be a list")
            for item in items:
                out.append(self.example(value, item, key == "hit", rule_id))
        return tuple(out)

    def example(self, parent: dict, item: Any, expect_hit: bool, rule_id: str | None) -> Example:
        if isinstance(item, (str, int, float)):
            return Example(str(item), expect_hit, line=parent.get(_LINE))
        if not isinstance(item, dict) or "text" not in item:
            raise self.fail(parent, rule_id, f"an example must be a text or a mapping with text: ({item!r})")
        self.check_keys(item, EXAMPLE_KEYS, rule_id, "example")
        field_name = self.choice(item, "field", FIELDS, rule_id)
        categories = self.text_list(item, "product_categories", rule_id)
        for category in categories:
            if category not in PRODUCT_CATEGORIES:
                raise self.fail(item, rule_id, f"unknown product category {category!r}")
        return Example(str(item["text"]), expect_hit, field_name, categories, item.get(_LINE))

    def rule(self, node: Any, pack_fields: tuple[str, ...]) -> Rule:
        rule_id = self.rule_id(node, RULE_KEYS)
        keywords = self.text_list(node, "keywords", rule_id)
        regexes = self.text_list(node, "regex", rule_id)
        if not keywords and not regexes:
            raise self.fail(node, rule_id, "a rule needs keywords or regex")
        for keyword in keywords:
            # NFKC and no spaces, as the engine reads it (not normalize_term: its table is built and cached on first use)
            if len("".join(unicodedata.normalize("NFKC", keyword).split())) < MIN_KEYWORD_CHARS:
                raise self.fail(node, rule_id, f"keyword {keyword!r} is shorter than {MIN_KEYWORD_CHARS} characters: it "
                                "would hit nearly every text (write the term it stands in, e.g. 的确 not 的)", "keywords")
        for pattern in regexes:
            try:
                re.compile(pattern)  # the prefilter reads it with Python's parser; RE2 runs it
            except re.error as exc:
                raise self.fail(node, rule_id, f"bad regex {pattern!r}: {exc}", "regex") from exc
            try:
                compile_regex(pattern)
            except ValueError as exc:
                raise self.fail(node, rule_id, f"regex {pattern!r} cannot run in linear time on RE2 ({exc}); write it "
                                "without lookaround or backreferences: (?P<hit>...) marks the hit, e.g. "
                                "(?:^|[^0-9])(?P<hit>100%) for (?<![0-9])100%", "regex") from exc
        for key in ("collapse_repeats", "word_boundary"):
            if not isinstance(node.get(key, False), bool):
                raise self.fail(node, rule_id, f"{key} must be true or false")
        evasions = self.text_list(node, "evasions", rule_id)
        for step in evasions:
            if step not in EVASION_STEPS:
                raise self.fail(node, rule_id, f"unknown evasion step {step!r}; steps are {', '.join(EVASION_STEPS)}", "evasions")
        categories, excepted = self.product_categories(node, rule_id)
        citations, legal_basis = self.citations(node, rule_id)
        return Rule(
            evasions=evasions,
            product_categories=categories,
            except_product_categories=excepted,
            id=rule_id,
            title=node.get("title"),
            keywords=keywords,
            regexes=regexes,
            exclusions=self.text_list(node, "exclusions", rule_id),
            near=self.proximity(node, "near", rule_id),
            cancel_near=self.proximity(node, "cancel_near", rule_id),
            severity=self.choice(node, "severity", SEVERITIES, rule_id),
            legal_basis=legal_basis,
            citations=citations,
            collapse_repeats=node.get("collapse_repeats", False),
            word_boundary=node.get("word_boundary", False),
            examples=self.examples(node, rule_id),
            line=node.get(_LINE),
        )

    def product_categories(self, node: dict, rule_id: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(product_categories, except_product_categories) of a pack or rule, each a known category."""
        categories = self.text_list(node, "product_categories", rule_id)
        excepted = self.text_list(node, "except_product_categories", rule_id)
        for name in categories + excepted:
            if name not in PRODUCT_CATEGORIES:
                raise self.fail(node, rule_id, f"unknown product category {name!r}")
        return categories, excepted

    def pack(self, data: dict) -> Pack:
        self.check_keys(data, PACK_KEYS, None, "the pack")
        for key in ("id", "title", "category", "legal_basis", "rules"):
            if not data.get(key):
                raise self.fail(data, None, f"missing required key {key!r}")
        if not isinstance(data["id"], str) or not re.fullmatch(r"[a-z0-9_]+", data["id"]):
            raise self.fail(data, None, f"pack id {data['id']!r} must be lower_snake_case")
        category = self.choice(data, "category", CATEGORIES, None)
        citations, legal_basis = self.citations(data, None)
        severity = self.choice(data, "severity", SEVERITIES, None, default="medium")
        fields = self.text_list(data, "fields", None) or ("title", "description")
        for name in fields:
            if name not in FIELDS:
                raise self.fail(data, None, f"unknown field {name!r}; fields are {', '.join(FIELDS)}", "fields")
        categories, excepted = self.product_categories(data, None)
        if not isinstance(data["rules"], list):
            raise self.fail(data, None, "rules must be a list")
        rules: list[Rule] = []
        seen: set[str] = set()
        for node in data["rules"]:
            rule = self.rule(node, fields)
            if rule.id in seen:
                raise PackError(self.path, rule.line, rule.id, "duplicate rule id")
            seen.add(rule.id)
            rules.append(rule)
        return Pack(
            id=data["id"],
            title=str(data["title"]),
            category=category,
            legal_basis=legal_basis,
            citations=citations,
            severity=severity,
            fields=fields,
            rules=rules,
            examples=self.examples(data, None),
            product_categories=categories,
            except_product_categories=excepted,
            exclusions=self.text_list(data, "exclusions", None),
            cancel_near=self.proximity(data, "cancel_near", None),
            description=data.get("description"),
            path=self.path,
        )


def load_packs(directory: str | Path) -> list[Pack]:
    """Every `*.yaml` directly in `directory` (subdirectories belong to other engines), sorted by file name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise PackError(directory, None, None, "rule directory not found")
    packs: list[Pack] = []
    seen: dict[str, Path] = {}
    laws = laws_near(directory)
    for path in sorted(p for p in directory.glob("*.yaml") if p.is_file() and p.name != LAWS_FILE):
        pack = load_pack(path, laws)
        if pack.id in seen:
            raise PackError(path, None, None, f"duplicate pack id {pack.id!r} (also in {seen[pack.id]})")
        seen[pack.id] = path
        packs.append(pack)
    return packs

