"""Evasion steps a rule may opt into (`evasions: [pinyin, homophones, …]` in a pack), on top of the
normalisation every rule gets (netwatch.checks.text.normalize).

Each step rewrites the normalised text - and the rule's terms the same way - keeping for every
character the span of original characters it stands for, so a hit still points at the words on the
page and says which steps it needed:

- `insertions`: one Latin letter or digit between two CJK characters is dropped (象a牙, 象1牙 -> 象牙);
  symbols and spaces (象*牙) are interference that every rule already ignores.
- `split`: a character written as its two components (弓长 -> 张, 木仓 -> 枪, 女子 -> 好).
- `homophones`: a curated table of sound-alike and look-alike characters (象讶 -> 象牙, 萇 -> 长).
- `digits`: Chinese and financial numerals before a unit of money or count become digits (五元, 伍元 ->
  5元; 二十元 -> 20元; 五星 -> 5星); circled and full-width digits (⑤, ５) are folded by NFKC for every
  rule already.
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

_SPLIT = re.compile("|".join(map(re.escape, sorted(SPLIT_CHARACTERS, key=len, reverse=True))))
_HAN = re.compile(f"[{_CJK}]")


def chinese_number(numeral: str) -> str | None:
    """二十 -> '20', 伍 -> '5', 一二三 -> '123' (digit by digit), 三百零五 -> '305' (ASCII digits read as
    digits: 3百05); None when it is not a number."""
    values = {**CHINESE_DIGITS, **{str(d): d for d in range(10)}}
    if not any(ch in CHINESE_UNITS for ch in numeral):
        return "".join(str(values[ch]) for ch in numeral)
    total, digit = 0, None
    for ch in numeral:
        if ch in values:
            if digit is not None and values[ch] != 0:
                return None  # 二三十: not a number
            digit = values[ch] or None
        else:
            unit = CHINESE_UNITS[ch]
            total += (digit if digit is not None else 1) * unit
            digit = None
    return str(total + (digit or 0))


def has_han(text: str) -> bool:
    """Whether `text` holds a CJK character (the pinyin steps spell only those)."""
    return _HAN.search(text) is not None


def _pinyin_of(ch: str) -> str:
    return _pinyin_table().get(ch, ch)


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


def _derived(norm: Normalized, text: str, origin: np.ndarray, ends: np.ndarray) -> Normalized:
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return Normalized(norm.original, text, origin, codes, ends)


def _ends(norm: Normalized) -> np.ndarray:
    return norm.origin_end if norm.origin_end is not None else norm.origin + 1


def _keep(norm: Normalized, keep: np.ndarray) -> Normalized:
    """`norm` without the characters where `keep` is false (vectorised: texts are 2 KB and most have some)."""
    kept = norm.codes[keep]
    return _derived(norm, kept.tobytes().decode("utf-32-le", "surrogatepass"), norm.origin[keep], _ends(norm)[keep])


def _char_table(mapping: dict[str, str]) -> np.ndarray:
    table = np.arange(0x10000, dtype=np.uint32)
    for source, target in mapping.items():
        table[ord(source)] = ord(target)
    return table


def _translate(norm: Normalized, table: np.ndarray) -> Normalized:
    """One character for another through a code table (vectorised); `norm` itself when none changes."""
    codes = norm.codes
    if not len(codes):
        return norm
    if int(codes.max()) < 0x10000:  # the usual case: one gather
        mapped = table.take(codes)
    else:
        small = codes < 0x10000
        mapped = codes.copy()
        mapped[small] = table[codes[small]]
    if np.array_equal(mapped, codes):
        return norm
    return _derived(norm, mapped.tobytes().decode("utf-32-le", "surrogatepass"), norm.origin, _ends(norm))


def _is_han(codes: np.ndarray) -> np.ndarray:
    return (codes >= 0x3400) & (codes <= 0x9FFF)


def _step_insertions(norm: Normalized) -> Normalized:
    codes = norm.codes
    if len(codes) < 3:
        return norm
    han = _is_han(codes)
    alnum = ((codes >= 0x61) & (codes <= 0x7A)) | ((codes >= 0x30) & (codes <= 0x39))
    drop = np.zeros(len(codes), dtype=bool)
    drop[1:-1] = alnum[1:-1] & han[:-2] & han[2:]
    return _keep(norm, ~drop) if drop.any() else norm


def _step_split(norm: Normalized) -> Normalized:
    return rewrite(norm, _SPLIT, lambda m: SPLIT_CHARACTERS[m.group()]) if _SPLIT.search(norm.text) else norm


_HOMOPHONE_TABLE = _char_table(HOMOPHONES)
# A numeral run counts where it is an amount or a count (伍元, 五星, 三倍): ordinary words (一经, 十分) stay.
AMOUNT_UNITS = "元块圆角星折倍%"
_AMOUNT = re.compile("[" + "".join(CHINESE_DIGITS) + "".join(CHINESE_UNITS) + "0-9]+(?=[" + AMOUNT_UNITS + "])")


def _step_homophones(norm: Normalized) -> Normalized:
    return _translate(norm, _HOMOPHONE_TABLE)


def _step_digits(norm: Normalized) -> Normalized:
    """Numeral runs before a unit of money or count become digits (伍元 -> 5元, 二十元 -> 20元)."""
    if not _AMOUNT.search(norm.text):
        return norm
    return rewrite(norm, _AMOUNT, lambda m: chinese_number(m.group()))


@cache
def _pinyin_table() -> dict[str, str]:
    """Every CJK unified ideograph's toneless pinyin (its first reading), built once (~1 s)."""
    from pypinyin import Style, lazy_pinyin

    characters = [chr(code) for code in range(0x3400, 0xA000)]
    syllables = lazy_pinyin(characters, style=Style.NORMAL, errors=lambda chars: list(chars))
    return {ch: syllable for ch, syllable in zip(characters, syllables) if syllable.isascii() and syllable != ch}


@cache
def _pinyin_rows() -> tuple[np.ndarray, np.ndarray]:
    """The pinyin table as arrays over the Basic Multilingual Plane, for a vectorised rewrite: each code
    point's spelling as a row of code points padded with NUL (so a text holding NUL takes the slow path)
    and its length; any other character is its own one-character spelling."""
    table = _pinyin_table()
    width = max(map(len, table.values()))
    rows = np.zeros((0x10000, width), dtype=np.uint32)
    rows[:, 0] = np.arange(0x10000, dtype=np.uint32)
    lengths = np.ones(0x10000, dtype=np.int64)
    for ch, syllable in table.items():
        rows[ord(ch), : len(syllable)] = [ord(letter) for letter in syllable]
        lengths[ord(ch)] = len(syllable)
    return rows, lengths


_LATIN_WORD = re.compile("[a-z]{2,}")


def _step_pinyin(norm: Normalized, force: bool = False) -> Normalized:
    if not force and not _LATIN_WORD.search(norm.text):
        return norm  # no Latin word: nothing is written in pinyin
    codes = norm.codes
    if len(codes) and int(codes.max()) < 0x10000 and "\x00" not in norm.text:  # usual: gathers, no loop
        rows, lengths_of = _pinyin_rows()
        lengths = lengths_of.take(codes)
        flat = rows.take(codes, axis=0).ravel()
        text = flat[flat != 0].tobytes().decode("utf-32-le", "surrogatepass")  # the rows' padding is 0
    else:
        table = _pinyin_table()
        pieces = list(map(table.get, norm.text, norm.text))
        lengths = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
        text = "".join(pieces)
    spelled = _derived(norm, text, np.repeat(norm.origin, lengths), np.repeat(_ends(norm), lengths))
    codes = spelled.codes
    letter = (codes >= 0x61) & (codes <= 0x7A)
    gap = np.zeros(len(codes), dtype=bool)  # a space between two Latin letters: xiang ya -> xiangya
    gap[1:-1] = (codes[1:-1] == 0x20) & letter[:-2] & letter[2:]
    return _keep(spelled, ~gap) if gap.any() else spelled


TEXT_STEPS: dict[str, Callable[[Normalized], Normalized]] = {
    "insertions": _step_insertions, "split": _step_split, "homophones": _step_homophones, "digits": _step_digits,
    "pinyin": _step_pinyin,
}


def transform_term(term: str, steps: tuple[str, ...]) -> str | None:
    """A rule's normalised term as the rewritten text would spell it (None: the term has no such form):
    the same steps run over the term as over a text."""
    if steps == ("initials",):
        return pinyin_initials(term)
    return _spell(term, steps).text


def _spell(term: str, steps: tuple[str, ...]) -> Normalized:
    """A term run through a pass's steps, keeping which of its characters each output character stands for."""
    codes = np.frombuffer(term.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    norm = Normalized(term, term, np.arange(len(term)), codes)
    for step in steps:
        norm = _step_pinyin(norm, force=True) if step == "pinyin" else TEXT_STEPS[step](norm)
    return norm


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


def apply_steps(norm: Normalized, steps: tuple[str, ...], done: dict | None = None) -> list[tuple[str, Normalized]]:
    """The text after each step of a pass, in order ((step, text) pairs; initials rewrite nothing).
    `done`: the rewrites earlier passes made of the same text, by (input, step): a step that changed
    nothing returns its input, so (insertions, homophones) and (homophones,) share the second rewrite."""
    done = {} if done is None else done
    chain: list[tuple[str, Normalized]] = []
    current = norm
    for step in steps:
        if step in TEXT_STEPS:
            key = (id(current), step)
            if key not in done:
                done[key] = (current, TEXT_STEPS[step](current))  # the input is kept: its id stays unique
            current = done[key][1]
        chain.append((step, current))
    return chain


def syllables(term: str, steps: tuple[str, ...]) -> list[str]:
    """A term as a pinyin pass spells it, one unit per character it stands for: 象牙 -> ['xiang', 'ya'],
    K粉 -> ['k', 'fen']."""
    norm = _spell(term, steps)
    units: list[str] = []
    previous = -1
    for ch, origin in zip(norm.text, norm.origin.tolist()):
        if origin == previous:
            units[-1] += ch
        else:
            units.append(ch)
        previous = origin
    return units


def segment(norm: Normalized, start: int, end: int) -> str:
    """The characters of `norm` that stand for original characters in [start, end): one slice, as every
    rewrite keeps `origin` in order (it never moves a character before an earlier one's original)."""
    origin = norm.origin
    return norm.text[int(origin.searchsorted(start)) : int(origin.searchsorted(end))]


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
