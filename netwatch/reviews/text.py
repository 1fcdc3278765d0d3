"""Review text as the signals compare it: a normalised key, character shingles, MinHash signatures,
and the "short generic praise" test.

The key is the rule engine's normalisation (NFKC, case folding, Traditional -> Simplified, interference
dropped; netwatch.rules.normalize) with everything but letters and digits removed, so punctuation,
spaces and emoji never make two copies of a text look different.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np

from netwatch.rules.normalize import normalize

# datasketch's "legacy" MinHash scheme: the signatures below are bit-for-bit those of
# datasketch.MinHash(scheme="legacy") (tests check it), computed for many texts at once with numpy
# instead of one Python object per text (about 270 µs per review; see bench/bench_reviews.py).
_MERSENNE_PRIME = np.uint64((1 << 61) - 1)
_MAX_HASH = np.uint64((1 << 32) - 1)


def normalize_text(text: str | None) -> str:
    """Comparable form of a review: 好評！！ and 好评 and ＧＯＯＤ / good compare equal."""
    if not text:
        return ""
    return "".join(ch for ch in normalize(text).text if ch.isalnum())


def shingles(key: str, size: int) -> set[str]:
    """Overlapping `size`-character pieces of a normalised text (the whole text if shorter)."""
    if len(key) <= size:
        return {key} if key else set()
    return {key[i : i + size] for i in range(len(key) - size + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _sha1_hash32(data: bytes) -> int:
    return struct.unpack("<I", hashlib.sha1(data).digest()[:4])[0]


@lru_cache(maxsize=8)
def _permutations(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    from datasketch import MinHash

    a, b = MinHash(num_perm=num_perm, scheme="legacy").permutations
    return a, b


def minhash_signatures(shingle_sets: Sequence[Iterable[str]], num_perm: int, chunk: int = 20_000) -> np.ndarray:
    """MinHash signatures (one row per text, `num_perm` uint64 columns), identical to datasketch's legacy scheme.

    Empty sets get the all-max signature, as datasketch gives an empty MinHash."""
    a, b = _permutations(num_perm)
    out = np.full((len(shingle_sets), num_perm), _MAX_HASH, dtype=np.uint64)
    hashes: list[int] = []
    owners: list[int] = []
    flushed = 0

    def flush() -> None:
        if not hashes:
            return
        hv = np.asarray(hashes, dtype=np.uint64)[:, None]
        phv = (hv * a + b) % _MERSENNE_PRIME & _MAX_HASH
        rows = np.asarray(owners, dtype=np.int64)
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        np.minimum.at(out, rows[starts], np.minimum.reduceat(phv, starts, axis=0))
        hashes.clear()
        owners.clear()

    for row, items in enumerate(shingle_sets):
        for item in items:
            hashes.append(_sha1_hash32(item.encode("utf-8")))
            owners.append(row)
        if len(hashes) - flushed >= chunk:
            flush()
    flush()
    return out


class GenericPraise:
    """Decides whether a review is short stock praise ("好评", "很好很好", "不错!")."""

    def __init__(self, words: Iterable[str], default_texts: Iterable[str], max_chars: int, min_share: float):
        keys = sorted({normalize_text(w) for w in words if normalize_text(w)}, key=len, reverse=True)
        self._words = re.compile("|".join(re.escape(k) for k in keys)) if keys else None
        self.default_texts = frozenset(normalize_text(t) for t in default_texts)
        self.max_chars = max_chars
        self.min_share = min_share

    def is_default(self, key: str) -> bool:
        """A text the platform wrote for a buyer who wrote nothing."""
        return not key or key in self.default_texts

    def is_generic(self, key: str) -> bool:
        if not key or len(key) > self.max_chars or self._words is None:
            return False
        covered = sum(len(m) for m in self._words.findall(key))
        return covered / len(key) >= self.min_share
