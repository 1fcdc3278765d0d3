"""A pack's own tests: each example it gives (hit or no hit, per rule or for the pack) run through the engine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from netwatch.checks.text.hits import Hit
from netwatch.checks.text.packs import Example, Pack, Rule

if TYPE_CHECKING:
    from netwatch.checks.text.engine import RuleEngine


@dataclass(frozen=True)
class ExampleFailure:
    pack: str
    rule: str | None
    text: str
    expected_hit: bool
    hits: tuple[Hit, ...]
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = f"pack {self.pack}" + (f" rule {self.rule}" if self.rule else "")
        if self.expected_hit:
            return f"{where}: expected a hit, got none, in {self.text!r} ({self.file}:{self.line})"
        found = ", ".join(f"{h.rule}:{h.match!r}" for h in self.hits)
        return f"{where}: expected no hit, got {found} in {self.text!r} ({self.file}:{self.line})"


def run_examples(engine: RuleEngine, pack_id: str | None = None) -> tuple[int, list[ExampleFailure]]:
    """Run every example (of one pack if given): (examples run, failures)."""
    failures: list[ExampleFailure] = []
    run = 0
    packs = [p for p in engine.packs if pack_id is None or p.id == pack_id]
    if pack_id is not None and not packs:
        raise KeyError(f"no pack {pack_id!r}; packs: {', '.join(p.id for p in engine.packs)}")
    for pack in packs:
        for rule, example in pack.all_examples():
            run += 1
            failure = _run_example(engine, pack, rule, example)
            if failure:
                failures.append(failure)
    return run, failures


def _run_example(engine: RuleEngine, pack: Pack, rule: Rule | None, example: Example) -> ExampleFailure | None:
    field = example.field or pack.fields[0]
    hits = [
        h for h in engine.check(example.text, field, example.product_categories)
        if h.pack == pack.id and (rule is None or h.rule == rule.id)
    ]
    if bool(hits) == example.expect_hit:
        return None
    return ExampleFailure(pack.id, rule.id if rule else None, example.text, example.expect_hit, tuple(hits),
                          str(pack.path) if pack.path else None, example.line)
