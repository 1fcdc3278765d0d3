"""`netwatch evidence verify|export|replay` and `netwatch rescan`: the evidence archive the crawls keep
(netwatch.crawl.archive) checked, handed over, shown, and re-read with today's rule packs."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import click

from netwatch import config
from netwatch.cli.leads import db_option, open_store
from netwatch.cli.options import ROW_ID
from netwatch.exits import EXIT_ERROR

archive_option = click.option("--archive", "archive_dir", type=click.Path(file_okay=False, path_type=Path),
                              default=None, help="The archive's folder (default: NETWATCH_ARCHIVE_DIR, else ./archive).")
zone_option = click.option("--tz", "zone", default=None, help="Time zone of the times shown (default: NETWATCH_TZ, "
                                                              "else Asia/Shanghai).")


@click.group()
def evidence() -> None:
    """The archived pages behind the leads: verify, export a case folder, replay."""


@evidence.command()
@db_option
@archive_option
@click.argument("lead_ids", type=ROW_ID, nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every lead's records and every capture in the archive.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
def verify(db_url, archive_dir, lead_ids, every, lang) -> None:  # type: ignore[no-untyped-def]
    """Re-hash the stored captures; exit 1 naming every file that is missing or changed."""
    from netwatch.evidence.verify import verify as run_verify

    if not lead_ids and not every:
        raise click.UsageError("give lead ids or --all")
    with open_store(db_url) as store:
        sightings = store.sightings(None if every else list(lead_ids))
    checks = run_verify(sightings, (archive_dir or config.archive_dir()) if every else None)
    failed = [check for check in checks if not check.ok]
    for check in failed:
        words = {"missing": "缺失", "changed": "已被改动"} if lang == "zh" else {}
        click.echo(f"{words.get(check.status, check.status)}: {check.what}  {check.detail}".rstrip(), err=True)
    verified = sum(1 for check in checks if check.status == "ok")
    unarchived = sum(1 for check in checks if check.status == "not archived")
    if lang == "zh":
        click.echo(f"校验通过 {verified} 项，失败 {len(failed)} 项，未存档的发现记录 {unarchived} 条")
    else:
        click.echo(f"{verified} verified, {len(failed)} failed, {unarchived} sightings not archived")
    if failed:
        sys.exit(EXIT_ERROR)


@evidence.command("export")
@db_option
@zone_option
@click.argument("lead_id", type=ROW_ID)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="The case folder.")
def export_(db_url, zone, lead_id, out) -> None:  # type: ignore[no-untyped-def]
    """Write one lead's case folder: WARC records, screenshots, provenance, the printable case sheet."""
    from netwatch.evidence.casefile import SHEET, export_case
    from netwatch.evidence.records import EvidenceError

    with open_store(db_url) as store:
        try:
            written = export_case(store, lead_id, out, zone or config.time_zone())
        except EvidenceError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"已写入 {len(written)} 个文件：{out}（案件材料：{out / SHEET}）")


@evidence.command()
@db_option
@click.argument("lead_id", type=ROW_ID)
@click.option("--sighting", type=click.Choice(["first", "latest"]), default="first", show_default=True,
              help="The capture that raised the lead, or the latest one.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
def replay(db_url, lead_id, sighting, port) -> None:  # type: ignore[no-untyped-def]
    """Serve the archived page on loopback, as it was captured (Ctrl-C stops)."""
    from netwatch.evidence.records import EvidenceError, read_record
    from netwatch.evidence.replay import ReplayServer

    with open_store(db_url) as store:
        row = store.lead(lead_id)["evidence"][sighting]
    if row is None:
        raise click.ClickException(f"lead {lead_id}: its {sighting} sighting was not archived")
    try:
        server = ReplayServer(read_record(row["warc_file"], row["warc_offset"], row["warc_length"]), port)
    except (EvidenceError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{server.record.uri}（存档时间 UTC {server.record.date}）：{server.url}  按 Ctrl-C 停止")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@click.command()
@db_option
@archive_option
@click.option("--since", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="YYYY-MM-DD")
@click.option("--store", "store_leads", is_flag=True,
              help="Keep the leads found in the store (--db), as a run of spider 'rescan'; without it they are "
                   "worked out in a scratch database and only shown.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per hit.")
def rescan(db_url, archive_dir, since, store_leads, as_json) -> None:  # type: ignore[no-untyped-def]
    """Run today's rule packs and review signals over the pages archived since DATE (nothing is fetched)."""
    import tempfile

    from netwatch.checks.text import default_engine
    from netwatch.evidence.rescan import rescan as run_rescan

    root = archive_dir or config.archive_dir()
    if not root.is_dir():
        raise click.ClickException(f"{root}: no archive there (NETWATCH_ARCHIVE_DIR, --archive)")
    with tempfile.TemporaryDirectory(prefix="netwatch-rescan-") as scratch:
        url = db_url if store_leads else f"sqlite:///{Path(scratch) / 'rescan.db'}"
        with open_store(url) as store:
            run_id, pages, rows = run_rescan(root, date(since.year, since.month, since.day), default_engine(), store)
    if store_leads:
        click.echo(f"已存入批次 {run_id}", err=True)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False, default=str))
    else:
        for row in rows:
            click.echo(f"{row['severity']:8} {row['category']:18} {row['pack']}/{row['rule']}  {row['match']}  {row['url']}")
    click.echo(f"读取存档页面 {pages} 个，命中 {len(rows)} 处", err=True)
