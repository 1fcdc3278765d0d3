"""Multi-pattern matching: every pack's literals in one automaton, every regex in one pass.

Backends, fastest first (figures in bench/bench_rules.py and MEASURED.md):
- `hyperscan`: literals and regexes in one database (regexes as PREFILTER expressions, confirmed by
  `re`), compiled once and cached in netwatch.config.cache_dir() with `dumpb`/`loadb`.
- `ahocorasick_rs`: a DFA over the literals; regexes run only when their required literal occurs.
- `pyahocorasick`: the same on UTF-8 bytes passed as latin-1 (15x faster than on str).
- `re`: one alternation; the baseline, and the fallback when no wheel installs.
`best_backend()` picks the first one that imports. All report literal hits as (literal id, start,
end) in characters of the scanned text, overlapping ones included, plus the regexes that may match.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Protocol

# The stdlib regex parser (public as sre_parse before 3.11, which now warns on import).
from re import _constants as sre_constants, _parser as _sre_parse  # type: ignore[attr-defined]

from netwatch import config

BACKENDS = ("hyperscan", "ahocorasick_rs", "pyahocorasick", "re")
REGEX_FLAGS = re.IGNORECASE  # texts are lower-cased already; the flag keeps hand-written [A-Z] working


class Matcher(Protocol):
    name: str

    def scan(self, text: str) -> tuple[list[tuple[int, int, int]], set[int]]:
        """(literal id, start, end) for every literal occurrence, and the ids of regexes to confirm."""
        ...


def best_backend() -> str:
    for name in BACKENDS[:-1]:
        try:
            __import__("ahocorasick" if name == "pyahocorasick" else name)
        except ImportError:
            continue
        return name
    return "re"


def build_matcher(literals: Sequence[str], regexes: Sequence[str], backend: str | None = None) -> Matcher:
    backend = backend or best_backend()
    if backend == "hyperscan":
        return HyperscanMatcher(literals, regexes)
    if backend == "ahocorasick_rs":
        return AhoCorasickRsMatcher(literals, regexes)
    if backend == "pyahocorasick":
        return PyAhoCorasickMatcher(literals, regexes)
    if backend == "re":
        return ReMatcher(literals, regexes)
    raise ValueError(f"unknown matcher backend {backend!r}; choose from {', '.join(BACKENDS)}")


def required_literal(pattern: str) -> str | None:
    """The longest run of literal characters every match of `pattern` must contain, if any.

    Only top-level literals count (not those inside alternations or optional repeats), so the
    prefilter never hides a match.
    """
    try:
        parsed = _sre_parse.parse(pattern, REGEX_FLAGS)
    except re.error:
        return None
    best, run = "", []
    for op, arg in list(parsed) + [(None, None)]:
        if op is sre_constants.LITERAL:
            run.append(chr(arg).lower())
            continue
        if len(run) > len(best):
            best = "".join(run)
        run = []
    return best or None


class _PrefilteredRegexes:
    """Regexes triggered by their required literal; those without one run on every text."""

    def __init__(self, regexes: Sequence[str], first_id: int):
        self.trigger_literals: list[str] = []
        self.trigger_regex: list[int] = []
        self.always: set[int] = set()
        for regex_id, pattern in enumerate(regexes):
            literal = required_literal(pattern)
            if literal:
                self.trigger_literals.append(literal)
                self.trigger_regex.append(regex_id)
            else:
                self.always.add(regex_id)
        self.first_id = first_id

    def split(self, hits: list[tuple[int, int, int]]) -> tuple[list[tuple[int, int, int]], set[int]]:
        first = self.first_id
        literal_hits = [h for h in hits if h[0] < first]
        if len(literal_hits) == len(hits):
            return hits, set(self.always)
        regex_ids = set(self.always)
        regex_ids.update(self.trigger_regex[h[0] - first] for h in hits if h[0] >= first)
        return literal_hits, regex_ids


class AhoCorasickRsMatcher:
    name = "ahocorasick_rs"

    def __init__(self, literals: Sequence[str], regexes: Sequence[str]):
        import ahocorasick_rs

        self.prefilter = _PrefilteredRegexes(regexes, len(literals))
        patterns = list(literals) + self.prefilter.trigger_literals
        self.automaton = ahocorasick_rs.AhoCorasick(
            patterns, matchkind=ahocorasick_rs.MatchKind.Standard, implementation=ahocorasick_rs.Implementation.DFA
        ) if patterns else None

    def scan(self, text: str) -> tuple[list[tuple[int, int, int]], set[int]]:
        if self.automaton is None:
            return [], set(self.prefilter.always)
        return self.prefilter.split(self.automaton.find_matches_as_indexes(text, overlapping=True))


def _byte_to_char(text: str, data: bytes, hits: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Turn UTF-8 byte offsets into character offsets (only the few hits pay for it)."""
    if len(data) == len(text):
        return hits
    cache: dict[int, int] = {}

    def char(offset: int) -> int:
        if offset not in cache:
            cache[offset] = len(data[:offset].decode("utf-8", "ignore"))
        return cache[offset]

    return [(i, char(s), char(e)) for i, s, e in hits]


class PyAhoCorasickMatcher:
    name = "pyahocorasick"

    def __init__(self, literals: Sequence[str], regexes: Sequence[str]):
        import ahocorasick

        self.prefilter = _PrefilteredRegexes(regexes, len(literals))
        self.automaton = ahocorasick.Automaton()
        for pattern_id, literal in enumerate(list(literals) + self.prefilter.trigger_literals):
            key = literal.encode("utf-8").decode("latin-1")
            self.automaton.add_word(key, (pattern_id, len(key)))
        self.empty = len(self.automaton) == 0
        if not self.empty:
            self.automaton.make_automaton()

    def scan(self, text: str) -> tuple[list[tuple[int, int, int]], set[int]]:
        if self.empty:
            return [], set(self.prefilter.always)
        data = text.encode("utf-8")
        hits = [(pid, end + 1 - size, end + 1) for end, (pid, size) in self.automaton.iter(data.decode("latin-1"))]
        literal_hits, regex_ids = self.prefilter.split(hits)
        return _byte_to_char(text, data, literal_hits), regex_ids


class ReMatcher:
    """One `re` alternation inside a lookahead (so overlapping occurrences are found), longest first.

    The baseline: at one position it reports only the longest literal (象牙制品, not also 象牙).
    """

    name = "re"

    def __init__(self, literals: Sequence[str], regexes: Sequence[str]):
        self.prefilter = _PrefilteredRegexes(regexes, len(literals))
        patterns = list(literals) + self.prefilter.trigger_literals
        self.ids: dict[str, list[int]] = {}
        for pattern_id, literal in enumerate(patterns):
            self.ids.setdefault(literal, []).append(pattern_id)
        ordered = sorted(self.ids, key=len, reverse=True)
        self.regex = re.compile("(?=(" + "|".join(map(re.escape, ordered)) + "))") if ordered else None

    def scan(self, text: str) -> tuple[list[tuple[int, int, int]], set[int]]:
        if self.regex is None:
            return [], set(self.prefilter.always)
        hits = [(pid, m.start(), m.start() + len(m.group(1))) for m in self.regex.finditer(text) for pid in self.ids[m.group(1)]]
        return self.prefilter.split(hits)


class HyperscanMatcher:
    name = "hyperscan"

    def __init__(self, literals: Sequence[str], regexes: Sequence[str]):
        import hyperscan

        self.literal_count = len(literals)
        self.literal_bytes = [len(lit.encode("utf-8")) for lit in literals]
        self.always: set[int] = set()
        expressions: list[bytes] = [_hs_escape(lit) for lit in literals]
        flags: list[int] = [0] * len(literals)  # byte literals: UTF-8 is self-synchronising, and UTF8 mode is slower
        ids: list[int] = list(range(len(literals)))
        regex_flags = (  # PREFILTER: hyperscan only says "may match"; `re` confirms and gives the span
            hyperscan.HS_FLAG_UTF8 | hyperscan.HS_FLAG_UCP | hyperscan.HS_FLAG_CASELESS
            | hyperscan.HS_FLAG_PREFILTER | hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_ALLOWEMPTY
        )
        regex_expressions = [pattern.encode("utf-8") for pattern in regexes]
        regex_ids = [len(literals) + regex_id for regex_id in range(len(regexes))]
        try:
            self.database = _hs_database(
                expressions + regex_expressions, flags + [regex_flags] * len(regexes), ids + regex_ids
            ) if expressions or regexes else None
        except hyperscan.error:
            # Some regex uses a construct hyperscan refuses even as a prefilter: `re` runs those on every text.
            accepted = [i for i, pattern in enumerate(regexes) if _hs_compiles(pattern, regex_flags)]
            self.always = set(range(len(regexes))) - set(accepted)
            self.database = _hs_database(
                expressions + [regex_expressions[i] for i in accepted], flags + [regex_flags] * len(accepted),
                ids + [regex_ids[i] for i in accepted],
            ) if expressions or accepted else None

    def scan(self, text: str) -> tuple[list[tuple[int, int, int]], set[int]]:
        if self.database is None:
            return [], set(self.always)
        data = text.encode("utf-8")
        found: list[tuple[int, int, int]] = []
        regex_ids = set(self.always)
        count, sizes = self.literal_count, self.literal_bytes

        def on_match(pattern_id: int, start: int, end: int, flags: int, context: object) -> None:
            if pattern_id < count:
                found.append((pattern_id, end - sizes[pattern_id], end))
            else:
                regex_ids.add(pattern_id - count)

        self.database.scan(data, match_event_handler=on_match)
        return _byte_to_char(text, data, found), regex_ids


def _hs_escape(literal: str) -> bytes:
    """The literal's UTF-8 bytes as a pattern: ASCII letters and digits as themselves, every other byte escaped."""
    return "".join(chr(b) if chr(b).isascii() and chr(b).isalnum() else "\\x%02x" % b for b in literal.encode("utf-8")).encode()


def _hs_compiles(pattern: str, flags: int) -> bool:
    import hyperscan

    try:
        hyperscan.Database().compile(expressions=[pattern.encode("utf-8")], flags=[flags], ids=[0])
    except hyperscan.error:
        return False
    return True


def _hs_database(expressions: list[bytes], flags: list[int], ids: list[int]):
    """Compile, or load the database compiled earlier for exactly these patterns (compiling 20k takes ~1 s)."""
    import hyperscan

    digest = hashlib.sha256()
    for expression, flag, pattern_id in zip(expressions, flags, ids):
        digest.update(b"%d:%d:%s\0" % (pattern_id, flag, expression))
    path = config.cache_dir() / f"hyperscan-{hyperscan.__version__}-{digest.hexdigest()[:24]}.db"
    if path.exists():
        try:
            database = hyperscan.loadb(path.read_bytes(), hyperscan.HS_MODE_BLOCK)
            database.scratch = hyperscan.Scratch(database)  # loadb gives a database without scratch space
            return database
        except hyperscan.error:
            path.unlink(missing_ok=True)  # another platform's or a damaged database: rebuild
    database = hyperscan.Database()
    database.compile(expressions=expressions, flags=flags, ids=ids)
    tmp = path.with_suffix(f".{id(database)}.tmp")
    tmp.write_bytes(hyperscan.dumpb(database))
    tmp.replace(path)
    return database
