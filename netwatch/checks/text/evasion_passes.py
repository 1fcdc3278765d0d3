"""The engine's evasion passes: rules grouped by the rewrite their opt-in steps ask for
(netwatch.checks.text.evasion), each group's literals spelled as that rewrite spells them, and the
gates that decide which passes a text is worth rewriting for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netwatch.checks.text.evasion import has_han, passes_for, transform_term
from netwatch.checks.text.evasion_gates import gate_patterns, latin_spaced
from netwatch.checks.text.matcher import build_matcher, required_literal_sets


@dataclass
class EvasionPass:
    """Rules that opted into the same evasion rewrite, and their literals as that rewrite spells them."""

    steps: tuple[str, ...]
    rules: frozenset[int]
    packs: frozenset[int]
    matcher: Any
    ids: list[list[int]]  # matcher pattern -> the engine's literal ids spelled that way
    regex_ids: tuple[int, ...]  # the matcher's regex n is the engine's regex regex_ids[n]


class EvasionPasses:
    """Built once per engine from its literals and compiled rules; `open(text)` names the passes to run."""

    def __init__(self, literal_ids: dict[str, int], keyword_uses: list[list[tuple[int, bool]]], rules: list[Any],
                 regex_rules: list[int], regexes: list[Any], backend: str):
        self.literal_ids = literal_ids
        self.keyword_uses = keyword_uses
        self.compiled = rules  # the engine's compiled rules
        self.regex_rules = regex_rules
        self.regexes = regexes
        self.backend = backend
        self.passes = self._build()

    def _build(self) -> list[EvasionPass]:
        """One pass per rewrite the rules' opt-in evasion steps ask for, with a small automaton of those
        rules' literals spelled as the rewritten text spells them."""
        by_steps: dict[tuple[str, ...], list[int]] = {}
        for index, compiled in enumerate(self.compiled):
            for steps in passes_for(compiled.rule.evasions):
                by_steps.setdefault(steps, []).append(index)
        literals = list(self.literal_ids)
        passes = []
        for steps, rule_indexes in by_steps.items():
            literal_ids = sorted({
                literal_id for literal_id, uses in enumerate(self.keyword_uses)
                for rule_index, collapsed_form in uses if rule_index in rule_indexes and not collapsed_form
            } | {
                literal_id for i in rule_indexes for c in (self.compiled[i],)
                for literal_id in (*c.exclusion_ids, *(c.near[0] if c.near else ()), *(x for ids, _ in c.cancels for x in ids))
            })
            spelled: dict[str, list[int]] = {}
            for literal_id in literal_ids:
                if "pinyin" in steps and not has_han(literals[literal_id]):
                    continue  # a Latin term (rhino horn): the plain pass reads it; this pass is for CJK terms spelled in pinyin
                term = transform_term(literals[literal_id], steps)
                if term:
                    spelled.setdefault(term, []).append(literal_id)
            regex_ids = () if steps[-1] in ("initials", "pinyin") else tuple(
                regex_id for regex_id, rule_index in enumerate(self.regex_rules) if rule_index in rule_indexes)
            passes.append(EvasionPass(
                steps=steps,
                rules=frozenset(rule_indexes),
                packs=frozenset(self.compiled[i].pack_index for i in rule_indexes),
                # The pass's regexes are prefiltered by the same automaton (most rewritten texts hold none of
                # their required literals), as the plain pass prefilters every regex.
                matcher=build_matcher(list(spelled), [self.regexes[i].pattern for i in regex_ids], self.backend)
                if spelled or regex_ids else None,
                ids=list(spelled.values()),
                regex_ids=regex_ids,
            ))
        self._build_gate(passes)
        return passes

    def _build_gate(self, passes: list[EvasionPass]) -> None:
        """Gates (evasion_gates.gate_patterns): a text is rewritten for a pass only when it holds one of the
        pass's gate patterns, so most texts cost nothing but what the plain pass already paid. Character
        passes' gate literals (`gate_literals`) go into the engine's one automaton, scanned with every
        keyword; pinyin and initials passes' gate words are scanned for as whole words (latin_spaced)."""
        self.gate_literals: list[str] = []
        self.gate_owner: list[int] = []  # gate literal index -> pass index
        word_owners: dict[str, list[int]] = {}  # gate word -> the pinyin and initials passes it opens
        literals = list(self.literal_ids)
        for index, evasion_pass in enumerate(passes):
            regex_terms = [literal for regex_id in evasion_pass.regex_ids
                           for group in required_literal_sets(self.regexes[regex_id].pattern) for literal in group]
            sources = [literals[literal_id] for ids in evasion_pass.ids for literal_id in ids]
            terms = gate_patterns(evasion_pass.steps, sources + regex_terms)
            if evasion_pass.steps[-1] in ("pinyin", "initials"):
                for term in terms:
                    word_owners.setdefault(term, []).append(index)
            else:
                self.gate_literals += terms
                self.gate_owner += [index] * len(terms)
        self.packs = frozenset(p for evasion_pass in passes for p in evasion_pass.packs)
        # The words are looked for as literals " word " in the text with every non-letter made a space
        # (latin_spaced): whole words only, found by one automaton scan with no word list built per text.
        self._word_owners = [tuple(owners) for owners in word_owners.values()]
        self._word_matcher = (build_matcher([f" {word} " for word in word_owners], [], self.backend)
                              if word_owners else None)

    def open(self, text: str, opened: set[int]) -> list[int]:
        """The passes to run on `text`: `opened` (the passes whose gate literals the engine's scan found,
        by `gate_owner`) and those whose gate words it holds as whole words."""
        if self._word_matcher is not None:
            owners = self._word_owners
            for word, _, _ in self._word_matcher.scan(latin_spaced(text))[0]:
                opened.update(owners[word])
        return sorted(opened)
