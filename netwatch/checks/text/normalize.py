"""Text normalisation before matching, with a map back to the original text.

Each step can be explained to an analyst, and each is a property of one character, so all of them
fold into one lookup table (MEASURED.md: a numpy table is 5-10x faster than chaining NFKC, lower,
OpenCC and re.sub):

1. NFKC: full-width forms become half-width (ＮＯ．１ -> NO.1, １００％ -> 100%).
2. Case folding (lower-case).
3. Traditional -> Simplified, character by character with OpenCC's t2s dictionary (電子煙 -> 电子烟).
4. Zero-width and format characters, combining marks and variation selectors are dropped everywhere.
5. Interference - spaces, symbols, punctuation, emoji - is dropped unless it touches a Latin letter or
   digit (象@牙, 象 牙, 象🐘牙 -> 象牙), so "no.1" and "1:1" survive and "gucci bag" stays two words.

Scraped pages sometimes gloss characters with pinyin (網(wǎng), 象(xiàng)牙(yá)): a bracketed pinyin
syllable right after a CJK character is dropped too.

Repeated characters are collapsed only on request (`collapse_repeats`), because 好好 is ordinary
Chinese. The result keeps, for every normalised character, the index of its original character.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import cache

import numpy as np

from netwatch import config

# Character classes stored in the top byte of the lookup table.
DROP = 0  # always removed (zero-width, format, combining marks)
CJK = 1  # letters of scripts written without spaces (Unicode category Lo: Han, kana, hangul …)
ALNUM = 2  # other letters and digits
INTERFERENCE = 3  # spaces, punctuation, symbols, emoji: removed between two CJK characters
SENTENCE_BREAK = 4  # like INTERFERENCE, but also ends a sentence (a short hit may not span it)

# Sentence punctuation (after NFKC) and line breaks: MEASURED.md shows that rejecting 2-character
# hits split by these keeps false hits on clean text near the unstripped level.
SENTENCE_BREAKS = "。，！？；、.,!?;\n\r\u2028\u2029"

_CLASS_SHIFT = 24
_CODE_MASK = (1 << _CLASS_SHIFT) - 1
_TABLE_SIZE = 0x110000
TABLE_VERSION = "2"

# Variant characters OpenCC's t2s leaves alone but sellers use (Taiwan's 電子菸, 高倣).
VARIANTS = {"倣": "仿", "菸": "烟", "綫": "线", "麪": "面", "祕": "秘", "牠": "它", "鏽": "锈"}


def _opencc_t2s():
    try:
        import opencc  # the C++ wheel `opencc`
    except ImportError:  # pragma: no cover - opencc is a declared dependency
        return None
    try:
        return opencc.OpenCC("t2s")
    except Exception:  # noqa: BLE001 - opencc-python-reimplemented wants "t2s.json"
        return opencc.OpenCC("t2s.json")


def _char_class(ch: str) -> int:
    category = unicodedata.category(ch)
    if category in ("Cf", "Mn", "Me") or 0xFE00 <= ord(ch) <= 0xFE0F:
        return DROP
    if ch in SENTENCE_BREAKS:
        return SENTENCE_BREAK
    if category == "Lo":
        return CJK
    if category[0] in "LN" or category == "Mc":
        return ALNUM
    return INTERFERENCE


def _fold(ch: str) -> str:
    """NFKC then lower-case, keeping one character (expansions such as ㎏ -> kg keep the original)."""
    folded = unicodedata.normalize("NFKC", ch)
    if len(folded) != 1:
        folded = ch
    lowered = folded.lower()
    return lowered if len(lowered) == 1 else folded


def _build_table() -> np.ndarray:
    table = np.arange(_TABLE_SIZE, dtype=np.uint32)
    classes = np.full(_TABLE_SIZE, INTERFERENCE, dtype=np.uint32)
    folded: list[str] = []
    for code in range(_TABLE_SIZE):
        if 0xD800 <= code <= 0xDFFF:
            folded.append("\ufffd")
            continue
        folded.append(_fold(chr(code)) if code < 0x30000 else chr(code))
    converter = _opencc_t2s()
    if converter is not None:
        # One call over every letter, newline-separated: OpenCC converts each line on its own,
        # so a character never turns into a phrase of its neighbours.
        letters = [i for i, ch in enumerate(folded) if unicodedata.category(ch) == "Lo"]
        converted = converter.convert("\n".join(folded[i] for i in letters)).split("\n")
        if len(converted) == len(letters):
            for i, simplified in zip(letters, converted):
                if len(simplified) == 1:
                    folded[i] = simplified
    for variant, standard in VARIANTS.items():
        folded[ord(variant)] = standard
    for code, ch in enumerate(folded):
        table[code] = ord(ch)
        classes[code] = _char_class(ch) if code < 0x30000 else (
            CJK if unicodedata.category(chr(code)) == "Lo" else _char_class(chr(code)))
    return table | (classes << _CLASS_SHIFT)


@cache
def lookup_table() -> np.ndarray:
    """The combined table (normalised code point | class << 24), cached on disk after the first build."""
    key = hashlib.sha256(
        f"{TABLE_VERSION}|{unicodedata.unidata_version}|{_opencc_version()}".encode()
    ).hexdigest()[:16]
    path = config.cache_dir() / f"normalize-{key}.npy"
    try:
        table = np.load(path)
        if table.shape == (_TABLE_SIZE,):
            return table
    except (OSError, ValueError):
        pass
    table = _build_table()
    tmp = path.with_suffix(f".{id(table)}.tmp.npy")
    np.save(tmp, table)
    tmp.replace(path)  # atomic: parallel processes never read a half-written table
    return table


def _opencc_version() -> str:
    try:
        from importlib.metadata import version

        return version("opencc")
    except Exception:  # noqa: BLE001
        return "none"


class Normalized:
    """A normalised text and, for each of its characters, the index of the original character.

    The index map (`origin`) is built on first use: most texts have no hit and never need it.
    """

    __slots__ = ("original", "text", "codes", "origin_end", "_origin", "_kept")

    def __init__(self, original: str, text: str, origin: np.ndarray | None, codes: np.ndarray,
                 origin_end: np.ndarray | None = None, kept: np.ndarray | None = None):
        self.original = original
        self.text = text
        self.codes = codes  # the code points of `text` (uint32)
        # Where a character stands for a run of originals (collapsed repeats): the index after its last one.
        self.origin_end = origin_end
        self._origin = origin
        self._kept = kept  # boolean mask over `original`: the characters kept, when origin is not built yet

    @property
    def origin(self) -> np.ndarray:
        """int64 indexes into `original`, one per character of `text`."""
        if self._origin is None:
            self._origin = np.flatnonzero(self._kept)
        return self._origin

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a span [start, end) of the normalised text to a span of the original text."""
        origin = self.origin
        last = int(self.origin_end[end - 1]) if self.origin_end is not None else int(origin[end - 1]) + 1
        return int(origin[start]), last

    def spans_collapsed_run(self, start: int, end: int) -> bool:
        """Whether a character of [start, end) stands for a run of repeats (see collapse_repeats)."""
        if self.origin_end is None:
            return False
        return bool((self.origin_end[start:end] > self.origin[start:end] + 1).any())

    def split_by_sentence(self, start: int, end: int) -> bool:
        """Whether stripping joined the span's characters across a sentence break (使用。收到 -> 用收).

        A 2-character span split by sentence punctuation is rejected outright (MEASURED.md); a longer
        one only when the punctuation sits in some gaps but not all - a seller who writes 好。评。返。现
        puts it between every character, ordinary text only at one place.
        """
        starts = self.origin[start:end].tolist()
        ends = self.origin_end[start:end].tolist() if self.origin_end is not None else [i + 1 for i in starts]
        if ends[:-1] == starts[1:]:  # nothing was stripped inside the span (the usual case)
            return False
        gaps = [self.original[a:b] for a, b in zip(ends, starts[1:])]
        if not any(_has_sentence_break(gap) for gap in gaps):
            return False
        return end - start <= 2 or not all(gaps)


def _has_sentence_break(gap: str) -> bool:
    return any(ch in SENTENCE_BREAKS or unicodedata.normalize("NFKC", ch) in SENTENCE_BREAKS for ch in gap)


# A bracketed pinyin syllable (tone marks or a tone digit allowed) right after a CJK character.
PINYIN_GLOSS = re.compile(
    r"(?<=[\u3400-\u9fff])[(（](?=[^)）]{0,8}[aeiouüAEIOU\u00e0-\u00fc\u0101-\u01dc])\s*[a-zA-Z\u00e0-\u00fc\u0101-\u01dc\u0300-\u036f]{1,7}[1-5]?\s*[)）]"
)

# Per-character kinds used by normalize(): the classes above, with the Latin letters' and digits'
# kind carrying a bit of its own so that one OR of the two neighbours says "beside a letter or digit".
_BESIDE_ALNUM = 8
_KIND_OF_CLASS = np.array([0, 1, 2 | _BESIDE_ALNUM, 3, 3], dtype=np.uint8)  # DROP, CJK, ALNUM, INTERFERENCE, SENTENCE_BREAK
# Whether a character is kept, by its kind | (_BESIDE_ALNUM if a neighbour is a Latin letter or digit):
# interference survives only next to one ("no.1", "1:1", "nike air").
_KEEP = np.array([(key & 7) in (1, 2) or key == (3 | _BESIDE_ALNUM) for key in range(16)])
_EMPTY_INDEX = np.zeros(0, dtype=np.int64)


@cache
def _split_tables() -> tuple[np.ndarray, np.ndarray]:
    """The lookup table split into normalised code points (uint32) and kinds (uint8), so that a text
    costs two gathers instead of a gather, a shift and a mask."""
    table = lookup_table()
    return (table & _CODE_MASK).astype("<u4"), _KIND_OF_CLASS.take(table >> _CLASS_SHIFT)


def normalize(text: str) -> Normalized:
    """Normalise `text` for matching (see the module docstring for the steps).

    Written for few numpy calls per text: on 2 KB texts their fixed cost weighs as much as the work.
    """
    if not text:
        return Normalized(text, "", _EMPTY_INDEX, _EMPTY_INDEX.astype(np.uint32))
    code_table, kind_table = _split_tables()
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    padded = np.zeros(len(codes) + 2, dtype=np.uint8)  # kinds with an empty neighbour at each end
    kinds = padded[1:-1]
    kind_table.take(codes, out=kinds)
    if "(" in text or "（" in text:  # rare: pay for the regex only then
        for match in PINYIN_GLOSS.finditer(text):
            kinds[match.start() : match.end()] = 0
    key = padded[:-2] | padded[2:]
    key &= _BESIDE_ALNUM
    key |= kinds
    kept = _KEEP.take(key)
    normalised = code_table.take(codes)[kept]
    return Normalized(text, normalised.tobytes().decode("utf-32-le", "surrogatepass"), None, normalised, kept=kept)


def normalize_term(term: str) -> str:
    """Normalise a rule's keyword the same way as the texts it is matched against."""
    return normalize(term).text


CJK_START = 0x2E80  # CJK radicals onwards: the scripts whose doubled characters sellers use as padding


def collapse_repeats(norm: Normalized) -> Normalized:
    """Collapse runs of the same CJK character (好好评评 -> 好评), keeping the map to the original.

    Returns `norm` itself when nothing repeats. Latin letters and digits are left alone (100, 2011).
    """
    codes = norm.codes
    if len(codes) < 2:
        return norm
    repeated = (codes[1:] == codes[:-1]) & (codes[1:] >= CJK_START)
    if not repeated.any():
        return norm
    keep = np.ones(len(codes), dtype=bool)
    keep[1:] = ~repeated
    kept = codes[keep]
    # A collapsed character stands for its whole run: its span ends after the run's last copy.
    run_last = np.append(np.flatnonzero(keep)[1:] - 1, len(codes) - 1)
    return Normalized(norm.original, kept.tobytes().decode("utf-32-le", "surrogatepass"), norm.origin[keep], kept,
                      norm.origin[run_last] + 1)
