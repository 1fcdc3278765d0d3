"""Bytes → text for fetched pages: trust the declared charset unless it does not fit the bytes.

Chinese shops label GBK/GB18030 pages as UTF-8 (and the reverse). The declared charset (HTTP header,
then BOM, then <meta>) is tried strictly; when it yields invalid bytes, charset-normalizer decides.
GBK and GB2312 are decoded as GB18030, their superset, so rare characters survive.
"""

from __future__ import annotations

import codecs

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
    encoding = detected or declared or "utf-8"
    return body.decode(encoding, errors="replace"), encoding
