"""The provenance record of a crawl's capture, written beside its WARC files when the crawl ends.

A first version (<stamp>.provenance.open.json, no end time, no file hashes) is written as the crawl starts, so a
crawl killed outright (SIGKILL, power loss) still leaves its capture's record: the next crawl, `netwatch
evidence verify` or `netwatch rescan` on the same host finds it with its process gone and seals it
(`seal_killed`): its files hashed then, its end time the capture's last write, and both marked as
established after the fact.

It holds what an online extraction of electronic data must record (SAMR's 市场监督管理行政执法电子数据取证暂行规定,
the procuratorate's 2021 rules art. 37, DB3202/T 1024—2021; see README, Evidence): the source URLs, the
extraction's start and end time in UTC and local time, the method and tool with its version, the system
environment, the server IP addresses and TLS certificates, the user agent and request headers sent, every
capture option, the clock's offset from an NTP server (or "unknown"), and the sha256 of every file of the
capture (the completeness hash `netwatch evidence verify` re-computes). A place is left for an RFC 3161
trusted timestamp of the record.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import socket
import struct
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from netwatch.domain.capture import INDEX_SUFFIX, OPEN_PROVENANCE_SUFFIX, PROVENANCE_SUFFIX, sha256_file
from netwatch.domain.process import process_alive

logger = logging.getLogger(__name__)
TOOL = "netwatch"
# Settings that shape what a capture holds: recorded so the capture can be repeated the same way.
CAPTURE_OPTIONS = (
    "USER_AGENT", "ROBOTSTXT_OBEY", "DOWNLOAD_TIMEOUT", "DOWNLOAD_MAXSIZE", "REDIRECT_MAX_TIMES", "RETRY_TIMES",
    "CONCURRENT_REQUESTS", "CONCURRENT_REQUESTS_PER_DOMAIN", "DOWNLOAD_DELAY", "AUTOTHROTTLE_ENABLED",
    "COOKIES_ENABLED", "DEFAULT_REQUEST_HEADERS", "PLAYWRIGHT_LAUNCH_OPTIONS", "NETWATCH_INCREMENTAL",
    "NETWATCH_ARCHIVE_MAX_BYTES", "NETWATCH_ARCHIVE_RETENTION_DAYS", "NETWATCH_RULES_DIR",
)
NTP_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900 (NTP) to 1970 (Unix)


@dataclass(frozen=True)
class Started:
    utc: datetime
    zone: str

    @classmethod
    def now(cls, zone: str) -> Started:
        ZoneInfo(zone)  # an unknown zone fails here, before the crawl
        return cls(datetime.now(UTC), zone)

    @staticmethod
    def clock() -> datetime:
        return datetime.now(UTC)

    def local(self, moment: datetime) -> str:
        return moment.astimezone(ZoneInfo(self.zone)).isoformat(timespec="seconds")


def tool_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0]}
    for package in (TOOL, "scrapy", "warcio", "playwright", "scrapy-playwright", "twisted"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            continue
    return versions


def environment() -> dict[str, Any]:
    return {"host": socket.gethostname(), "os": platform.platform(), "machine": platform.machine(),
            "python": platform.python_implementation() + " " + platform.python_version(), "pid": os.getpid(),
            "user": _user()}


def _user() -> str | None:
    try:
        import getpass

        return getpass.getuser()
    except (KeyError, OSError):
        return None


def warcinfo(crawler: Any) -> dict[str, Any]:
    """The warcinfo record at the head of every WARC file."""
    settings = crawler.settings
    env = environment()
    return {"software": f"{TOOL}/{tool_versions().get(TOOL, '?')} (warcio {tool_versions().get('warcio', '?')})",
            "format": "WARC File Format 1.1", "conformsTo": "https://iso.org/standard/68004.html",
            "hostname": env["host"], "operating-system": env["os"], "http-header-user-agent": settings.get("USER_AGENT"),
            "robots": "obey" if settings.getbool("ROBOTSTXT_OBEY") else "ignore",
            "isPartOf": getattr(crawler.spider, "name", None) or crawler.spidercls.name}


def clock_offset(server: str | None, timeout: float) -> dict[str, Any]:
    """The local clock's offset from an NTP server (SNTP, one query, `timeout` seconds at most): offset in
    seconds (server minus local), or status "unknown" with the reason when no server answered."""
    if not server:
        return {"status": "unknown", "reason": "no NTP server configured (NETWATCH_NTP_SERVER)"}
    host, _, port = server.partition(":")
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(timeout)
            sent = time.time()
            sock.sendto(b"\x1b" + 47 * b"\0", (host, int(port or 123)))
            data, _ = sock.recvfrom(256)
            received = time.time()
    except (OSError, ValueError) as exc:
        return {"status": "unknown", "server": server, "reason": f"{type(exc).__name__}: {exc}"}
    if len(data) < 48:
        return {"status": "unknown", "server": server, "reason": "short NTP answer"}
    seconds, fraction = struct.unpack("!II", data[40:48])
    server_time = seconds - NTP_EPOCH_OFFSET + fraction / 2**32
    return {"status": "measured", "server": server, "offset_s": round(server_time - (sent + received) / 2, 6),
            "round_trip_s": round(received - sent, 6)}


def certificate_fields(certificate: Any) -> dict[str, Any]:
    """A server's TLS certificate (twisted.internet.ssl.Certificate): what identifies it, and the PEM."""
    import hashlib

    der = certificate.dump()
    x509 = certificate.original
    return {"sha256_fingerprint": hashlib.sha256(der).hexdigest(),
            "subject": str(certificate.getSubject()), "issuer": str(certificate.getIssuer()),
            "serial_number": str(certificate.serialNumber()),
            "not_before": x509.get_notBefore().decode("ascii") if x509.get_notBefore() else None,
            "not_after": x509.get_notAfter().decode("ascii") if x509.get_notAfter() else None,
            "pem": certificate.dumpPEM().decode("ascii")}


def write(run: Any, crawler: Any, started: Started, hosts: dict[str, dict[str, Any]], ntp: dict[str, Any],
          reason: str | None) -> Path:
    """Write <stamp>.provenance.json beside the run's WARC files; return its path. reason None: the crawl has
    just started, and the record is the open one (<stamp>.provenance.open.json), without end or file hashes."""
    settings = crawler.settings
    spider = crawler.spider
    ended = datetime.now(UTC) if reason is not None else None
    files = [*run.files, run.index_path]
    record = {
        "kind": "netwatch capture provenance",
        "capture": run.stamp,
        "state": "closed" if reason is not None else "open",
        "store_run_id": crawler.stats.get_value("netwatch/run_id"),
        "spider": getattr(spider, "name", None), "target": getattr(spider, "target", None),
        # how the pages were read, so `netwatch rescan` reads the archived pages the same way
        "profile": _profile(spider), "platform": getattr(spider, "platform", None) or None,
        "source_urls": [str(url) for url in getattr(spider, "start_urls", []) or []] or _start_urls(spider),
        "method": "网络在线提取 (online extraction): HTTP fetch by a Scrapy crawler, pages needing scripts rendered "
                  "in headless Chromium; responses archived as received in WARC/1.1 (ISO 28500)",
        "started_utc": started.utc.isoformat(timespec="seconds"), "started_local": started.local(started.utc),
        "ended_utc": ended.isoformat(timespec="seconds") if ended else None,
        "ended_local": started.local(ended) if ended else None,
        "timezone": started.zone, "finish_reason": reason,
        "tool": {"name": TOOL, "versions": tool_versions()},
        "environment": environment(),
        "user_agent": settings.get("USER_AGENT"),
        "request_headers": dict(settings.getdict("DEFAULT_REQUEST_HEADERS")),
        "capture_options": {name: settings.get(name) for name in CAPTURE_OPTIONS},
        "clock": {"ntp": ntp, "local_clock_utc_at_start": started.utc.isoformat()},
        "servers": hosts,
        "records": dict(run.counts),
        "files": {str(path.relative_to(run.day_dir)): sha256_file(path) for path in files if path.exists()}
        if reason is not None else {},
        "trusted_timestamp": None,  # RFC 3161 token of this record's sha256, when a TSA is reachable
        "extraction_record": extraction_record(run, crawler, started, ended, hosts, ntp),
    }
    path = run.day_dir / f"{run.stamp}{PROVENANCE_SUFFIX if reason is not None else OPEN_PROVENANCE_SUFFIX}"
    _write_json(path, record)
    if reason is not None:
        (run.day_dir / f"{run.stamp}{OPEN_PROVENANCE_SUFFIX}").unlink(missing_ok=True)
    return path


def _write_json(path: Path, record: dict[str, Any]) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(record, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    temporary.replace(path)


def seal_killed(folders: Any) -> list[Path]:
    """Seal the open provenance records, in these archive day folders, of crawls on this host whose process is
    gone (killed before they could close their capture): the files of the capture are hashed now and its end is
    taken as its last write, both said to be established after the fact. Returns the records sealed."""
    sealed = []
    host = socket.gethostname()
    for folder in sorted({Path(folder) for folder in folders}):
        for open_path in sorted(folder.glob(f"*{OPEN_PROVENANCE_SUFFIX}")):
            try:
                record = json.loads(open_path.read_text(encoding="utf-8"))
                pid = int(record["environment"]["pid"])
                ours = record["environment"]["host"] == host
            except (OSError, ValueError, KeyError, TypeError) as exc:
                logger.warning("cannot read the open provenance record %s: %s", open_path, exc)
                continue
            if not ours or process_alive(pid):
                continue  # another host's crawl, or one still running
            _seal(open_path, record)
            sealed.append(open_path.parent / f"{record['capture']}{PROVENANCE_SUFFIX}")
    return sealed


def _seal(open_path: Path, record: dict[str, Any]) -> None:
    folder, stamp = open_path.parent, record["capture"]
    files = [*sorted(folder.glob(f"{stamp}-*.warc.gz")), folder / f"{stamp}{INDEX_SUFFIX}"]
    files = [path for path in files if path.exists()]
    last_write = max((path.stat().st_mtime for path in files), default=None)
    ended = datetime.fromtimestamp(last_write, UTC) if last_write is not None else None
    zone = ZoneInfo(record.get("timezone") or "UTC")
    now = datetime.now(UTC)
    counts = {"response": 0, "revisit": 0, "request": 0}
    index = folder / f"{stamp}{INDEX_SUFFIX}"
    if index.exists():
        for line in index.read_text(encoding="utf-8", errors="replace").splitlines():
            kind = json.loads(line).get("type") if line.startswith("{") and line.endswith("}") else None
            if kind in counts:
                counts[kind] += 1
                counts["request"] += 1
    record.update({
        "state": "sealed", "finish_reason": "killed",
        "ended_utc": ended.isoformat(timespec="seconds") if ended else None,
        "ended_local": ended.astimezone(zone).isoformat(timespec="seconds") if ended else None,
        "records": counts,
        "files": {path.name: sha256_file(path) for path in files},
        "sealed": {"at_utc": now.isoformat(timespec="seconds"),
                   "at_local": now.astimezone(zone).isoformat(timespec="seconds"),
                   "by": f"{TOOL} {tool_versions().get(TOOL, '?')}", "environment": environment(),
                   "note": "the crawl was killed before it closed its capture: the end time is the capture's last "
                           "write, and the file hashes were computed when sealed, not when the crawl ended"},
    })
    extraction = record.setdefault("extraction_record", {})
    extraction["提取结束时间"] = (f"{record['ended_local']}（推定：存档文件最后写入时间；提取进程被终止）"
                            if ended else "未知（提取进程被终止）")
    extraction["封存说明"] = (f"提取进程被终止，未正常结束；本记录于 {record['sealed']['at_local']} 补充封存，"
                          "文件哈希值为封存时计算")
    _write_json(open_path.parent / f"{stamp}{PROVENANCE_SUFFIX}", record)
    open_path.unlink()
    logger.warning("sealed the capture %s of a crawl that was killed (pid %s)", stamp, record["environment"]["pid"])


def _profile(spider: Any) -> dict[str, Any] | None:
    profile = getattr(spider, "profile", None)
    if profile is None or not hasattr(profile, "key"):
        return None
    return {"key": profile.key, "source": profile.source, "base_url": profile.base_url}


def _start_urls(spider: Any) -> list[str]:
    profile = getattr(spider, "profile", None)
    urls = getattr(profile, "start_urls", None) or []
    return [str(url) for url in urls]


def extraction_record(run: Any, crawler: Any, started: Started, ended: datetime | None, hosts: dict[str, Any],
                      ntp: dict[str, Any]) -> dict[str, Any]:
    """The 电子数据提取笔录's items, in its own words."""
    env = environment()
    offset = f"{ntp['offset_s']:+.3f} 秒（{ntp['server']}）" if ntp.get("status") == "measured" else "未知（无法连接授时服务器）"
    return {
        "提取方式": "网络在线提取",
        "提取工具及版本": f"{TOOL} {tool_versions().get(TOOL, '?')}（Scrapy {tool_versions().get('scrapy', '?')}，"
                       f"warcio {tool_versions().get('warcio', '?')}）",
        "提取开始时间": started.local(started.utc), "提取结束时间": started.local(ended) if ended else "（提取进行中）", "时区": started.zone,
        "时间校准（与授时服务器偏差）": offset,
        "系统环境": f"{env['os']}，主机 {env['host']}",
        "目标服务器IP": sorted({ip for host in hosts.values() for ip in host["ip_addresses"]}),
        "用户代理": crawler.settings.get("USER_AGENT"),
        "存储格式": "WARC/1.1（ISO 28500），逐条 gzip 压缩",
        "完整性校验算法": "SHA-256",
    }
