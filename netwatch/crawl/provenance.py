"""The provenance record of a crawl's capture, written beside its WARC files when the crawl ends.

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

from netwatch.domain.capture import PROVENANCE_SUFFIX, sha256_file

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
          reason: str) -> Path:
    """Write <stamp>.provenance.json beside the run's WARC files; return its path."""
    settings = crawler.settings
    spider = crawler.spider
    ended = datetime.now(UTC)
    files = [*run.files, run.index_path]
    record = {
        "kind": "netwatch capture provenance",
        "capture": run.stamp,
        "store_run_id": crawler.stats.get_value("netwatch/run_id"),
        "spider": getattr(spider, "name", None), "target": getattr(spider, "target", None),
        # how the pages were read, so `netwatch rescan` reads the archived pages the same way
        "profile": _profile(spider), "platform": getattr(spider, "platform", None) or None,
        "source_urls": [str(url) for url in getattr(spider, "start_urls", []) or []] or _start_urls(spider),
        "method": "网络在线提取 (online extraction): HTTP fetch by a Scrapy crawler, pages needing scripts rendered "
                  "in headless Chromium; responses archived as received in WARC/1.1 (ISO 28500)",
        "started_utc": started.utc.isoformat(timespec="seconds"), "started_local": started.local(started.utc),
        "ended_utc": ended.isoformat(timespec="seconds"), "ended_local": started.local(ended),
        "timezone": started.zone, "finish_reason": reason,
        "tool": {"name": TOOL, "versions": tool_versions()},
        "environment": environment(),
        "user_agent": settings.get("USER_AGENT"),
        "request_headers": dict(settings.getdict("DEFAULT_REQUEST_HEADERS")),
        "capture_options": {name: settings.get(name) for name in CAPTURE_OPTIONS},
        "clock": {"ntp": ntp, "local_clock_utc_at_start": started.utc.isoformat()},
        "servers": hosts,
        "records": dict(run.counts),
        "files": {str(path.relative_to(run.day_dir)): sha256_file(path) for path in files if path.exists()},
        "trusted_timestamp": None,  # RFC 3161 token of this record's sha256, when a TSA is reachable
        "extraction_record": extraction_record(run, crawler, started, ended, hosts, ntp),
    }
    path = run.day_dir / f"{run.stamp}{PROVENANCE_SUFFIX}"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(record, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    temporary.replace(path)
    return path


def _profile(spider: Any) -> dict[str, Any] | None:
    profile = getattr(spider, "profile", None)
    if profile is None or not hasattr(profile, "key"):
        return None
    return {"key": profile.key, "source": profile.source, "base_url": profile.base_url}


def _start_urls(spider: Any) -> list[str]:
    profile = getattr(spider, "profile", None)
    urls = getattr(profile, "start_urls", None) or []
    return [str(url) for url in urls]


def extraction_record(run: Any, crawler: Any, started: Started, ended: datetime, hosts: dict[str, Any],
                      ntp: dict[str, Any]) -> dict[str, Any]:
    """The 电子数据提取笔录's items, in its own words."""
    env = environment()
    offset = f"{ntp['offset_s']:+.3f} 秒（{ntp['server']}）" if ntp.get("status") == "measured" else "未知（无法连接授时服务器）"
    return {
        "提取方式": "网络在线提取",
        "提取工具及版本": f"{TOOL} {tool_versions().get(TOOL, '?')}（Scrapy {tool_versions().get('scrapy', '?')}，"
                       f"warcio {tool_versions().get('warcio', '?')}）",
        "提取开始时间": started.local(started.utc), "提取结束时间": started.local(ended), "时区": started.zone,
        "时间校准（与授时服务器偏差）": offset,
        "系统环境": f"{env['os']}，主机 {env['host']}",
        "目标服务器IP": sorted({ip for host in hosts.values() for ip in host["ip_addresses"]}),
        "用户代理": crawler.settings.get("USER_AGENT"),
        "存储格式": "WARC/1.1（ISO 28500），逐条 gzip 压缩",
        "完整性校验算法": "SHA-256",
    }
