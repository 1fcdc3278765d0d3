"""Where netwatch finds its data and keeps its state. Environment variables override every default."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def rules_dir() -> Path:
    """Rule packs: NETWATCH_RULES_DIR, else the packs installed with netwatch (the project's rules/, shipped in
    the wheel as the data package `netwatch_rules`)."""
    explicit = os.environ.get("NETWATCH_RULES_DIR")
    return Path(explicit) if explicit else shipped_rules_dir()


def shipped_rules_dir() -> Path:
    """The rule packs and law index installed with netwatch (the data package `netwatch_rules`)."""
    return Path(str(files("netwatch_rules")))


def sites_dir() -> Path:
    """Site profiles shipped with the package (netwatch/sites/*.yaml), or NETWATCH_SITES_DIR."""
    return Path(os.environ.get("NETWATCH_SITES_DIR") or PACKAGE_DIR / "sites")


def db_url() -> str:
    """The lead store: NETWATCH_DB_URL, else ./netwatch.db (SQLite) in the working directory."""
    return os.environ.get("NETWATCH_DB_URL") or f"sqlite:///{Path.cwd() / 'netwatch.db'}"


def cache_dir() -> Path:
    """Caches (jieba's dictionary cache, compiled matcher databases): NETWATCH_CACHE_DIR, else ~/.cache/netwatch."""
    path = Path(os.environ.get("NETWATCH_CACHE_DIR") or Path.home() / ".cache" / "netwatch")
    path.mkdir(parents=True, exist_ok=True)
    return path


def chromium_path() -> str | None:
    """Debian's browser for scrapy-playwright (never a downloaded one): NETWATCH_CHROMIUM, else the first found."""
    explicit = os.environ.get("NETWATCH_CHROMIUM")
    if explicit:
        return explicit
    for candidate in ("/usr/bin/chromium-headless-shell", "/usr/lib/chromium/chromium-headless-shell", "/usr/bin/chromium"):
        if os.path.exists(candidate):
            return candidate
    return None


def time_zone() -> str:
    """The name of the zone times are shown in: NETWATCH_TZ, else Asia/Shanghai (checked: a bad name is an error)."""
    from netwatch.domain.clock import zone

    return zone().key


def language() -> str:
    """What people read (command output, exports, the outbox, reports, the workbench): NETWATCH_LANG, else
    Chinese (zh), the analysts' language."""
    return os.environ.get("NETWATCH_LANG") or "zh"


def report_pdf_seconds() -> float:
    """How long the nightly report's PDF may take (netwatch.ops.report_pdf): NETWATCH_REPORT_PDF_SECONDS, else 60."""
    raw = os.environ.get("NETWATCH_REPORT_PDF_SECONDS")
    try:
        return float(raw) if raw else 60.0
    except ValueError:
        raise ValueError(f"NETWATCH_REPORT_PDF_SECONDS={raw!r} is not a number of seconds") from None


def screenshots() -> bool:
    """Whether crawls take screenshots of pages with new critical/high leads: NETWATCH_SCREENSHOTS (0/no/false
    for off), else on. The tests turn them off except where they are the subject (each costs ~2 s)."""
    return os.environ.get("NETWATCH_SCREENSHOTS", "1").strip().lower() not in ("0", "no", "false", "off")


def archive_dir() -> Path:
    """The evidence archive (WARC files, their indexes and provenance records): NETWATCH_ARCHIVE_DIR, else
    ./archive in the working directory (beside the default ./netwatch.db)."""
    return Path(os.environ.get("NETWATCH_ARCHIVE_DIR") or Path.cwd() / "archive")


def ntp_server() -> str:
    """The time server a capture's clock offset is measured against: NETWATCH_NTP_SERVER (host[:port], "" for
    none), else the National Time Service Center's (国家授时中心)."""
    return os.environ.get("NETWATCH_NTP_SERVER", "ntp.ntsc.ac.cn")
