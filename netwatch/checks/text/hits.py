"""A rule's hit: where in a field's original text, which rule, and why; and the clean-up of one text's hits."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from netwatch.checks.text.packs import SEVERITIES


@dataclass(frozen=True)
class Hit:
    pack: str
    rule: str
    category: str
    severity: str
    field: str
    start: int  # offsets into the original text of the field
    end: int
    match: str  # the original span, evasion characters included (象@牙)
    context: str
    legal_basis: str
    normalised: str = ""  # the matched text as the rule read it (象牙 for 象@牙, xiangya for 象ya)
    steps: tuple[str, ...] = ()  # the opt-in steps the hit needed (collapse_repeats, pinyin, homophones …)

    def to_dict(self) -> dict:
        return asdict(self)


def finish_hits(hits: Iterable[Hit]) -> list[Hit]:
    """Sort by position; drop a hit overlapping an earlier or longer one of the same rule (第一 inside
    全网第一) and a second rule's hit on exactly the same span of the same pack (one phrase, one hit)."""
    ordered = sorted(hits, key=lambda h: (h.start, -h.end, h.pack, -SEVERITIES.index(h.severity), h.rule))
    kept: list[Hit] = []
    for hit in ordered:
        if any(
            k.pack == hit.pack
            and (
                (k.rule == hit.rule and k.start < hit.end and hit.start < k.end)
                or (k.start, k.end) == (hit.start, hit.end)
            )
            for k in kept
        ):
            continue
        kept.append(hit)
    return sorted(kept, key=lambda h: (h.start, h.end, h.pack, h.rule))
