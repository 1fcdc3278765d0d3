"""Word-boundary checks with jieba on a small window around a candidate hit.

jieba segments about 1.5 MB/s, so it never sees whole texts: only the few characters around a
hit of a rule that asks for it (最好 inside 大象牙齿's 象牙 is not a word). The packs' keywords go
into its dictionary so that a real keyword is cut as one word. Its cache lives in
netwatch.config.cache_dir(), not in the temp directory.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from netwatch import config

WINDOW = 6  # characters each side: enough for jieba to see the words around the hit


class BoundaryChecker:
    def __init__(self, words: Iterable[str]):
        self.words = sorted(set(words))
        self._tokenizer = None

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            tokenizer.tmp_dir = str(config.cache_dir())
            tokenizer.initialize()
            for word in self.words:
                tokenizer.add_word(word)
            self._tokenizer = tokenizer
        return self._tokenizer

    def on_boundaries(self, text: str, start: int, end: int) -> bool:
        """Whether text[start:end] is made of whole words, or lies inside one word, of the segmented window.

        Rejected: a hit that straddles words (象牙 in 大象|牙齿, 大麻 in 大|麻花). Accepted: whole
        words (好评|返现) and a hit inside one longer word (大麻 in 大麻烟).
        """
        left = max(0, start - WINDOW)
        window = text[left : end + WINDOW]
        offset, cuts = 0, {0}
        for token in self.tokenizer.cut(window, HMM=False):
            offset += len(token)
            cuts.add(offset)
        start, end = start - left, end - left
        if start in cuts and end in cuts:
            return True
        return not any(start < cut < end for cut in cuts)
