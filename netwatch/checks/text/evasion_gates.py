"""The gates of the evasion passes (netwatch.checks.text.evasion): what a text must hold for a pass to be
worth rewriting it, so that most texts cost the passes nothing. Character passes' gates are literals the
engine scans with every keyword; pinyin and initials passes' gates are whole Latin words."""

from __future__ import annotations

from netwatch.checks.text.evasion import (
    AMOUNT_UNITS,
    CHINESE_DIGITS,
    CHINESE_UNITS,
    HOMOPHONES,
    SPLIT_CHARACTERS,
    has_han,
    pinyin_initials,
    syllables,
    transform_term,
)

INSERTED = "abcdefghijklmnopqrstuvwxyz0123456789"  # what the insertions step drops between two CJK characters


def gate_patterns(steps: tuple[str, ...], terms: list[str]) -> list[str]:
    """Literals one of which a text must hold for this pass to find anything; the engine
    scans them with its fast matcher before rewriting (most texts hold none, and skip the pass). `terms`: the
    pass's literals as the rule writes them (normalised, not yet rewritten by the pass's steps).

    A step's change must fall inside a hit, next to a character the term has there: a homophone beside
    its term's neighbour (象讶, 像牙 - not 像 in 好像是), a letter between two adjacent characters of a
    term (象a牙); split pairs and amounts (伍元) are rare enough to count wherever they are. For pinyin,
    the text must hold a Latin word (of 2+ letters) spelling whole syllables of a term (pinyin_gate_words), and for
    initials one of the initials as a word: the "literals" are those words, which the engine looks up
    as whole words of the text (latin_spaced). Known gap: two steps in one
    place (象a讶, a letter beside a homophone) open no gate."""
    if steps[-1] == "pinyin":
        return pinyin_gate_words(terms, steps)
    if steps == ("initials",):
        return sorted({initials for term in terms if (initials := pinyin_initials(term))})
    terms = [transform_term(term, steps) or term for term in terms]
    literals: set[str] = set()
    pairs = {(a, b) for term in terms for a, b in zip(term, term[1:])}
    if "homophones" in steps:
        preimages: dict[str, list[str]] = {}
        for source, target in HOMOPHONES.items():
            preimages.setdefault(target, []).append(source)
        for a, b in pairs:
            for a2 in [a, *preimages.get(a, ())]:
                for b2 in [b, *preimages.get(b, ())]:
                    if (a2, b2) != (a, b):
                        literals.add(a2 + b2)
    if "split" in steps:
        literals.update(SPLIT_CHARACTERS)
    if "insertions" in steps:  # spelled out: literals scan far faster than a regex alternation
        for a, b in pairs:
            if has_han(a) and has_han(b):
                literals.update(a + letter + b for letter in INSERTED)
    if "digits" in steps:  # a Chinese numeral before a unit (typed digits need no rewrite)
        literals.update(n + u for n in (*CHINESE_DIGITS, *CHINESE_UNITS) for u in AMOUNT_UNITS)
    return sorted(literals)


def pinyin_gate_words(terms: list[str], steps: tuple[str, ...]) -> list[str]:
    """The Latin words (2+ letters) a pinyin hit of these terms may hold: runs of whole syllables (xiang,
    ya, xiangya for 象牙 - not an, ng or no). A hit keeps typed Latin whole (on_syllables), and a typed
    word in it is taken to spell whole characters of the term; xi安gya, which spells xiangya across a
    character's syllable, is no evasion anyone types, and opens nothing."""
    words = set()
    for term in terms:
        units = syllables(term, steps)
        for i in range(len(units)):
            for j in range(i + 1, len(units) + 1):
                word = "".join(units[i:j])
                if not (word.isascii() and word.isalpha()):
                    break
                if len(word) >= 2:
                    words.add(word)
    return sorted(words)


_NOT_LETTER_TO_SPACE = bytes(b if 0x61 <= b <= 0x7A else 0x20 for b in range(256))


def latin_spaced(text: str) -> str:
    """A normalised text with every character but a Latin letter made a space, and a space at each end, so
    that a whole word w is exactly the literal " w " (象ya手镯 -> "  ya   "): the pinyin and initials
    gates are scanned for in it. C-speed byte operations, no regex and no per-word objects (a regex over
    2 KB of mostly CJK text costs ~90 us, splitting it into words ~1.8 before a lookup per word, this ~1.2;
    with the scan of the gate words, 2.4 us a text)."""
    return " " + text.encode("ascii", "replace").translate(_NOT_LETTER_TO_SPACE).decode("ascii") + " "
