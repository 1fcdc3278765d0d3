"""Check definitions: the wording, severity and legal basis of the structured checks (licence display, bait prices,
price history), kept as data in rules/checks/*.yaml beside the rule packs, where a legal officer reviews them.

    id: price_marks            # the check's pack id (hits and leads carry it)
    title: 明码标价 (price marking)
    category: price_fraud
    rules:
      - id: list_price_below_detail_price
        title: 列表页价格低于详情页价格
        severity: high
        legal_basis: [{law: 明码标价和禁止价格欺诈规定, article: 20, clause: 1}]
        examples:                # the check's input as data; `netwatch rules test` runs them (checks/examples.py)
          hit: [{list_price: 99, price: 129}]
          miss: [{list_price: 129, price: 129}]

Loaded and checked like the packs (PackError names file, line and rule); the code keeps only the logic.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from netwatch import config
from netwatch.checks.legal import Citation
from netwatch.checks.text.packs import (
    _KEY_LINES,
    _LINE,
    CATEGORIES,
    SEVERITIES,
    PackError,
    _PackReader,
    laws_near,
    read_yaml,
)

DEFINITION_KEYS = {"id", "title", "category", "description", "rules"}
RULE_KEYS = {"id", "title", "severity", "legal_basis", "examples"}


@dataclass(frozen=True)
class CheckExample:
    expect_hit: bool
    data: dict[str, Any]  # the check's input; its keys depend on the check (see checks/examples.py)
    line: int | None = None


@dataclass(frozen=True)
class CheckRule:
    id: str
    title: str
    severity: str
    legal_basis: str  # rendered citations
    citations: tuple[Citation, ...]
    examples: tuple[CheckExample, ...] = ()
    line: int | None = None


@dataclass(frozen=True)
class CheckDefinition:
    id: str
    title: str
    category: str
    rules: tuple[CheckRule, ...]
    path: Path
    description: str | None = None

    def rule(self, rule_id: str) -> CheckRule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise PackError(self.path, None, rule_id, f"check {self.id!r} defines no rule {rule_id!r} (the code asks for it)")


def _plain(value: Any) -> Any:
    """The value without the loader's line bookkeeping."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k not in (_LINE, _KEY_LINES)}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class _DefinitionReader(_PackReader):
    def examples_of(self, node: dict, rule_id: str) -> tuple[CheckExample, ...]:
        value = node.get("examples")
        if value is None:
            return ()
        if not isinstance(value, dict):
            raise self.fail(node, rule_id, "examples must be a mapping with hit: and miss: lists", "examples")
        self.check_keys(value, {"hit", "miss"}, rule_id, "examples")
        out = []
        for key in ("hit", "miss"):
            items = value.get(key) or []
            if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
                raise self.fail(value, rule_id, f"examples.{key} must be a list of mappings (the check's input)", key)
            out += [CheckExample(key == "hit", _plain(item), item.get(_LINE)) for item in items]
        return tuple(out)

    def check_rule(self, node: Any) -> CheckRule:
        rule_id = self.rule_id(node, RULE_KEYS)
        for key in ("title", "severity", "legal_basis"):
            if not node.get(key):
                raise self.fail(node, rule_id, f"missing required key {key!r}")
        citations, legal_basis = self.citations(node, rule_id)
        return CheckRule(rule_id, str(node["title"]), self.choice(node, "severity", SEVERITIES, rule_id), legal_basis,
                         citations, self.examples_of(node, rule_id), node.get(_LINE))

    def definition(self, data: dict) -> CheckDefinition:
        self.check_keys(data, DEFINITION_KEYS, None, "a check definition")
        for key in ("id", "title", "category", "rules"):
            if not data.get(key):
                raise self.fail(data, None, f"missing required key {key!r}")
        if not isinstance(data["rules"], list):
            raise self.fail(data, None, "rules must be a list", "rules")
        rules = [self.check_rule(node) for node in data["rules"]]
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen:
                raise PackError(self.path, rule.line, rule.id, "duplicate rule id")
            seen.add(rule.id)
        return CheckDefinition(str(data["id"]), str(data["title"]), self.choice(data, "category", CATEGORIES, None),
                               tuple(rules), self.path, data.get("description"))


def load_check_definitions(directory: str | Path) -> dict[str, CheckDefinition]:
    """Every `*.yaml` in `directory` (rules/checks) by id; none when the folder is absent."""
    directory = Path(directory)
    if not directory.is_dir():
        return {}
    laws = laws_near(directory)
    out: dict[str, CheckDefinition] = {}
    for path in sorted(directory.glob("*.yaml")):
        definition = _DefinitionReader(path, laws).definition(read_yaml(path, "a check definition must be a mapping"))
        if definition.id in out:
            raise PackError(path, None, None, f"duplicate check id {definition.id!r} (also in {out[definition.id].path})")
        out[definition.id] = definition
    return out


@lru_cache(maxsize=4)
def _definitions(rules_dir: Path) -> dict[str, CheckDefinition]:
    return load_check_definitions(rules_dir / "checks")


def check_definition(check_id: str) -> CheckDefinition:
    """The definition a check reads its wording from: rules_dir()/checks (NETWATCH_RULES_DIR respected), cached."""
    rules_dir = config.rules_dir()
    definitions = _definitions(rules_dir)
    if check_id not in definitions:
        raise PackError(rules_dir / "checks", None, None, f"no check definition with id {check_id!r}")
    return definitions[check_id]
