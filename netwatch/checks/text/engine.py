"""The rule engine: listing text in, hits with offsets into the original text out.

One automaton holds every literal of every pack (keywords, exclusions, proximity terms); one pass
flags the regexes worth confirming with RE2 (linear time: no pack regex can stall a crawl). Candidates are then checked in order: short hits
split by sentence punctuation, Latin word boundaries, exclusions, cancelling and required nearby
terms, and - where a rule asks - jieba word boundaries. Plain Python: no Scrapy here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from netwatch import config
from netwatch.checks.text.evasion import apply_steps, fired_steps, on_syllables
from netwatch.checks.text.evasion_passes import EvasionPass, EvasionPasses
from netwatch.checks.text.hits import Hit, finish_hits
from netwatch.checks.text.matcher import HIT_GROUP, best_backend, build_matcher, compile_regex
from netwatch.checks.text.normalize import CJK_START, Normalized, collapse_repeats, normalize, normalize_term
from netwatch.checks.text.pack_examples import ExampleFailure, run_examples
from netwatch.checks.text.packs import Pack, PackError, Rule, load_packs
from netwatch.checks.text.segment import BoundaryChecker

CONTEXT_CHARS = 15  # original characters shown on each side of a match


@dataclass
class _Compiled:
    """A rule with its literals resolved to automaton ids."""

    pack_index: int
    pack: Pack
    rule: Rule
    severity: str
    legal_basis: str
    # Literal ids as sets: a candidate looks up the few literals its text holds in them, not each of a
    # list's (often dozens of) terms in the text's hits.
    exclusion_ids: frozenset[int]
    near: tuple[frozenset[int], int] | None
    cancels: tuple[tuple[frozenset[int], int], ...]
    regexes: tuple[Any, ...]  # RE2 patterns (compile_regex)


class RuleEngine:
    def __init__(self, packs: list[Pack], backend: str | None = None, context_chars: int = CONTEXT_CHARS):
        self.packs = packs
        self.context_chars = context_chars
        self._literal_ids: dict[str, int] = {}
        # literal id -> [(compiled rule index, True if the literal is the collapsed form)]
        self._keyword_uses: list[list[tuple[int, bool]]] = []
        self._regex_rules: list[int] = []
        self._regexes: list[Any] = []
        self._rules: list[_Compiled] = []
        boundary_words: set[str] = set()
        for pack_index, pack in enumerate(packs):
            for rule in pack.rules:
                self._rules.append(self._compile(pack_index, pack, rule, boundary_words))
        self._boundaries = BoundaryChecker(boundary_words)
        self._collapse_triggers = self._add_collapse_triggers()
        backend = backend or best_backend()
        self._evasions = EvasionPasses(self._literal_ids, self._keyword_uses, self._rules, self._regex_rules,
                                       self._regexes, backend)
        self._evasion_passes = self._evasions.passes
        self._gate_passes, self._gate_matcher = self._add_gate_literals(backend)
        self._matcher = build_matcher(list(self._literal_ids), [r.pattern for r in self._regexes], backend)
        # Collapsed repeats are read only by the rules that ask: a small automaton of just their terms.
        collapse_ids = sorted({
            literal_id
            for literal_id, uses in enumerate(self._keyword_uses) for _, collapsed_form in uses if collapsed_form
        } | {
            literal_id
            for c in self._rules if c.rule.collapse_repeats
            for literal_id in (*c.exclusion_ids, *(c.near[0] if c.near else ()), *(i for ids, _ in c.cancels for i in ids))
        })
        literals = list(self._literal_ids)
        self._collapse_ids = collapse_ids
        self._collapse_packs = frozenset(c.pack_index for c in self._rules if c.rule.collapse_repeats)
        self._collapse_matcher = (
            build_matcher([literals[i] for i in collapse_ids], [], self._matcher.name) if collapse_ids else None
        )
        # (field, product categories) -> (active pack indexes, whether a collapse_repeats rule is among them)
        self._plans: dict[tuple[str, frozenset[str]], tuple[frozenset[int], bool]] = {}
        self._scoped_rules = frozenset(
            i for i, c in enumerate(self._rules) if c.rule.product_categories or c.rule.except_product_categories)

    def _add_collapse_triggers(self) -> frozenset[int]:
        """Literals whose occurrence makes a collapsed pass worth running, scanned with everything else.

        A collapsed pass can only add a hit that spans a run of repeats (the uncollapsed pass judged the
        rest), so the run's character sits beside its neighbour in a keyword: for each pair ab of a
        collapse_repeats keyword, aab and abb (好好评, 好评评) - and aa for a one-character keyword.
        Latin letters and digits are never collapsed (cotton, 1000), so they give no trigger.
        """
        terms = [term for term, literal_id in self._literal_ids.items()
                 if any(collapsed_form for _, collapsed_form in self._keyword_uses[literal_id])]
        triggers: set[str] = set()
        for term in terms:
            if len(term) == 1 and ord(term) >= CJK_START:
                triggers.add(term * 2)
            for a, b in zip(term, term[1:]):
                if ord(a) >= CJK_START:
                    triggers.add(a + a + b)
                if ord(b) >= CJK_START:
                    triggers.add(a + b + b)
        ids = set()
        for trigger in sorted(triggers):
            if trigger not in self._literal_ids:
                self._literal_ids[trigger] = len(self._literal_ids)
                self._keyword_uses.append([])  # used by no rule: it only tells check() to collapse
            ids.add(self._literal_ids[trigger])
        return frozenset(ids)

    def _add_gate_literals(self, backend: str) -> tuple[dict[int, tuple[int, ...]], Any]:
        """The evasion passes' gate literals, scanned with every keyword in one pass over the text (a
        second automaton would cost a second scan of every text): (literal id -> the passes it opens,
        None). The plain-`re` baseline reports one literal per position, so a gate there could hide a
        keyword: it keeps its gate apart, ({gate index: passes}, that matcher)."""
        gates = self._evasions
        if not gates.gate_literals:
            return {}, None
        if backend == "re":
            passes = {index: (owner,) for index, owner in enumerate(gates.gate_owner)}
            return passes, build_matcher(gates.gate_literals, [], backend)
        opens: dict[int, set[int]] = {}
        for literal, owner in zip(gates.gate_literals, gates.gate_owner):
            if literal not in self._literal_ids:
                self._literal_ids[literal] = len(self._literal_ids)
                self._keyword_uses.append([])  # used by no rule: it only opens an evasion pass
            opens.setdefault(self._literal_ids[literal], set()).add(owner)
        return {literal_id: tuple(owners) for literal_id, owners in opens.items()}, None

    @classmethod
    def from_dir(cls, path: str | Path, backend: str | None = None) -> RuleEngine:
        """Load every `*.yaml` pack directly in `path`; raises PackError on the first broken one."""
        return cls(load_packs(path), backend=backend)

    @property
    def backend(self) -> str:
        return self._matcher.name

    def prepare(self) -> None:
        """Load now what matching would load on its first word-boundary check (jieba's dictionary, ~1 s),
        so that a long-running caller such as a crawl does not stall at that moment."""
        if self._boundaries.words:
            self._boundaries.tokenizer  # noqa: B018 - the property loads it

    # -- compiling -------------------------------------------------------------------------
    def _literal(self, term: str, pack: Pack, rule: Rule) -> int:
        normalised = normalize_term(term)
        if not normalised:
            raise PackError(pack.path or pack.id, rule.line, rule.id, f"term {term!r} is empty after normalisation")
        if normalised not in self._literal_ids:
            self._literal_ids[normalised] = len(self._literal_ids)
            self._keyword_uses.append([])
        return self._literal_ids[normalised]

    def _compile(self, pack_index: int, pack: Pack, rule: Rule, boundary_words: set[str]) -> _Compiled:
        index = len(self._rules)
        for keyword in rule.keywords:
            literal_id = self._literal(keyword, pack, rule)
            self._keyword_uses[literal_id].append((index, False))
            if rule.collapse_repeats:
                collapsed_id = self._literal(collapse_repeats(normalize(keyword)).text, pack, rule)
                self._keyword_uses[collapsed_id].append((index, True))
            if rule.word_boundary:
                boundary_words.add(normalize_term(keyword))
        for pattern in rule.regexes:
            self._regex_rules.append(index)
            self._regexes.append(compile_regex(pattern))

        def ids(terms: Iterable[str]) -> frozenset[int]:
            return frozenset(self._literal(t, pack, rule) for t in terms)

        cancels = [p for p in (rule.cancel_near, pack.cancel_near) if p]
        return _Compiled(
            pack_index=pack_index,
            pack=pack,
            rule=rule,
            severity=rule.severity or pack.severity,
            legal_basis=rule.legal_basis or pack.legal_basis,
            exclusion_ids=ids(rule.exclusions + pack.exclusions),
            near=(ids(rule.near.terms), rule.near.within) if rule.near else None,
            cancels=tuple((ids(p.terms), p.within) for p in cancels),
            regexes=tuple(self._regexes[-len(rule.regexes):]) if rule.regexes else (),
        )

    def _plan(self, field: str, categories: frozenset[str]) -> tuple[frozenset[int], bool]:
        key = (field, categories)
        plan = self._plans.get(key)
        if plan is None:
            active = frozenset(i for i, pack in enumerate(self.packs) if pack.applies_to(field, categories))
            plan = self._plans[key] = (active, self._collapse_matcher is not None and bool(active & self._collapse_packs))
        return plan

    # -- matching --------------------------------------------------------------------------
    def check(self, text: str | None, field: str = "title", product_categories: Iterable[str] = ()) -> list[Hit]:
        """Hits in one text read as `field` of an item of these product categories, in text order."""
        if not text:
            return []
        categories = frozenset(product_categories)
        active, may_collapse = self._plan(field, categories)
        if not active:
            return []
        norm = normalize(text)
        literal_hits, regex_ids = self._matcher.scan(norm.text)
        candidates: dict[tuple[int, int, int], Hit] = {}
        # Evasions are looked for in every text of a pack that opts in (an evasion hides the plain term).
        if self._evasion_passes and active & self._evasions.packs:
            done: dict = {}  # rewrites shared by the passes (evasion.apply_steps)
            gate_passes = self._gate_passes
            gate_hits = self._gate_matcher.scan(norm.text)[0] if self._gate_matcher is not None else literal_hits
            opened = {owner for literal_id, _, _ in gate_hits if literal_id in gate_passes
                      for owner in gate_passes[literal_id]}
            for index in self._evasions.open(norm.text, opened):
                evasion_pass = self._evasion_passes[index]
                if active & evasion_pass.packs:
                    self._match_evasion(evasion_pass, norm, active, field, candidates, done)
        if not literal_hits and not regex_ids:
            return finish_hits(self._in_scope(candidates, categories)) if candidates else []
        self._match(norm, literal_hits, regex_ids, active, field, False, candidates)
        if may_collapse and not self._collapse_triggers.isdisjoint([h[0] for h in literal_hits]):
            collapsed = collapse_repeats(norm)
            if collapsed is not norm:
                local_hits, _ = self._collapse_matcher.scan(collapsed.text)
                ids = self._collapse_ids
                hits = [(ids[local], start, end) for local, start, end in local_hits]
                self._match(collapsed, hits, (), active, field, True, candidates)
        return finish_hits(self._in_scope(candidates, categories)) if candidates else []

    def _in_scope(self, candidates: dict, categories: frozenset[str]) -> list[Hit]:
        """The hits of rules that read items of these product categories (a rule may narrow its pack's)."""
        if not categories or not self._scoped_rules:
            return list(candidates.values())
        return [hit for (rule_index, _, _), hit in candidates.items()
                if rule_index not in self._scoped_rules or self._rules[rule_index].rule.applies_to(categories)]

    def _match_evasion(self, evasion_pass: EvasionPass, norm: Normalized, active: frozenset[int], field: str,
                       out: dict, done: dict) -> None:
        steps = evasion_pass.steps
        if steps == ("initials",):
            chain, variant = [("initials", norm)], norm
        else:
            chain = apply_steps(norm, steps, done)
            variant = chain[-1][1]
            if variant is norm:
                return  # no step rewrote anything: the plain pass judged this text
        if evasion_pass.matcher is None:
            return
        local_hits, local_regexes = evasion_pass.matcher.scan(variant.text)
        hits = [(literal_id, start, end) for local, start, end in local_hits for literal_id in evasion_pass.ids[local]]
        regex_ids = [evasion_pass.regex_ids[local] for local in local_regexes]
        if hits or regex_ids:
            self._match(variant, hits, regex_ids, active, field, False, out, evasion=(evasion_pass, norm, chain))

    def check_fields(self, fields: Mapping[str, str | None], product_categories: Iterable[str] = ()) -> list[Hit]:
        """Hits in several fields of one item (field order kept, then text order)."""
        categories = frozenset(product_categories)
        hits: list[Hit] = []
        for field, text in fields.items():
            hits.extend(self.check(text, field, categories))
        return hits

    def _match(self, norm: Normalized, literal_hits: list[tuple[int, int, int]], regex_ids: Iterable[int],
               active: frozenset[int], field: str, collapsed: bool, out: dict, evasion: tuple | None = None) -> None:
        """Judge the candidates of one pass. `evasion`: (pass, the plainly normalised text, the chain of
        rewrites) when `norm` is an evasion rewrite: only that pass's rules, and only hits a step made."""
        found: dict[int, list[tuple[int, int]]] = {}
        for literal_id, start, end in literal_hits:
            found.setdefault(literal_id, []).append((start, end))
        rules = self._rules
        only = evasion[0].rules if evasion else None
        steps: tuple[str, ...] = ("collapse_repeats",) if collapsed else ()
        for literal_id, start, end in literal_hits:
            for rule_index, collapsed_form in self._keyword_uses[literal_id]:
                compiled = rules[rule_index]
                if compiled.pack_index not in active or collapsed_form != collapsed or (only and rule_index not in only):
                    continue
                if collapsed and not norm.spans_collapsed_run(start, end):
                    continue  # the same characters without a repeat: the uncollapsed pass judged them
                if evasion:
                    steps = self._evasion_steps(evasion, norm, start, end)
                    if not steps:
                        continue
                if self._accept(compiled, norm, start, end, found, literal=True, evasion=evasion):
                    self._add(out, rule_index, compiled, norm, start, end, field, steps)
        if collapsed:
            return  # regexes read the uncollapsed text only
        for regex_id in sorted(regex_ids):
            rule_index = self._regex_rules[regex_id]
            compiled = rules[rule_index]
            if compiled.pack_index not in active:
                continue
            regex = self._regexes[regex_id]
            group = regex.groupindex.get(HIT_GROUP, 0)
            for match in regex.finditer(norm.text):
                start, end = match.span(group)
                if end <= start:
                    continue
                if evasion:
                    steps = self._evasion_steps(evasion, norm, start, end)
                    if not steps:
                        continue
                if self._accept(compiled, norm, start, end, found, literal=False, evasion=evasion):
                    self._add(out, rule_index, compiled, norm, start, end, field, steps)

    @staticmethod
    def _evasion_steps(evasion: tuple, norm: Normalized, start: int, end: int) -> tuple[str, ...]:
        """The steps that made this hit of an evasion pass (empty: the plain pass judged the same text)."""
        evasion_pass, base, chain = evasion
        if "pinyin" in evasion_pass.steps and not on_syllables(norm, start, end):
            return ()
        o_start, o_end = norm.original_span(start, end)
        return fired_steps(base, chain, o_start, o_end)

    def _accept(self, compiled: _Compiled, norm: Normalized, start: int, end: int, found: dict, literal: bool,
                evasion: tuple | None = None) -> bool:
        text = norm.text
        # Stripping interference joins words across sentences (使用。收到 -> 用收).
        if norm.split_by_sentence(start, end):
            return False
        # Latin terms are words: "lv" is not a hit inside "silver" or "lvyuan".
        pinyin = evasion is not None and "pinyin" in evasion[0].steps  # whole pinyin text: on_syllables judged the edges
        if literal and not pinyin and (_is_latin(text, start) and _is_latin(text, start - 1) or _is_latin(text, end - 1) and _is_latin(text, end)):
            return False
        for literal_id in _present(found, compiled.exclusion_ids):
            for ex_start, ex_end in found[literal_id]:
                if ex_start < end and ex_end > start:
                    return False
        for ids, within in compiled.cancels:
            if _near(found, ids, start, end, within):
                return False
        if compiled.near and not _near(found, compiled.near[0], start, end, compiled.near[1]):
            return False
        latin_pass = evasion is not None and evasion[0].steps[-1] in ("pinyin", "initials")
        if compiled.rule.word_boundary and not latin_pass and not self._boundaries.on_boundaries(text, start, end):
            return False
        return True

    def _add(self, out: dict, rule_index: int, compiled: _Compiled, norm: Normalized, start: int, end: int, field: str,
             steps: tuple[str, ...] = ()) -> None:
        o_start, o_end = norm.original_span(start, end)
        key = (rule_index, o_start, o_end)
        if key in out:
            return
        original = norm.original
        c = self.context_chars
        out[key] = Hit(
            pack=compiled.pack.id,
            rule=compiled.rule.id,
            category=compiled.pack.category,
            severity=compiled.severity,
            field=field,
            start=o_start,
            end=o_end,
            match=original[o_start:o_end],
            context=original[max(0, o_start - c) : o_end + c],
            legal_basis=compiled.legal_basis,
            normalised=norm.text[start:end],
            steps=steps,
        )

    # -- the packs' own tests --------------------------------------------------------------
    def run_examples(self, pack_id: str | None = None) -> tuple[int, list[ExampleFailure]]:
        """Run every example (of one pack if given): (examples run, failures). See pack_examples."""
        return run_examples(self, pack_id)


def _is_latin(text: str, index: int) -> bool:
    return 0 <= index < len(text) and text[index].isascii() and text[index].isalnum()


def _present(found: dict, ids: frozenset[int]) -> Iterable[int]:
    """The literals of `ids` that the text holds (`found`: literal id -> spans), from the smaller side."""
    return [i for i in found if i in ids] if len(found) < len(ids) else [i for i in ids if i in found]


def _near(found: dict, ids: frozenset[int], start: int, end: int, within: int) -> bool:
    for literal_id in _present(found, ids):
        for term_start, term_end in found[literal_id]:
            if term_start < end + within and term_end > start - within:
                return True
    return False


def default_engine() -> RuleEngine:
    """The engine over netwatch.config.rules_dir() as it is now, built once per process and rules folder."""
    return _engine_for(config.rules_dir())


@cache
def _engine_for(rules_dir: Path) -> RuleEngine:
    return RuleEngine.from_dir(rules_dir)
