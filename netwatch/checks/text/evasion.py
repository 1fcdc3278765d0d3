"""Evasion steps a rule may opt into (`evasions: [pinyin, homophones, …]` in a pack), on top of the
normalisation every rule gets (netwatch.checks.text.normalize).

Each step rewrites the normalised text - and the rule's terms the same way - keeping for every
character the span of original characters it stands for, so a hit still points at the words on the
page and says which steps it needed:

- `insertions`: one Latin letter or digit between two CJK characters is dropped (象a牙, 象1牙 -> 象牙);
  symbols and spaces (象*牙) are interference that every rule already ignores.
- `split`: a character written as its two components (弓长 -> 张, 木仓 -> 枪, 女子 -> 好).
- `homophones`: a curated table of sound-alike and look-alike characters (象讶 -> 象牙, 萇 -> 长).
- `digits`: Chinese and financial numerals become digits (五元, 伍元 -> 5元; 二十 -> 20); circled and
  full-width digits (⑤, ５) are folded by NFKC for every rule already.
- `pinyin`: CJK characters become toneless pinyin, so a term written wholly or partly in pinyin
  matches (xiangya, xiang ya, 象ya); a hit must contain a Latin letter of the original and start and
  end on syllables, and typed Latin must be whole words.
- `initials`: the term's pinyin initials as a whole Latin word (xy for 象牙; terms of 2+ CJK characters).

The tables are small and curated on purpose: each entry widens what a rule matches, and README's
"Evasions" section gives each step's measured false-positive cost on real titles.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

import numpy as np

from netwatch.checks.text.normalize import Normalized

STEPS = ("insertions", "split", "homophones", "digits", "pinyin", "initials")
CHAR_STEPS = ("insertions", "split", "homophones", "digits")  # applied together, in this order

_CJK = "\u3400-\u9fff"

SPLIT_CHARACTERS = {
    "弓长": "张", "木仓": "枪", "火乍": "炸", "女子": "好", "身寸": "射", "米青": "精", "月巴": "肥", "耳东": "陈",
    "口天": "吴", "古月": "胡", "木子": "李", "立早": "章", "言午": "许", "西贝": "贾", "日月": "明", "三夕": "奏",
    "王见": "现", "イ二": "仁", "亻弗": "佛", "氵每": "海", "扌仓": "抢", "足包": "跑", "女也": "她", "讠正": "证",
    "言正": "证", "贝才": "财", "石马": "码",
}
# Sound-alike and look-alike characters sellers put in place of a term's own (each maps to the one it
# stands for). Kept to characters seen in evasions of the shipped packs' terms.
HOMOPHONES = {
    "讶": "牙", "伢": "牙", "芽": "牙", "犽": "牙", "橡": "象", "像": "象", "萇": "长", "苌": "长", "抢": "枪", "呛": "枪",
    "坪": "评", "苹": "评", "泙": "评", "睍": "现", "苋": "现", "兮": "犀", "蛋": "胆", "疸": "胆", "旦": "胆",
    "涮": "刷", "唰": "刷", "髙": "高", "坊": "仿", "访": "仿", "汰": "太", "态": "太", "単": "单", "証": "证",
}
CHINESE_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
                  "壹": 1, "贰": 2, "叁": 3, "肆": 4, "伍": 5, "陆": 6, "柒": 7, "捌": 8, "玖": 9}
CHINESE_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}

_INSERTION = re.compile(f"(?<=[{_CJK}])[a-z0-9](?=[{_CJK}])")
_SPLIT = re.compile("|".join(map(re.escape, sorted(SPLIT_CHARACTERS, key=len, reverse=True))))
_HOMOPHONE = re.compile("[" + "".join(HOMOPHONES) + "]")
_NUMERAL = re.compile("[" + "".join(CHINESE_DIGITS) + "".join(CHINESE_UNITS) + "]+")
_HAN = re.compile(f"[{_CJK}]")
_LATIN_GAP = re.compile(r"(?<=[a-z]) +(?=[a-z])")
_LATIN = re.compile("[a-z]")


def chinese_number(numeral: str) -> str | None:
    """二十 -> '20', 伍 -> '5', 一二三 -> '123' (digit by digit), 三百零五 -> '305'; None when it is not a number."""
    if not any(ch in CHINESE_UNITS for ch in numeral):
        return "".join(str(CHINESE_DIGITS[ch]) for ch in numeral)
    total, digit = 0, None
    for ch in numeral:
        if ch in CHINESE_DIGITS:
            if digit is not None and CHINESE_DIGITS[ch] != 0:
                return None  # 二三十: not a number
            digit = CHINESE_DIGITS[ch] or None
        else:
            unit = CHINESE_UNITS[ch]
            total += (digit if digit is not None else 1) * unit
            digit = None
    return str(total + (digit or 0))


@cache
def _pinyin_of(ch: str) -> str:
    from pypinyin import Style, lazy_pinyin

    syllable = lazy_pinyin(ch, style=Style.NORMAL, errors="ignore")
    return syllable[0] if syllable and syllable[0].isascii() else ch


def pinyin_initials(term: str) -> str | None:
    """象牙 -> 'xy'; None for a term that is not all CJK or shorter than two characters."""
    if len(term) < 2 or not all(_HAN.fullmatch(ch) for ch in term):
        return None
    return "".join(_pinyin_of(ch)[0] for ch in term)


def rewrite(norm: Normalized, pattern: re.Pattern, replace: Callable[[re.Match], str | None]) -> Normalized:
    """`norm` with every match of `pattern` replaced (`replace` returns the new text, or None to keep
    the match); each new character stands for the whole matched span of originals. `norm` itself
    when nothing changed."""
    text = norm.text
    pieces: list[str] = []
    origin_parts: list[np.ndarray] = []
    end_parts: list[np.ndarray] = []
    origin = norm.origin
    ends = norm.origin_end if norm.origin_end is not None else origin + 1
    last = 0
    changed = False
    for match in pattern.finditer(text):
        new = replace(match)
        if new is None or new == match.group():
            continue
        changed = True
        start, end = match.span()
        pieces.append(text[last:start])
        origin_parts.append(origin[last:start])
        end_parts.append(ends[last:start])
        if new:
            pieces.append(new)
            origin_parts.append(np.full(len(new), origin[start], dtype=origin.dtype))
            end_parts.append(np.full(len(new), ends[end - 1], dtype=ends.dtype))
        last = end
    if not changed:
        return norm
    pieces.append(text[last:])
    origin_parts.append(origin[last:])
    end_parts.append(ends[last:])
    new_text = "".join(pieces)
    codes = np.frombuffer(new_text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return Normalized(norm.original, new_text, np.concatenate(origin_parts), codes, np.concatenate(end_parts))


def _step_insertions(norm: Normalized) -> Normalized:
    return rewrite(norm, _INSERTION, lambda m: "") if _INSERTION.search(norm.text) else norm


def _step_split(norm: Normalized) -> Normalized:
    return rewrite(norm, _SPLIT, lambda m: SPLIT_CHARACTERS[m.group()]) if _SPLIT.search(norm.text) else norm


def _step_homophones(norm: Normalized) -> Normalized:
    return rewrite(norm, _HOMOPHONE, lambda m: HOMOPHONES[m.group()]) if _HOMOPHONE.search(norm.text) else norm


def _step_digits(norm: Normalized) -> Normalized:
    return rewrite(norm, _NUMERAL, lambda m: chinese_number(m.group())) if _NUMERAL.search(norm.text) else norm


def _step_pinyin(norm: Normalized) -> Normalized:
    if not _LATIN.search(norm.text):
        return norm  # no Latin letter: nothing is written in pinyin
    spelled = rewrite(norm, _HAN, lambda m: _pinyin_of(m.group()))
    return rewrite(spelled, _LATIN_GAP, lambda m: "")


TEXT_STEPS: dict[str, Callable[[Normalized], Normalized]] = {
    "insertions": _step_insertions, "split": _step_split, "homophones": _step_homophones, "digits": _step_digits,
    "pinyin": _step_pinyin,
}


def transform_term(term: str, steps: tuple[str, ...]) -> str | None:
    """A rule's normalised term as the rewritten text would spell it (None: the term has no such form)."""
    if steps == ("initials",):
        return pinyin_initials(term)
    for step in steps:
        if step == "split":
            term = _SPLIT.sub(lambda m: SPLIT_CHARACTERS[m.group()], term)
        elif step == "homophones":
            term = _HOMOPHONE.sub(lambda m: HOMOPHONES[m.group()], term)
        elif step == "digits":
            term = _NUMERAL.sub(lambda m: chinese_number(m.group()) or m.group(), term)
        elif step == "pinyin":
            term = _LATIN_GAP.sub("", _HAN.sub(lambda m: _pinyin_of(m.group()), term))
    return term


def passes_for(steps: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The rewrites a rule with these evasion steps is matched against: its character steps together,
    the same plus pinyin, and initials on their own."""
    chars = tuple(s for s in CHAR_STEPS if s in steps)
    passes = [chars] if chars else []
    if "pinyin" in steps:
        passes.append((*chars, "pinyin"))
    if "initials" in steps:
        passes.append(("initials",))
    return passes


def apply_steps(norm: Normalized, steps: tuple[str, ...]) -> list[tuple[str, Normalized]]:
    """The text after each step of a pass, in order ((step, text) pairs; initials rewrite nothing)."""
    chain: list[tuple[str, Normalized]] = []
    current = norm
    for step in steps:
        if step in TEXT_STEPS:
            current = TEXT_STEPS[step](current)
        chain.append((step, current))
    return chain


def segment(norm: Normalized, start: int, end: int) -> str:
    """The characters of `norm` that stand for original characters in [start, end)."""
    origin = norm.origin
    mask = (origin >= start) & (origin < end)
    return "".join(ch for ch, keep in zip(norm.text, mask.tolist()) if keep)


def fired_steps(base: Normalized, chain: list[tuple[str, Normalized]], start: int, end: int) -> tuple[str, ...]:
    """The steps of a pass that changed the text of the original span [start, end)."""
    fired = []
    before = segment(base, start, end)
    for step, norm in chain:
        after = segment(norm, start, end)
        # pinyin and initials: the hit's span holds Latin letters standing for a CJK term (on_syllables, and
        # the passes keep only terms with CJK), which is the step at work even where it rewrote nothing.
        if step in ("initials", "pinyin") or after != before:
            fired.append(step)
        before = after
    return tuple(fired)


def on_syllables(norm: Normalized, start: int, end: int) -> bool:
    """A pinyin-pass hit starts and ends where original characters do, and Latin typed in the original
    is cut only at word boundaries (xiangya, not the ya inside toyota)."""
    origin = norm.origin
    if start > 0 and origin[start] == origin[start - 1]:
        return False
    if end < len(origin) and origin[end] == origin[end - 1]:
        return False
    original = norm.original
    o_start, o_end = int(origin[start]), int(norm.origin_end[end - 1]) if norm.origin_end is not None else int(origin[end - 1]) + 1
    if not any(ch.isascii() and ch.isalpha() for ch in original[o_start:o_end]):
        return False  # nothing was written in pinyin: a homophone, which the pinyin step does not judge
    return not (_latin(original, o_start - 1) and _latin(original, o_start)
                or _latin(original, o_end - 1) and _latin(original, o_end))


def _latin(text: str, index: int) -> bool:
    return 0 <= index < len(text) and text[index].isascii() and text[index].isalpha()
