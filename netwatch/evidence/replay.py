"""`netwatch evidence replay LEAD_ID`: the archived page served on loopback, so an analyst sees it as it was.

The lead's page is served at `/` exactly as archived (the body as the server or the browser gave it);
other paths of the same site are looked up in the same capture's index (stylesheets, scripts, review
pages the crawl fetched) and answered 404 when the crawl did not fetch them. Nothing is fetched live.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from netwatch.evidence.records import EvidenceError, Record, index_entries, index_of, read_record

SKIPPED_HEADERS = {"content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive"}


class ReplayServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, record: Record, port: int = 0) -> None:
        self.record = record
        self.site = urlsplit(record.uri)
        self.entries = {}
        for entry in index_entries(index_of(record.file)):
            parts = urlsplit(entry.get("uri", ""))
            if entry.get("type") in ("response", "revisit") and parts.netloc == self.site.netloc:
                self.entries[parts.path + (f"?{parts.query}" if parts.query else "")] = entry
        super().__init__(("127.0.0.1", port), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"

    def lookup(self, path: str) -> Record | None:
        if path == "/":
            return self.record
        entry = self.entries.get(path)
        if entry is None:
            return None
        return read_record(Path(self.record.file).parent.parent / entry["file"], entry["offset"], entry["length"])

    def serve_in_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="replay", daemon=True)
        thread.start()
        return thread


class _Handler(BaseHTTPRequestHandler):
    server: ReplayServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        try:
            record = self.server.lookup(self.path)
        except EvidenceError as exc:
            self.send_error(500, str(exc))
            return
        if record is None:
            self.send_error(404, "not in the archive")
            return
        self.send_response(record.status or 200)
        for key, value in record.headers:
            if key.lower() not in SKIPPED_HEADERS:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(record.payload)))
        self.send_header("X-Netwatch-Archived", f"{record.date} {record.uri}")
        self.end_headers()
        self.wfile.write(record.payload)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
        return
