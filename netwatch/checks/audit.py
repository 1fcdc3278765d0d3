"""Precision on real texts: run the packs over a file of real titles the way the item path reads a
listing's title, and compare what they flag with a labels file (text, rule, verdict, reason).

A flagged (text, rule) pair is a true hit, a false positive, or unlabelled (to review); a pair
labelled true that is no longer flagged is a lost hit. Precision per rule counts labelled pairs only.
`netwatch rules audit` prints the report; tests/test_rules_audit.py holds the shipped packs to it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from netwatch.checks.item_path import clean, listing_text_hits
from netwatch.checks.text import Hit, Pack, RuleEngine
from netwatch.checks.text.evasion import STEPS as EVASION_STEPS
from netwatch.domain.items import Listing

TRUE_VERDICTS = {"true", "tp", "yes", "1", "是", "真"}
FALSE_VERDICTS = {"false", "fp", "no", "0", "否", "假"}
LABEL_COLUMNS = ("text", "rule", "verdict", "reason")


class AuditInputError(ValueError):
    """A texts or labels file that cannot be read: the message names the file and line."""


@dataclass(frozen=True)
class Label:
    text: str
    rule: str  # pack.rule
    verdict: bool
    reason: str
    line: int


@dataclass
class RuleReport:
    rule: str  # pack.rule
    flagged: int = 0
    true_hits: int = 0
    false_hits: list[tuple[str, Hit]] = field(default_factory=list)
    unlabelled: list[tuple[str, Hit]] = field(default_factory=list)
    lost: list[Label] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        labelled = self.true_hits + len(self.false_hits)
        return self.true_hits / labelled if labelled else None


@dataclass
class AuditReport:
    texts: int
    flagged_texts: int
    rules: dict[str, RuleReport]

    @property
    def true_hits(self) -> int:
        return sum(r.true_hits for r in self.rules.values())

    @property
    def false_hits(self) -> int:
        return sum(len(r.false_hits) for r in self.rules.values())

    @property
    def unlabelled(self) -> int:
        return sum(len(r.unlabelled) for r in self.rules.values())

    @property
    def lost(self) -> int:
        return sum(len(r.lost) for r in self.rules.values())

    @property
    def precision(self) -> float | None:
        labelled = self.true_hits + self.false_hits
        return self.true_hits / labelled if labelled else None


def read_texts(path: Path, column: str | None = None) -> list[str]:
    """One text per line, or a TSV with a header whose `column` (default: `text`, else `title`) holds the text."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise AuditInputError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        lines = raw.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise AuditInputError(f"{path}:{line}: not UTF-8 ({exc.reason})") from exc
    header = lines[0].split("\t") if lines else []
    wanted = [column] if column else ["text", "title", "标题"]
    index = next((header.index(name) for name in wanted if name in header), None)
    if column and index is None:
        raise AuditInputError(f"{path}:1: no column {column!r} in the header ({', '.join(header)})")
    if index is None:  # plain text: every non-empty line is a text
        return [line.strip() for line in lines if line.strip()]
    texts = []
    for number, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        if len(cells) <= index:
            raise AuditInputError(f"{path}:{number}: {len(cells)} columns, the text column is number {index + 1}")
        if cells[index].strip():
            texts.append(cells[index].strip())
    return texts


def read_labels(path: Path) -> list[Label]:
    """The labels TSV: header text, rule, verdict, reason; verdict true/false (tp/fp, 是/否)."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise AuditInputError(f"{path}: cannot read: {exc.strerror}") from exc
    labels: list[Label] = []
    with handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None or [h.strip() for h in header[:4]] != list(LABEL_COLUMNS):
            raise AuditInputError(f"{path}:1: the header must be {chr(9).join(LABEL_COLUMNS)!r}")
        for number, row in enumerate(reader, start=2):
            if not row or not "".join(row).strip():
                continue
            if len(row) < 3:
                raise AuditInputError(f"{path}:{number}: expected text, rule, verdict, reason")
            verdict = row[2].strip().lower()
            if verdict not in TRUE_VERDICTS | FALSE_VERDICTS:
                raise AuditInputError(f"{path}:{number}: verdict {row[2]!r} is neither true nor false")
            if "." not in row[1]:
                raise AuditInputError(f"{path}:{number}: rule {row[1]!r} must be written pack.rule")
            labels.append(Label(row[0].strip(), row[1].strip(), verdict in TRUE_VERDICTS,
                                row[3].strip() if len(row) > 3 else "", number))
    return labels


def title_hits(engine: RuleEngine, text: str) -> list[Hit]:
    """What the item path finds in a listing whose title is `text` (no category hints, as on a list page)."""
    listing = Listing(url="audit:", canonical_id="audit", platform="audit", title=text)
    clean(listing)
    return listing_text_hits(listing, engine, {"title": text})


def audit(engine: RuleEngine, texts: Iterable[str], labels: Iterable[Label] = ()) -> AuditReport:
    verdicts = {(label.text, label.rule): label for label in labels}
    reports: dict[str, RuleReport] = {}
    flagged: set[tuple[str, str]] = set()
    count = 0
    for text in texts:
        count += 1
        for hit in title_hits(engine, text):
            key = (text, f"{hit.pack}.{hit.rule}")
            if key in flagged:
                continue  # one text, one rule: one lead to judge however often the rule matches
            flagged.add(key)
            report = reports.setdefault(key[1], RuleReport(key[1]))
            report.flagged += 1
            label = verdicts.get(key)
            if label is None:
                report.unlabelled.append((text, hit))
            elif label.verdict:
                report.true_hits += 1
            else:
                report.false_hits.append((text, hit))
    for key, label in verdicts.items():
        if label.verdict and key not in flagged:
            reports.setdefault(label.rule, RuleReport(label.rule)).lost.append(label)
    return AuditReport(count, len({text for text, _ in flagged}), dict(sorted(reports.items())))


MESSAGES = {
    "zh": {
        "header": ("规则", "命中", "正确", "误报", "待标注", "丢失", "精确率"),
        "summary": "{texts} 条文本，{flagged} 条被命中；已标注命中 {labelled} 个，精确率 {precision}；误报 {fp} 个，待标注 {unlabelled} 个，丢失的正确命中 {lost} 个",
        "review": "待标注（请在标注文件中判定）：",
        "false": "已标注为误报却仍被命中：",
        "lost": "已标注为正确命中却未再命中：",
        "none": "—",
    },
    "en": {
        "header": ("rule", "flagged", "true", "false", "unlabelled", "lost", "precision"),
        "summary": "{texts} texts, {flagged} flagged; {labelled} labelled hits, precision {precision}; {fp} false positives, {unlabelled} unlabelled, {lost} true hits lost",
        "review": "Unlabelled hits to review (add them to the labels file):",
        "false": "Labelled false positives that are flagged again:",
        "lost": "Labelled true hits no longer flagged:",
        "none": "-",
    },
}


def format_precision(value: float | None, none: str) -> str:
    return none if value is None else f"{value:.2f}"


def evasion_cost(packs: list[Pack], texts: list[str]) -> dict[str, list[tuple[str, Hit]]]:
    """Each evasion step's false-positive cost on real texts: the (text, hit) pairs it adds when every
    rule with keywords or regexes opts into that step alone, against the packs with no evasion step."""
    def flagged(engine: RuleEngine) -> dict[tuple[str, str], Hit]:
        pairs: dict[tuple[str, str], Hit] = {}
        for text in texts:
            for hit in title_hits(engine, text):
                pairs.setdefault((text, f"{hit.pack}.{hit.rule}"), hit)
        return pairs

    def with_steps(steps: tuple[str, ...]) -> list[Pack]:
        return [replace(pack, rules=[replace(rule, evasions=steps) for rule in pack.rules]) for pack in packs]

    plain = flagged(RuleEngine(with_steps(())))
    cost: dict[str, list[tuple[str, Hit]]] = {}
    for step in EVASION_STEPS:
        added = flagged(RuleEngine(with_steps((step,))))
        cost[step] = [(text, hit) for (text, rule), hit in added.items() if (text, rule) not in plain]
    return cost
