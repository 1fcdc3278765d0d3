"""The WARC writer (netwatch.crawl.warc) writes its record headers itself: these tests hold its records to what
warcio would have written for the same exchange, and to warcio's own reader and checker."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zlib
from datetime import UTC, datetime
from io import BytesIO

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from netwatch.crawl.warc import Exchange, WarcRun, payload_digest


def exchange(url: str, body: bytes, **changes) -> Exchange:
    fields = dict(url=url, method="GET", request_headers=[("User-Agent", "netwatch/test"), ("Accept", "text/html")],
                  request_body=b"", status=200, reason="OK", protocol="HTTP/1.1",
                  response_headers=[("Content-Type", "text/html; charset=utf-8"), ("Server", "mall"),
                                    ("Transfer-Encoding", "chunked")],
                  body=body, ip_address="127.0.0.1", fetched_at=datetime(2026, 12, 6, 1, 2, 3, 456789, tzinfo=UTC))
    return Exchange(**{**fields, **changes})


def member(path, offset: int, length: int) -> bytes:
    """The bytes of one record, and proof that they are one whole gzip member."""
    with open(path, "rb") as handle:
        handle.seek(offset)
        data = handle.read(length)
    inflater = zlib.decompressobj(zlib.MAX_WBITS + 16)
    inflater.decompress(data)
    assert inflater.eof and inflater.unused_data == b"", "not exactly one gzip member"
    return data


def records(data: bytes) -> list:
    """Every record, its block and payload digests checked by warcio as it reads them (raising on a mismatch)."""
    out = []
    for record in ArchiveIterator(BytesIO(data), check_digests="raise"):
        record.content_stream().read()
        out.append(record)
    return out


@pytest.fixture
def written(tmp_path):
    run = WarcRun(tmp_path, "netwatch-20261206T010203-1-00", 1 << 30, {"software": "netwatch test"})
    page = "<html><title>商品</title>违禁词</html>".encode()
    pointers = [run.write(exchange("http://127.0.0.1:8000/item/1", page)),
                run.write(exchange("http://127.0.0.1:8000/item/1?again=1", page)),  # same payload: a revisit
                run.write(exchange("http://127.0.0.1:8000/shop/2", b"<html>shop</html>", status=404,
                                   reason="Not Found",
                                   response_headers=[("Content-Disposition", "attachment; filename=\xe5\x95\x86")])),
                run.write(exchange("http://127.0.0.1:8000/item/3", b"<html>dom</html>", rendered=True,
                                   response_headers=[("Content-Encoding", "gzip"), ("Content-Type", "text/html")]))]
    run.close()
    return run, pointers, page


def test_records_pass_warcio_check_and_each_pointer_is_one_member(written):
    run, pointers, page = written
    (path,) = run.files
    checked = subprocess.run([sys.executable, "-m", "warcio.cli", "check", "-v", str(path)], capture_output=True,
                             text=True, timeout=120)
    assert checked.returncode == 0 and checked.stdout.count("digest pass") == 8, checked.stdout[-2000:]  # one revisit
    for pointer in pointers:
        data = member(path, pointer.offset, pointer.length)
        assert pointer.sha256 == "sha256:" + hashlib.sha256(data).hexdigest()
        assert pointer.bytes_written > pointer.length  # its request record follows it
    kinds = [records(member(path, p.offset, p.length))[0].rec_type for p in pointers]
    assert kinds == ["response", "revisit", "response", "response"]
    assert [p.revisit for p in pointers] == [False, True, False, False]
    assert run.counts == {"response": 3, "revisit": 1, "request": 4, "bytes": sum(p.bytes_written for p in pointers)}
    assert sum(p.bytes_written for p in pointers) + pointers[0].offset == path.stat().st_size


def test_response_revisit_and_request_read_back_as_written(written):
    run, pointers, page = written
    (path,) = run.files
    everything = records(path.read_bytes())
    assert [r.rec_type for r in everything] == ["warcinfo", "response", "request", "revisit", "request",
                                                "response", "request", "response", "request"]
    response, request = everything[1], everything[2]
    headers = response.rec_headers
    assert headers.protocol == "WARC/1.1" and headers.get_header("WARC-Date") == "2026-12-06T01:02:03.456789Z"
    assert headers.get_header("WARC-Target-URI") == "http://127.0.0.1:8000/item/1"
    assert headers.get_header("WARC-IP-Address") == "127.0.0.1"
    assert headers.get_header("WARC-Payload-Digest") == payload_digest(page)
    assert response.http_headers.get_statuscode() == "200"
    assert response.http_headers.get_header("Transfer-Encoding") is None  # Twisted undid the chunking already
    assert request.rec_headers.get_header("WARC-Concurrent-To") == headers.get_header("WARC-Record-ID")
    assert request.http_headers.protocol == "GET" and request.http_headers.statusline == "/item/1 HTTP/1.1"
    revisit = everything[3].rec_headers
    assert revisit.get_header("WARC-Refers-To") == headers.get_header("WARC-Record-ID")
    assert revisit.get_header("WARC-Refers-To-Target-URI") == "http://127.0.0.1:8000/item/1"
    assert revisit.get_header("WARC-Refers-To-Date") == headers.get_header("WARC-Date")
    assert revisit.get_header("WARC-Profile") == "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
    assert revisit.get_header("WARC-Payload-Digest") == payload_digest(page)
    raw = path.read_bytes()
    assert b"filename=\xe5\x95\x86" in zlib.decompress(member(path, pointers[2].offset, pointers[2].length),
                                                      zlib.MAX_WBITS + 16)  # header bytes as the server sent them
    rendered = everything[7]
    assert rendered.rec_headers.get_header("WARC-Netwatch-Rendered") == "chromium"
    assert rendered.http_headers.get_header("Content-Encoding") is None  # the DOM is text, not the gzip sent
    assert len(raw) == path.stat().st_size


def test_records_hold_what_warcio_writes_for_the_same_exchange(written):
    """Same fields and values (but the record's id), the same HTTP block: warcio's writer as the reference."""
    run, pointers, page = written
    (path,) = run.files
    ours = records(path.read_bytes())[1]
    builder = WARCWriter(BytesIO(), gzip=False, warc_version="WARC/1.1")
    http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Server", "mall")],
                            protocol="HTTP/1.1")
    reference = builder.create_warc_record(
        "http://127.0.0.1:8000/item/1", "response", payload=BytesIO(page), length=len(page), http_headers=http,
        warc_headers_dict={"WARC-Date": "2026-12-06T01:02:03.456789Z", "WARC-IP-Address": "127.0.0.1"})
    out = BytesIO()
    WARCWriter(out, gzip=False, warc_version="WARC/1.1").write_record(reference)
    (theirs,) = records(out.getvalue())

    def fields(record) -> dict:
        return {k: v for k, v in record.rec_headers.headers if k != "WARC-Record-ID"}

    assert fields(ours) == fields(theirs)
    with open(path, "rb") as handle:
        handle.seek(pointers[0].offset)
        ours_raw = zlib.decompressobj(zlib.MAX_WBITS + 16).decompress(handle.read(pointers[0].length))
    assert ours_raw.split(b"\r\n\r\n", 1)[1] == out.getvalue().split(b"\r\n\r\n", 1)[1]  # HTTP head, body, end


def test_a_line_break_in_a_header_field_is_refused_not_written(tmp_path):
    run = WarcRun(tmp_path, "netwatch-20261206T010203-1-01", 1 << 30, {"software": "netwatch test"})
    run.write(exchange("http://127.0.0.1:8000/a", b"a"))
    with pytest.raises(ValueError, match="line break"):
        run.write(exchange("http://127.0.0.1:8000/b", b"b", ip_address="127.0.0.1\r\nWARC-Type: response"))
    run.write(exchange("http://127.0.0.1:8000/c", b"c"))
    run.close()
    assert [r.rec_type for r in records(run.files[0].read_bytes())] == ["warcinfo"] + ["response", "request"] * 2


def test_files_rotate_past_the_size_and_each_starts_with_warcinfo(tmp_path):
    run = WarcRun(tmp_path, "netwatch-20261206T010203-1-02", 2000, {"software": "netwatch test"})
    pointers = [run.write(exchange(f"http://127.0.0.1:8000/item/{n}", bytes(range(256)) * 8 + bytes([n])))
                for n in range(6)]
    run.close()
    assert len(run.files) > 1
    for path in run.files:
        kinds = [r.rec_type for r in records(path.read_bytes())]
        assert kinds[0] == "warcinfo" and kinds.count("warcinfo") == 1
    for pointer in pointers:
        member(pointer.file, pointer.offset, pointer.length)
