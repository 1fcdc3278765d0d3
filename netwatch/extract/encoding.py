"""Bytes → text for fetched pages: trust the declared charset unless it does not fit the bytes.

Chinese shops label GBK/GB18030 pages as UTF-8 (and the reverse). The declared charset (HTTP header,
then BOM, then <meta>) is tried strictly; when it yields invalid bytes, charset-normalizer decides.
GBK and GB2312 are decoded as GB18030, their superset, so rare characters survive.
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom

# Declared names whose superset decodes everything they can, and more.
_SUPERSETS = {"gbk": "gb18030", "gb2312": "gb18030", "ascii": "cp1252", "latin-1": "cp1252", "iso8859-1": "cp1252"}


def _canonical(name: str | None) -> str | None:
    if not name:
        return None
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None
    return _SUPERSETS.get(codec, codec)


def declared_encoding(body: bytes, content_type: str | None = None) -> str | None:
    """The charset the page claims: HTTP header first, then a byte-order mark, then <meta>."""
    bom_encoding, _ = read_bom(body)
    return _canonical(
        http_content_type_encoding(content_type) if content_type else None
    ) or _canonical(bom_encoding) or _canonical(html_body_declared_encoding(body))


def decode_body(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Return (text, encoding used). Never raises on bad bytes: the last resort replaces them."""
    declared = declared_encoding(body, content_type)
    if declared:
        try:
            return body.decode(declared), declared
        except UnicodeDecodeError:
            pass  # mislabelled: fall through to detection
    else:
        try:
            return body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    best = charset_normalizer.from_bytes(body).best()
    detected = _canonical(best.encoding) if best is not None else None
    if detected in _OTHER_DOUBLE_BYTE and _is_gb18030(body) and not _declares_other_language(body):
        detected = "gb18030"
    encoding = detected or declared or "utf-8"
    return body.decode(encoding, errors="replace"), encoding


# A mostly-ASCII page (a Tmall item page is scripts and markup) holds too little Chinese text for the
# detector: its GBK title comes out as Korean or Japanese. The pages netwatch reads are Chinese shops, so a
# page whose bytes are valid GB18030 is read as such unless it says it is in Korean or Japanese.
_OTHER_DOUBLE_BYTE = {"cp949", "euc_kr", "johab", "shift_jis", "cp932", "euc_jp", "iso2022_jp", "iso2022_kr"}
_OTHER_LANG = re.compile(rb"<html[^>]*\blang=[\"']?(?:ko|ja)", re.IGNORECASE)


def _is_gb18030(body: bytes) -> bool:
    try:
        body.decode("gb18030")
    except UnicodeDecodeError:
        return False
    return True


def _declares_other_language(body: bytes) -> bool:
    return bool(_OTHER_LANG.search(body[:4096]))
