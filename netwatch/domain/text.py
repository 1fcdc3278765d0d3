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
    return clean_text_mapped(text)[0]


# (pattern, replacement): each match becomes the replacement, which stands for the whole match.
_STEPS = ((_PINYIN_GLOSS, lambda m: ""), (_DOUBLED_PUNCT, lambda m: m.group(1)), (_SPACES, lambda m: " "),
          (_BLANK_LINES, lambda m: "\n"))


def clean_text_mapped(text: str) -> tuple[str, list[tuple[int, int]]]:
    """The cleaned text and, for each of its characters, the span of `text` it stands for, so that an
    offset into the cleaned text can be shown on the text as it was on the page."""
    spans = [(i, i + 1) for i in range(len(text))]
    for pattern, replace in _STEPS:
        if not pattern.search(text):
            continue
        pieces: list[str] = []
        new_spans: list[tuple[int, int]] = []
        last = 0
        for match in pattern.finditer(text):
            start, end = match.span()
            pieces.append(text[last:start])
            new_spans.extend(spans[last:start])
            new = replace(match)
            pieces.append(new)
            new_spans.extend([(spans[start][0], spans[end - 1][1])] * len(new))
            last = end
        pieces.append(text[last:])
        new_spans.extend(spans[last:])
        text, spans = "".join(pieces), new_spans
    stripped = text.strip()
    lead = len(text) - len(text.lstrip())
    return stripped, spans[lead : lead + len(stripped)]
