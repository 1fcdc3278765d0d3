"""Run the check definitions' examples (rules/checks/*.yaml) through the real checks: `netwatch rules test` and the
checks' own tests call this, so an example that no longer holds fails with its file and line."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netwatch.checks.definitions import CheckDefinition, CheckExample, CheckRule


@dataclass(frozen=True)
class CheckExampleFailure:
    path: Path
    check: str
    rule: str
    example: CheckExample
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.example.line}: check {self.check} rule {self.rule}: {self.message} in {self.example.data!r}"


def _licence_rules(data: dict[str, Any]) -> set[str]:
    from netwatch.checks.licence import check_shop
    from netwatch.domain.items import Shop

    shop = Shop(platform="example", shop_id="example", url="http://example.invalid/shop", name="示例店铺", **data)
    return {hit.rule for hit in check_shop(shop)}


def _price_mark_rules(data: dict[str, Any]) -> set[str]:
    from netwatch.checks.price_marks import check_listing
    from netwatch.domain.items import Listing

    listing = Listing(url="http://example.invalid/item/1", canonical_id="1", platform="example", title="示例商品", **data)
    return {hit.rule for hit in check_listing(listing)}


def _price_history_rules(data: dict[str, Any]) -> set[str]:
    """One crawl per snapshot into a scratch SQLite store, each finished by the post-run step (which runs the
    price-history check), as a real crawl is."""
    from netwatch.analysis.post_run import finish
    from netwatch.domain.items import Listing
    from netwatch.store import Store

    snapshots = data.get("snapshots")
    if not isinstance(snapshots, list) or not snapshots:
        raise TypeError("needs snapshots: a list of {day, price, original?}")
    with tempfile.TemporaryDirectory(prefix="netwatch-example-") as folder:
        with Store(f"sqlite:///{Path(folder) / 'example.db'}") as store:
            for snapshot in snapshots:
                unknown = set(snapshot) - {"day", "price", "original"}
                if unknown:
                    raise TypeError(f"unknown snapshot key(s) {sorted(unknown)}")
                run = store.start_run("example")
                store.save_batch(run, [Listing(
                    url="http://example.invalid/item/1", canonical_id="1", platform="example", title="示例商品",
                    price=snapshot.get("price"), original_price=snapshot.get("original"), currency="CNY",
                    fetched_at=f"2024-05-{int(snapshot['day']):02d}T00:00:00Z")])
                finish(store, run, {}, "finished", score_reviews=False)
            return {lead["rule"].split("/", 1)[1] for lead in store.leads(limit=None)}


# The check that reads each definition's examples: its id -> example data -> the rules that hit.
RUNNERS: dict[str, Callable[[dict[str, Any]], set[str]]] = {
    "licence_display": _licence_rules,
    "price_marks": _price_mark_rules,
    "price_history": _price_history_rules,
}


def run_check_examples(definitions: dict[str, CheckDefinition],
                       check_id: str | None = None) -> tuple[int, list[CheckExampleFailure]]:
    """(examples run, failures) over every definition (or one): a hit example must raise its rule, a miss must not."""
    run, failures = 0, []
    for definition in definitions.values():
        if check_id is not None and definition.id != check_id:
            continue
        runner = RUNNERS.get(definition.id)
        for rule in definition.rules:
            for example in rule.examples:
                run += 1
                failure = _run_one(runner, definition, rule, example)
                if failure:
                    failures.append(CheckExampleFailure(definition.path, definition.id, rule.id, example, failure))
    return run, failures


def _run_one(runner, definition: CheckDefinition, rule: CheckRule, example: CheckExample) -> str | None:
    if runner is None:
        return f"no check reads the examples of {definition.id!r} (known: {', '.join(RUNNERS)})"
    try:
        hit_rules = runner(example.data)
    except (TypeError, ValueError, KeyError) as exc:
        return f"the example is not valid input for the check ({exc})"
    if example.expect_hit and rule.id not in hit_rules:
        return f"expected a hit, got {sorted(hit_rules) or 'none'}"
    if not example.expect_hit and rule.id in hit_rules:
        return "expected no hit"
    return None
