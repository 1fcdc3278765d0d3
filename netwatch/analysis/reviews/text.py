"""Review text as the signals compare it: a normalised key, character shingles, MinHash signatures,
and the "short generic praise" test.

The key is the rule engine's normalisation (NFKC, case folding, Traditional -> Simplified, interference
dropped; netwatch.checks.text.normalize) with everything but letters and digits removed, so punctuation,
spaces and emoji never make two copies of a text look different.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np

from netwatch.checks.text.normalize import normalize

# datasketch's default MinHash scheme ("affine32"): the signatures below are bit-for-bit those of
# datasketch.MinHash (tests check it), computed for many texts at once with numpy instead of one
# Python object per text (about 270 µs per review; see bench/bench_reviews.py). Each shingle's 32-bit
# SHA-1 hash is pre-mixed with MurmurHash3's finalizer, then permuted as a*h + b mod 2^32.
_MAX_HASH = np.uint32((1 << 32) - 1)
_FMIX32 = (16, np.uint32(0x85EBCA6B), 13, np.uint32(0xC2B2AE35), 16)


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

    a, b = MinHash(num_perm=num_perm, scheme="affine32").permutations
    return a.astype(np.uint32), b.astype(np.uint32)


def _fmix32(hv: np.ndarray) -> np.ndarray:
    s1, m1, s2, m2, s3 = _FMIX32
    hv = hv ^ (hv >> np.uint32(s1))
    hv = hv * m1
    hv = hv ^ (hv >> np.uint32(s2))
    hv = hv * m2
    return hv ^ (hv >> np.uint32(s3))


def minhash_signatures(shingle_sets: Sequence[Iterable[str]], num_perm: int, chunk: int = 20_000) -> np.ndarray:
    """MinHash signatures (one row per text, `num_perm` uint32 columns), identical to datasketch.MinHash's.

    Empty sets get the all-max signature, as datasketch gives an empty MinHash."""
    a, b = _permutations(num_perm)
    out = np.full((len(shingle_sets), num_perm), _MAX_HASH, dtype=np.uint32)
    hashes: list[int] = []
    owners: list[int] = []

    def flush() -> None:
        if not hashes:
            return
        hv = _fmix32(np.asarray(hashes, dtype=np.uint32))[:, None]
        phv = hv * a + b  # uint32 arithmetic wraps: this is the mod 2^32
        rows = np.asarray(owners, dtype=np.int64)
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        targets = rows[starts]  # each text's shingles are contiguous, so every target row appears once
        out[targets] = np.minimum(out[targets], np.minimum.reduceat(phv, starts, axis=0))
        hashes.clear()
        owners.clear()

    for row, items in enumerate(shingle_sets):
        before = len(hashes)
        hashes.extend(_sha1_hash32(item.encode("utf-8")) for item in items)
        owners.extend([row] * (len(hashes) - before))
        if len(hashes) >= chunk:
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
