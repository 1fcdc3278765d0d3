"""Multi-pattern matching: every pack's literals in one automaton, every regex in one pass.

Backends, fastest first (figures in bench/bench_rules.py and MEASURED.md):
- `hyperscan`: literals and regexes in one database (regexes as PREFILTER expressions, confirmed by
  `re`), compiled once and cached in netwatch.config.cache_dir() with `dumpb`/`loadb`.
- `ahocorasick_rs`: a DFA over the literals; a regex runs only when its required literals occur.
- `pyahocorasick`: the same on UTF-8 bytes passed as latin-1 (15x faster than on str).
- `re`: one alternation; the baseline, and the fallback when no wheel installs.
`best_backend()` picks the first one that imports. All report literal hits as (literal id, start,
end) in characters of the scanned text, overlapping ones included, plus the regexes that may match.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence

# The stdlib regex parser (public as sre_parse before 3.11, which now warns on import).
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as _sre_parse
from typing import Protocol

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


def _leading_literal(items) -> str:
    run = []
    for op, arg in items:
        if op is not sre_constants.LITERAL:
            break
        run.append(chr(arg).lower())
    return "".join(run)


def _alternatives(op, arg) -> list[str] | None:
    """The literals one of which every match of a top-level group or alternation starts with, if known."""
    if op is sre_constants.SUBPATTERN:
        body = list(arg[-1])
        if len(body) == 1 and body[0][0] in (sre_constants.BRANCH, sre_constants.IN):
            op, arg = body[0]
        else:
            literal = _leading_literal(body)
            return [literal] if literal else None
    if op is sre_constants.BRANCH:
        starts = [_leading_literal(list(branch)) for branch in arg[1]]
        return starts if all(starts) else None
    if op is sre_constants.IN and all(item_op is sre_constants.LITERAL for item_op, _ in arg):  # (返|送) is [返送]
        return [chr(code).lower() for _, code in arg]
    return None


def required_literal_sets(pattern: str) -> list[list[str]]:
    """Sets of literals every match of `pattern` contains one of (top level only: nothing inside an
    optional repeat), longest literal runs first. 好评.{0,9}返 -> [[好评], [返]]; (a|bc)x -> [[x], [a, bc]]."""
    try:
        parsed = _sre_parse.parse(pattern, REGEX_FLAGS)
    except re.error:
        return []
    runs: list[str] = []
    groups: list[list[str]] = []
    run: list[str] = []
    for op, arg in list(parsed) + [(None, None)]:
        if op is sre_constants.LITERAL:
            run.append(chr(arg).lower())
            continue
        if run and "".join(run) not in runs:
            runs.append("".join(run))
        run = []
        alternatives = _alternatives(op, arg) if op is not None else None
        if alternatives and sorted(set(alternatives)) not in groups:
            groups.append(sorted(set(alternatives)))
    return [[literal] for literal in sorted(runs, key=len, reverse=True)] + groups


def required_literal(pattern: str) -> str | None:
    """The longest run of literal characters every match of `pattern` must contain, if any."""
    runs = [group[0] for group in required_literal_sets(pattern) if len(group) == 1]
    return max(runs, key=len) if runs else None


class _PrefilteredRegexes:
    """Regexes confirmed only when each of their required literal sets occurs; those without one run on
    every text. All sets, not just the longest literal: a short literal alone (好评, 元) is in many texts.
    """

    def __init__(self, regexes: Sequence[str], first_id: int):
        self.trigger_literals: list[str] = []  # distinct; pattern id = first_id + index
        self.literal_regexes: list[list[int]] = []  # trigger literal index -> regexes that need it
        self.needs: list[tuple[frozenset[int], ...]] = []  # regex id -> sets of literal indexes, one of each
        self.always: set[int] = set()
        index_of: dict[str, int] = {}
        for regex_id, pattern in enumerate(regexes):
            needed = []
            groups = required_literal_sets(pattern)
            # A one-character literal (元, 送) occurs in most texts: each occurrence would cost a hit.
            selective = [group for group in groups if min(map(len, group)) > 1]
            for group in selective or groups:
                indexes = set()
                for literal in group:
                    if literal not in index_of:
                        index_of[literal] = len(self.trigger_literals)
                        self.trigger_literals.append(literal)
                        self.literal_regexes.append([])
                    self.literal_regexes[index_of[literal]].append(regex_id)
                    indexes.add(index_of[literal])
                needed.append(frozenset(indexes))
            self.needs.append(tuple(needed))
            if not needed:
                self.always.add(regex_id)
        self.first_id = first_id

    def split(self, hits: list[tuple[int, int, int]]) -> tuple[list[tuple[int, int, int]], set[int]]:
        first = self.first_id
        literal_hits = [h for h in hits if h[0] < first]
        if len(literal_hits) == len(hits):
            return hits, set(self.always)
        seen = {h[0] - first for h in hits if h[0] >= first}
        regex_ids = set(self.always)
        for literal in seen:
            for regex_id in self.literal_regexes[literal]:
                if regex_id not in regex_ids and all(not group.isdisjoint(seen) for group in self.needs[regex_id]):
                    regex_ids.add(regex_id)
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
    """Turn UTF-8 byte offsets into character offsets (only texts with hits pay for it): every offset is
    a character boundary, so the text is decoded once, piece by piece between the offsets in order
    (a handful per text; cheaper than numpy's fixed cost per call on 2 KB)."""
    if not hits or len(data) == len(text):
        return hits
    chars_at: dict[int, int] = {}
    chars = last = 0
    for offset in sorted({offset for _, start, end in hits for offset in (start, end)}):
        chars += len(data[last:offset].decode("utf-8"))
        chars_at[offset] = chars
        last = offset
    return [(literal, chars_at[start], chars_at[end]) for literal, start, end in hits]


class PyAhoCorasickMatcher:
    name = "pyahocorasick"

    def __init__(self, literals: Sequence[str], regexes: Sequence[str]):
        import ahocorasick

        self.prefilter = _PrefilteredRegexes(regexes, len(literals))
        self.automaton = ahocorasick.Automaton()
        # A key holds every pattern id spelled that way: a keyword may also be a regex's required literal.
        ids: dict[str, list[int]] = {}
        for pattern_id, literal in enumerate(list(literals) + self.prefilter.trigger_literals):
            ids.setdefault(literal.encode("utf-8").decode("latin-1"), []).append(pattern_id)
        for key, pattern_ids in ids.items():
            self.automaton.add_word(key, (tuple(pattern_ids), len(key)))
        self.empty = len(self.automaton) == 0
        if not self.empty:
            self.automaton.make_automaton()

    def scan(self, text: str) -> tuple[list[tuple[int, int, int]], set[int]]:
        if self.empty:
            return [], set(self.prefilter.always)
        data = text.encode("utf-8")
        hits = [
            (pid, end + 1 - size, end + 1)
            for end, (pids, size) in self.automaton.iter(data.decode("latin-1")) for pid in pids
        ]
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
        expressions: list[bytes] = [_hs_escape(lit) for lit in literals]
        flags: list[int] = [0] * len(literals)  # byte literals: UTF-8 is self-synchronising, and UTF8 mode is slower
        ids: list[int] = list(range(len(literals)))
        regex_flags = (  # PREFILTER: hyperscan only says "may match"; `re` confirms and gives the span
            hyperscan.HS_FLAG_UTF8 | hyperscan.HS_FLAG_UCP | hyperscan.HS_FLAG_CASELESS
            | hyperscan.HS_FLAG_PREFILTER | hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_ALLOWEMPTY
        )
        regex_expressions = [portable_pattern(pattern).encode("utf-8") for pattern in regexes]
        regex_ids = [len(literals) + regex_id for regex_id in range(len(regexes))]
        # Some regex may use a construct hyperscan refuses even as a prefilter: `re` runs those on every text.
        self.database, refused = _hs_database(
            expressions + regex_expressions, flags + [regex_flags] * len(regexes), ids + regex_ids,
            first_testable=len(expressions),
        )
        self.always = {position - len(expressions) for position in refused}

    def scan(self, text: str) -> tuple[list[tuple[int, int, int]], set[int]]:
        if self.database is None:
            return [], set(self.always)
        data = text.encode("utf-8")
        matches: list[tuple[int, int]] = []  # (pattern id, end): the callback does as little as it can
        self.database.scan(data, match_event_handler=_collect_match, context=matches)
        regex_ids = set(self.always)
        if not matches:
            return [], regex_ids
        count, sizes = self.literal_count, self.literal_bytes
        found: list[tuple[int, int, int]] = []
        for pattern_id, end in matches:
            if pattern_id < count:
                found.append((pattern_id, end - sizes[pattern_id], end))
            else:
                regex_ids.add(pattern_id - count)
        return _byte_to_char(text, data, found), regex_ids


def _collect_match(pattern_id: int, start: int, end: int, flags: int, matches: list[tuple[int, int]]) -> None:
    matches.append((pattern_id, end))


def _hs_escape(literal: str) -> bytes:
    """The literal's UTF-8 bytes as a pattern: ASCII letters and digits as themselves, every other byte escaped."""
    return "".join(chr(b) if chr(b).isascii() and chr(b).isalnum() else f"\\x{b:02x}" for b in literal.encode("utf-8")).encode()


# Python's `{,n}` (zero to n) is a literal to hyperscan's and RE2's parsers; escapes are skipped whole (\\{,3}).
_PY_ONLY_QUANTIFIER = re.compile(r"\\.|\{,(\d+)\}", re.DOTALL)
HIT_GROUP = "hit"  # a regex's group of this name is the hit; the rest is context (what a lookbehind did under `re`)


def portable_pattern(pattern: str) -> str:
    """The pattern in the syntax hyperscan and RE2 read the same way as Python's `re`."""
    return _PY_ONLY_QUANTIFIER.sub(lambda m: f"{{0,{m.group(1)}}}" if m.group(1) else m.group(0), pattern)


def compile_regex(pattern: str):
    """A pack regex on RE2, whose matching time is linear in the text (a backtracking `re` takes 40 s for
    `(a|aa)+b` on 42 characters); raises ValueError with RE2's reason for what it cannot run
    (lookaround, backreferences)."""
    import re2

    options = re2.Options()
    options.case_sensitive = not REGEX_FLAGS & re.IGNORECASE
    options.log_errors = False  # the reason goes into the PackError, not to stderr
    try:
        return re2.compile(portable_pattern(pattern), options)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(reason) from None


def _hs_compiles(expression: bytes, flags: int) -> bool:
    import hyperscan

    try:
        hyperscan.Database().compile(expressions=[expression], flags=[flags], ids=[0])
    except hyperscan.error:
        return False
    return True


def _hs_database(expressions: list[bytes], flags: list[int], ids: list[int], first_testable: int):
    """Compile, or load what was compiled earlier for exactly these patterns (20k take seconds):
    (database or None, positions of the expressions hyperscan refused).

    When the whole set fails, each expression from `first_testable` on is tried alone and the refused
    ones left out; that verdict is cached with the database, so it is not tried again on the next build.
    """
    import hyperscan

    digest = hashlib.sha256(b"with refusals\0")  # the file format: a header line, then dumpb's bytes
    for expression, flag, pattern_id in zip(expressions, flags, ids):
        digest.update(b"%d:%d:%s\0" % (pattern_id, flag, expression))
    path = config.cache_dir() / f"hyperscan-{hyperscan.__version__}-{digest.hexdigest()[:24]}.db"
    if path.exists():
        try:
            header, _, blob = path.read_bytes().partition(b"\n")
            tag, *positions = header.split()  # b"refused 3 17"
            if tag != b"refused":
                raise ValueError(f"{path} is not a netwatch hyperscan cache")
            refused = [int(position) for position in positions]
            database = hyperscan.loadb(blob, hyperscan.HS_MODE_BLOCK) if blob else None
            if database is not None:
                database.scratch = hyperscan.Scratch(database)  # loadb gives a database without scratch space
            return database, refused
        except (hyperscan.error, ValueError):
            path.unlink(missing_ok=True)  # another platform's, an older format or a damaged file: rebuild
    refused: list[int] = []
    try:
        database = _hs_compile(expressions, flags, ids)
    except hyperscan.error:
        refused = [i for i in range(first_testable, len(expressions)) if not _hs_compiles(expressions[i], flags[i])]
        kept = sorted(set(range(len(expressions))) - set(refused))
        database = _hs_compile([expressions[i] for i in kept], [flags[i] for i in kept], [ids[i] for i in kept])
    header = b" ".join([b"refused", *(b"%d" % i for i in refused)])
    tmp = path.with_suffix(f".{os.getpid()}.{id(refused)}.tmp")
    tmp.write_bytes(header + b"\n" + (hyperscan.dumpb(database) if database is not None else b""))
    tmp.replace(path)  # atomic: parallel builds never read a half-written file
    return database, refused


def _hs_compile(expressions: list[bytes], flags: list[int], ids: list[int]):
    import hyperscan

    if not expressions:
        return None
    database = hyperscan.Database()
    database.compile(expressions=expressions, flags=flags, ids=ids)
    return database
