"""A fetched page as extraction sees it: URL, bytes, headers — from a spider, a saved file or a test."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

from parsel import Selector

from netwatch.extract.encoding import decode_body

# An unclosed <title> makes parsers (and browsers) swallow the whole page as title text.
_UNCLOSED_TITLE = re.compile(r"(<title[^>]*>[^<]*)(?=<(?!/title))", re.IGNORECASE)
_TITLE_END = re.compile(r"</title", re.IGNORECASE)  # found in the <head>: no need to lower-case the whole page


def repair_html(text: str) -> str:
    """Close a <title> left open, so the page's body is parsed as markup; nothing else is touched."""
    if _TITLE_END.search(text):
        return text
    return _UNCLOSED_TITLE.sub(r"\1</title>", text, count=1)


@dataclass
class Page:
    url: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_file(cls, path: str | Path, url: str | None = None, content_type: str | None = None) -> Page:
        """A saved page; its URL defaults to the file's own file:// URL."""
        path = Path(path)
        headers = {"Content-Type": content_type} if content_type else {}
        return cls(url=url or path.resolve().as_uri(), body=path.read_bytes(), headers=headers)

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None

    @cached_property
    def _decoded(self) -> tuple[str, str]:
        return decode_body(self.body, self.header("Content-Type"))

    @property
    def text(self) -> str:
        return self._decoded[0]

    @property
    def encoding(self) -> str:
        return self._decoded[1]

    @property
    def is_json(self) -> bool:
        return "json" in (self.header("Content-Type") or "").lower()

    @cached_property
    def selector(self) -> Selector:
        """HTML, or a JSON document for API answers (profiles read those with json: field specs)."""
        if self.is_json:
            return Selector(text=self.text, type="json")
        return Selector(text=repair_html(self.text), base_url=self.url)

    @cached_property
    def content_hash(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    @property
    def host(self) -> str:
        """Host name without port: the platform of a site that has no profile."""
        return urlsplit(self.url).hostname or ""
