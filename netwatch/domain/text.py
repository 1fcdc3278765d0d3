"""Scraped-text clean-up applied to items before matching: what a browser's reader would not show.

Only noise is removed (pinyin glosses, doubled punctuation, runs of white space); evasion
characters (symbols or zero-width characters between letters) are left for the rule engine,
which reports offsets into this cleaned text.
"""

from __future__ import annotations

import re

_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü"
# "網(wǎng)" -> "網": a pinyin gloss right after a CJK character, in ASCII or full-width brackets.
_PINYIN_GLOSS = re.compile(
    rf"(?<=[\u3400-\u9fff])[(（](?=[a-z{_TONED}]*[{_TONED}])[a-z{_TONED}]{{1,7}}[)）]"
)
_DOUBLED_PUNCT = re.compile(r"([,，.。!！?？;；、])\1+")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")
_BLANK_LINES = re.compile(r"\s*\n\s*")


def clean_text(text: str | None) -> str | None:
    if text is None:
        return None
    text = _PINYIN_GLOSS.sub("", text)
    text = _DOUBLED_PUNCT.sub(r"\1", text)
    text = _SPACES.sub(" ", text)
    text = _BLANK_LINES.sub("\n", text)
    return text.strip()
