"""The evidence archive (#15), end to end on the demo marketplace: a real crawl on loopback writes WARC records,
provenance and screenshots; every lead points to its record; verify, export, replay and rescan work from the
archive, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from io import BytesIO
from pathlib import Path

import pytest
import sqlalchemy as sa
from test_store_helpers import with_schema
from warcio.archiveiterator import ArchiveIterator

from netwatch.crawl.provenance import NTP_EPOCH_OFFSET, clock_offset
from netwatch.domain.capture import sha256_file
from netwatch.domain.words import say
from netwatch.evidence.records import index_entries, index_of, provenance_of, read_json, read_record
from netwatch.evidence.replay import ReplayServer
from netwatch.store import Store


def netwatch(*args: str, archive: Path, check: bool = True) -> subprocess.CompletedProcess:
    env_args = [sys.executable, "-m", "netwatch.cli", *args]
    env = {**os.environ, "NETWATCH_ARCHIVE_DIR": str(archive), "NETWATCH_NTP_SERVER": "127.0.0.1:9"}
    done = subprocess.run(env_args, capture_output=True, text=True, timeout=600, env=env)
    if check:
        assert done.returncode in (0, 3), done.stdout + done.stderr  # 3: health alarms of the planted faults
    return done


def crawl(mall, db: str, archive: Path, stats: Path) -> dict:
    netwatch("crawl", "netmall", "-a", f"base_url={mall.urls['netmall']}", "-s", f"NETWATCH_DB_URL={db}",
             "-s", "NETWATCH_SCREENSHOTS=1", "-s", "NETWATCH_SCREENSHOTS_MAX=2", "-s", "LOG_LEVEL=WARNING", "--progress", "0",
             "--stats", str(stats), archive=archive)
    return json.loads(stats.read_text(encoding="utf-8"))[0]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def crawled(request, mall, tmp_path_factory):
    """One crawl of the demo marketplace's netmall into a fresh store and archive."""
    work = tmp_path_factory.mktemp("evidence")
    schema = None
    if request.param == "sqlite":
        db = f"sqlite:///{work / 'netwatch.db'}"
    else:
        base = request.getfixturevalue("pg_url")
        schema = f"nwevidence_{uuid.uuid4().hex[:12]}"
        with sa.create_engine(base).begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        db = with_schema(base, schema)
    archive = work / "archive"
    summary = crawl(mall, db, archive, work / "stats.json")
    assert summary["items"] > 100 and summary["leads"] > 20
    yield {"db": db, "archive": archive, "work": work, "summary": summary}
    if schema:
        with sa.create_engine(request.getfixturevalue("pg_url")).begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


def leads_of(db: str) -> list[dict]:
    with Store(db) as store:
        return [store.lead(row["lead_id"]) for row in store.leads(limit=None)]


def test_every_lead_has_its_warc_record_and_provenance(crawled):
    leads = leads_of(crawled["db"])
    assert len(leads) > 20
    for lead in leads:
        first = lead["evidence"]["first"]
        assert first is not None, f"lead {lead['lead_id']} ({lead['rule']}) has no archived record"
        record = read_record(first["warc_file"], first["warc_offset"], first["warc_length"])
        page = lead["listing_url"] or lead["shop"]["url"]
        assert record.uri == page and record.status == 200 and record.rec_type == "response"
        assert record.ip_address.startswith("127.")
        raw = list(ArchiveIterator(BytesIO(record.raw)))[0]
        assert raw.rec_headers.get_header("WARC-Payload-Digest").startswith("sha1:")
        assert raw.rec_headers.get_header("WARC-Date").startswith(record.date[:10])
        request = list(ArchiveIterator(BytesIO(record.extra_raw[0])))[0]
        assert request.rec_type == "request" and "netwatch" in request.http_headers.get_header("User-Agent")
        if lead["listing_url"]:  # the page the listing was read from: its stored hash is the archived body's
            assert hashlib.sha256(record.payload).hexdigest() == lead["evidence_hash"]
        provenance = read_json(provenance_of(first["warc_file"]))
        assert provenance["files"][Path(first["warc_file"]).name] == sha256_file(first["warc_file"])
        assert provenance["clock"]["ntp"]["status"] == "unknown"  # loopback only: nothing answers
        assert provenance["extraction_record"]["提取方式"] == "网络在线提取"
        assert provenance["user_agent"].startswith("netwatch/") and "127.0.0.1" in provenance["servers"]
        assert provenance["profile"]["key"] == "netmall" and provenance["started_local"].endswith("+08:00")
    for warc in crawled["archive"].glob("*/*.warc.gz"):  # warcio re-checks every record's digests
        checked = subprocess.run([sys.executable, "-m", "warcio.cli", "check", "-v", str(warc)], capture_output=True,
                                 text=True, timeout=300)
        assert checked.returncode == 0 and "digest pass" in checked.stdout, checked.stdout[-2000:]
    # every response the downloader got (retried and redirected ones too) is archived, each with its request
    entries = [e for index in crawled["archive"].glob("*/*.index.jsonl") for e in index_entries(index)]
    with Store(crawled["db"]) as store:
        stats = store.runs(1)[0]["stats"]
    assert sum(e["type"] in ("response", "revisit") for e in entries) == stats["downloader/response_count"]
    assert stats["netwatch/archive/responses"] == stats["downloader/response_count"]
    assert all(e["request"]["length"] > 0 for e in entries)


def test_new_critical_and_high_leads_get_screenshots(crawled):
    screens = read_json(next(crawled["archive"].glob("*/*.screens.json")))
    assert len(screens["pages"]) == 2 and screens["browser"].startswith("chromium")  # NETWATCH_SCREENSHOTS_MAX
    folder = next(crawled["archive"].glob("*/screens")).parent
    for page in screens["pages"]:
        for key in ("png", "marked_png"):
            png = folder / page[key]
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
            assert screens["files"][page[key]] == sha256_file(png)
    assert any(page["marked"] > 0 for page in screens["pages"])
    with Store(crawled["db"]) as store:
        severities = {store.lead(lead_id)["severity"] for page in screens["pages"] for lead_id in page["lead_ids"]}
    assert severities <= {"critical", "high"}


def test_verify_passes_and_names_a_file_with_one_byte_changed(crawled):
    archive, db = crawled["archive"], crawled["db"]
    done = netwatch("evidence", "verify", "--all", "--db", db, archive=archive)
    assert done.returncode == 0 and "失败 0 项" in done.stdout, done.stdout + done.stderr
    lead = leads_of(db)[0]
    target = Path(lead["evidence"]["first"]["warc_file"])
    offset = lead["evidence"]["first"]["warc_offset"] + 20
    original = target.read_bytes()
    try:
        target.write_bytes(original[:offset] + bytes([original[offset] ^ 0x01]) + original[offset + 1:])
        for args in (["--all"], [str(lead["lead_id"])]):
            done = netwatch("evidence", "verify", *args, "--db", db, archive=archive, check=False)
            assert done.returncode == 1 and str(target) in done.stderr and "已被改动" in done.stderr, done.stderr
        png = next(archive.glob("*/screens/*.png"))
        picture = png.read_bytes()
        png.write_bytes(picture[:-1] + bytes([picture[-1] ^ 0xFF]))
        done = netwatch("evidence", "verify", "--all", "--db", db, archive=archive, check=False)
        assert done.returncode == 1 and str(png) in done.stderr
        png.write_bytes(picture)
    finally:
        target.write_bytes(original)
    assert netwatch("evidence", "verify", "--all", "--db", db, archive=archive).returncode == 0


def test_export_writes_the_case_folder(crawled):
    screens = read_json(next(crawled["archive"].glob("*/*.screens.json")))
    lead_id = screens["pages"][0]["lead_ids"][0]
    out = crawled["work"] / f"case-{lead_id}"
    done = netwatch("evidence", "export", str(lead_id), "--out", str(out), "--db", crawled["db"],
                    archive=crawled["archive"])
    assert done.returncode == 0, done.stderr
    with Store(crawled["db"]) as store:
        lead = store.lead(lead_id)
    with open(out / "records" / "first.warc.gz", "rb") as handle:
        assert [record.rec_type for record in ArchiveIterator(handle)][:2] == ["response", "request"]
    sheet = (out / "案件材料.html").read_text(encoding="utf-8")
    first_match = lead["hits"][0]["match"]
    assert f"<mark>{first_match}</mark>" in sheet and "电子数据提取笔录" in sheet and lead["legal_basis"] in sheet
    assert lead["shop"]["credit_code"] in sheet and lead["evidence"]["first"]["warc_sha256"] in sheet
    assert len(list((out / "screenshots").glob("*.png"))) == 2
    assert list((out / "provenance").glob("*.provenance.json"))
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["files"] and all(sha256_file(out / name) == digest for name, digest in manifest["files"].items())


def test_replay_serves_the_archived_page(crawled):
    lead = leads_of(crawled["db"])[0]
    first = lead["evidence"]["first"]
    record = read_record(first["warc_file"], first["warc_offset"], first["warc_length"])
    server = ReplayServer(record)
    server.serve_in_background()
    try:
        with urllib.request.urlopen(server.url, timeout=10) as answer:
            assert answer.read() == record.payload and answer.headers["X-Netwatch-Archived"].startswith(record.date)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server.url + "never/fetched", timeout=10)
        assert refused.value.code == 404
    finally:
        server.shutdown()
        server.server_close()


def stored_lead_keys(db: str) -> dict[tuple, tuple]:
    """(subject, platform, id, pack, rule) -> (category, fields) of every stored lead."""
    engine = sa.create_engine(db)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT d.subject, COALESCE(l.platform, s.platform), COALESCE(l.canonical_id, s.shop_id), d.pack, d.rule, "
            "d.id FROM leads d LEFT JOIN listings l ON l.id = d.listing_id AND d.subject = 'listing' "
            "LEFT JOIN shops s ON s.id = d.shop_id AND d.subject = 'shop'")).all()
        fields = {lead_id: {f for (f,) in conn.execute(sa.text("SELECT field FROM lead_hits WHERE lead_id = :i"),
                                                       {"i": lead_id})} for *_, lead_id in rows}
    engine.dispose()
    return {tuple(row[:5]): fields[row[5]] for row in rows}


def test_rescan_finds_the_crawls_leads_from_the_archive_alone(crawled, tmp_path):
    copy = tmp_path / "elsewhere"
    shutil.copytree(crawled["archive"], copy)  # the archive alone: nothing of the crawl's store is read
    done = netwatch("rescan", "--since", "2000-01-01", "--json", "--archive", str(copy),
                    "--db", f"sqlite:///{tmp_path / 'unused.db'}", archive=copy)
    assert done.returncode == 0, done.stderr
    rescanned = {(r["subject"], r["platform"], r["id"], r["pack"], r["rule"])
                 for r in map(json.loads, done.stdout.splitlines())}
    crawled_leads = stored_lead_keys(crawled["db"])
    # Review-API texts, list-page prices and the review signals come back too; only the price history, which
    # compares nights, cannot (one crawl has none).
    assert rescanned == set(crawled_leads)
    assert {key[3] for key in rescanned} >= {"review_signals", "price_marks"}
    assert any(fields == {"review"} for fields in crawled_leads.values())
    assert len(rescanned) > 30


def test_a_second_crawl_writes_revisits_and_keeps_both_sightings(crawled, mall):
    archive, db = crawled["archive"], crawled["db"]
    before = sum(path.stat().st_size for path in archive.glob("*/*.warc.gz"))
    second = crawl(mall, db, archive, crawled["work"] / "stats2.json")
    files = sorted(archive.glob("*/*.warc.gz"), key=lambda path: path.stat().st_mtime)
    added = sum(path.stat().st_size for path in files) - before
    assert added < before * 0.6, (added, before)  # unchanged pages cost a revisit record, not the page
    newest = [e for e in index_entries(index_of(files[-1])) if e["type"] in ("response", "revisit")]
    revisits = [e for e in newest if e["type"] == "revisit"]
    assert len(newest) >= second["pages"] and len(revisits) > 0.9 * len(newest)
    assert all(e["refers_to"]["file"].split("/")[1] != files[-1].name for e in revisits)  # an earlier run's
    lead = next(lead for lead in leads_of(db) if lead["times_seen"] == 2 and lead["listing_url"])
    first, latest = lead["evidence"]["first"], lead["evidence"]["latest"]
    assert first["run_id"] < latest["run_id"] and first["warc_file"] != latest["warc_file"]
    old = read_record(first["warc_file"], first["warc_offset"], first["warc_length"])
    new = read_record(latest["warc_file"], latest["warc_offset"], latest["warc_length"])
    assert new.rec_type == "revisit" and new.payload == old.payload  # resolved through the index
    shown = netwatch("leads", "show", str(lead["lead_id"]), "--db", db, archive=archive).stdout
    assert say("evidence_first", "zh") in shown and say("evidence_latest", "zh") in shown  # Chinese by default
    assert netwatch("evidence", "verify", "--all", "--db", db, archive=archive).returncode == 0


def test_clock_offset_is_unknown_without_a_server_and_measured_with_one():
    began = time.monotonic()
    assert clock_offset("127.0.0.1:9", 1.0)["status"] == "unknown" and time.monotonic() - began < 3
    assert clock_offset("", 1.0)["status"] == "unknown"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:  # an SNTP server 2.5 s ahead, on loopback
        server.bind(("127.0.0.1", 0))

        def answer() -> None:
            _, client = server.recvfrom(64)
            now = time.time() + 2.5 + NTP_EPOCH_OFFSET
            reply = bytearray(48)
            reply[0] = 0x1C
            reply[40:48] = struct.pack("!II", int(now), int((now % 1) * 2**32))
            server.sendto(bytes(reply), client)

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        measured = clock_offset(f"127.0.0.1:{server.getsockname()[1]}", 2.0)
        thread.join(5)
    assert measured["status"] == "measured" and abs(measured["offset_s"] - 2.5) < 0.2


def test_retention_removes_old_days_but_not_an_original_a_kept_revisit_refers_to(tmp_path):
    from datetime import UTC, datetime

    from netwatch.crawl.warc import prune

    for day in ("2026-10-01", "2026-10-02", "2026-12-01"):
        (tmp_path / day).mkdir()
        (tmp_path / day / "netwatch-x.warc.gz").write_bytes(b"x")
    revisit = {"type": "revisit", "refers_to": {"file": "2026-10-02/netwatch-x.warc.gz", "offset": 0, "length": 1}}
    (tmp_path / "2026-12-01" / "netwatch-x.index.jsonl").write_text(json.dumps(revisit) + "\n", encoding="utf-8")
    removed = prune(tmp_path, 30, datetime(2026, 12, 6, tzinfo=UTC))
    assert [path.name for path in removed] == ["2026-10-01"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["2026-10-02", "2026-12-01"]
    assert prune(tmp_path, 0, datetime(2026, 12, 6, tzinfo=UTC)) == []  # 0: keep all


def test_a_crawl_killed_outright_leaves_a_provenance_record_that_is_sealed_later(mall, tmp_path):
    """SIGKILL gives a crawl no chance to write its closing record: the open one it wrote as it started is sealed
    by the next `evidence verify` on this host (the files hashed then, the end taken as the last write)."""
    db, archive = f"sqlite:///{tmp_path / 'netwatch.db'}", tmp_path / "archive"
    env = {**os.environ, "NETWATCH_ARCHIVE_DIR": str(archive), "NETWATCH_NTP_SERVER": "127.0.0.1:9"}
    child = subprocess.Popen([sys.executable, "-m", "netwatch.cli", "crawl", "netmall", "-a",
                              f"base_url={mall.urls['netmall']}", "-s", f"NETWATCH_DB_URL={db}", "-s",
                              "CONCURRENT_REQUESTS=2", "-s", "NETWATCH_STORE_FLUSH_SECONDS=0.5", "--progress", "0"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            opened = list(archive.glob("*/*.provenance.open.json"))
            indexes = list(archive.glob("*/*.index.jsonl"))
            if opened and indexes and len(index_entries(indexes[0])) >= 60:
                break
            time.sleep(0.05)
        assert child.poll() is None, "the crawl ended before it could be killed"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    [opened] = archive.glob("*/*.provenance.open.json")
    assert read_json(opened)["state"] == "open" and not list(archive.glob("*/*.provenance.json"))
    done = netwatch("evidence", "verify", "--all", "--db", db, archive=archive, check=False)
    assert done.returncode == 0, done.stdout + done.stderr  # the killed run's leads point into a sealed capture
    assert not opened.exists()
    [sealed] = archive.glob("*/*.provenance.json")
    record = read_json(sealed)
    assert record["state"] == "sealed" and record["finish_reason"] == "killed" and record["sealed"]["note"]
    entries = index_entries(index_of(next(archive.glob("*/*.warc.gz"))))
    assert record["records"]["response"] + record["records"]["revisit"] == len(entries) >= 60
    warcs = sorted(archive.glob("*/*.warc.gz"))
    assert set(record["files"]) == {path.name for path in warcs} | {index_of(warcs[0]).name}
    assert all(record["files"][path.name] == sha256_file(path) for path in warcs)
    assert "提取进程被终止" in record["extraction_record"]["提取结束时间"]
    with Store(db) as store:
        assert store.count_leads() > 0 and all(row["warc_file"] for row in store.sightings())
