"""One shop's context for the duplicate signal: its reviews' texts by listing, the MinHash bands that find
near-copies among them, and the texts common enough across shops not to count as one shop's script."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from netwatch.analysis.reviews.signals import DuplicateLookup
from netwatch.analysis.reviews.text import jaccard, shingles


class ShopContext(DuplicateLookup):
    """One shop's review texts: who wrote each normalised text on which listing, and an LSH index
    (MinHash bands) over the distinct texts to find near-duplicates without comparing all pairs.

    Kept lean, as a crawl holds many shops: per distinct text its signature bytes and one bucket
    entry per band; shingles are recomputed to verify candidates."""

    def __init__(self, bands: int, rows: int, shingle_chars: int, similarity: float, max_texts: int,
                 common: frozenset[str] = frozenset()):
        self.bands, self.rows = bands, rows
        self.common = common  # normalised texts written in many shops
        self.shingle_chars, self.similarity, self.max_texts = shingle_chars, similarity, max_texts
        self.occurrences_by_key: dict[str, list[tuple[str, str]]] = {}
        self.signatures: dict[str, bytes] = {}
        self.buckets: dict[int, str | list[str]] = {}  # band hash -> one text, or several
        self.listings: set[str] = set()
        self.dropped = 0  # texts not indexed because the shop reached max_texts

    def new_keys(self, keys: Iterable[str]) -> list[str]:
        return [k for k in dict.fromkeys(keys) if k not in self.signatures]

    def _bands(self, signature: bytes) -> list[int]:
        width = self.rows * 4  # uint32 values
        return [hash((i, signature[i * width : (i + 1) * width])) for i in range(self.bands)]

    def add(self, listing_key: str, entries: Sequence[tuple[str, str]], signatures: dict[str, np.ndarray]) -> None:
        self.listings.add(listing_key)
        for key, who in entries:
            if key not in self.signatures:
                if len(self.signatures) >= self.max_texts:
                    self.dropped += 1
                    continue
                signature = self.signatures[key] = signatures[key].tobytes()
                for band in self._bands(signature):
                    held = self.buckets.get(band)
                    if held is None:
                        self.buckets[band] = key
                    elif isinstance(held, str):
                        self.buckets[band] = [held, key]
                    elif len(held) < 500:  # a huge bucket is one common text, not many
                        held.append(key)
            self.occurrences_by_key.setdefault(key, []).append((listing_key, who))

    def near_keys(self, key: str) -> set[str]:
        signature = self.signatures.get(key)
        if signature is None:
            return set()
        candidates: set[str] = set()
        for band in self._bands(signature):
            held = self.buckets.get(band)
            if isinstance(held, str):
                candidates.add(held)
            elif held:
                candidates.update(held)
        candidates.discard(key)
        if not candidates:
            return candidates
        mine = shingles(key, self.shingle_chars)
        return {c for c in candidates if jaccard(mine, shingles(c, self.shingle_chars)) >= self.similarity}

    def occurrences(self, key: str) -> list[tuple[str, str]]:
        return self.occurrences_by_key.get(key, [])

    def is_common(self, key: str) -> bool:
        return key in self.common
