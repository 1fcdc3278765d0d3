"""The evidence archive of a crawl: every page fetched is written to WARC (netwatch.crawl.warc) as it arrives,
and the record's place travels with the item the page gives, so each lead sighting points to its record.

- ArchiveMiddleware (downloader middleware, next to the downloader): writes each response with its request,
  as the server sent it (before decompression), or as rendered for browser pages. Pages up to
  NETWATCH_ARCHIVE_INLINE_BYTES are written at once when no write is queued; bigger ones, and any while the
  writer thread is busy, go to that thread (in order), so a large page never holds up the reactor. It puts
  the record's pointer in request.meta["netwatch_capture"]. As the crawl starts it writes the run's open provenance
  record (netwatch.crawl.provenance) beside the WARC files, and seals those of earlier crawls on this host that
  were killed; at the end it writes the closed record.
- CaptureToItems (spider middleware): hands that pointer to the Shop or Listing the page gave (a listing
  waiting for its review pages keeps the pointer of its own page).

Settings: NETWATCH_ARCHIVE (on/off), NETWATCH_ARCHIVE_DIR, NETWATCH_ARCHIVE_MAX_BYTES (rotation),
NETWATCH_ARCHIVE_RETENTION_DAYS (0: keep all), NETWATCH_TIMEZONE, NETWATCH_NTP_SERVER.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from scrapy import Request, signals
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from netwatch import config
from netwatch.crawl import provenance
from netwatch.crawl.warc import Exchange, WarcRun, day_dirs, load_originals, prune, run_stamp
from netwatch.domain.clock import utcnow
from netwatch.domain.items import Listing, Shop

logger = logging.getLogger(__name__)

CAPTURE_META = "netwatch_capture"
PENDING_META = "netwatch_pending_item"


def _decoded_headers(headers: Any) -> list[tuple[str, str]]:
    return [(key.decode("latin-1"), value.decode("latin-1")) for key, values in headers.items() for value in values]


class ArchiveMiddleware:
    def __init__(self, crawler: Any) -> None:
        settings = crawler.settings
        if not settings.getbool("NETWATCH_ARCHIVE"):
            raise NotConfigured("NETWATCH_ARCHIVE is off")
        self.crawler = crawler
        self.root = Path(settings.get("NETWATCH_ARCHIVE_DIR") or config.archive_dir()).resolve()
        self.max_bytes = settings.getint("NETWATCH_ARCHIVE_MAX_BYTES")
        self.inline_bytes = settings.getint("NETWATCH_ARCHIVE_INLINE_BYTES")
        self.pending = 0  # writes handed to the writer thread and not done yet
        self.retention_days = settings.getint("NETWATCH_ARCHIVE_RETENTION_DAYS")
        self.run: WarcRun | None = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warc")
        self.started = provenance.Started.now(settings.get("NETWATCH_TIMEZONE") or config.time_zone())
        self.hosts: dict[str, dict[str, Any]] = {}  # host -> server IPs, TLS certificate
        self.opened: asyncio.Future | None = None  # the open provenance record being written

    @classmethod
    def from_crawler(cls, crawler: Any) -> ArchiveMiddleware:
        middleware = cls(crawler)
        crawler.signals.connect(middleware.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    async def spider_opened(self) -> None:
        settings = self.crawler.settings
        now = utcnow()
        self.ntp = asyncio.get_running_loop().run_in_executor(
            None, provenance.clock_offset,
            config.ntp_server() if settings.get("NETWATCH_NTP_SERVER") is None else settings.get("NETWATCH_NTP_SERVER"),
            settings.getfloat("NETWATCH_NTP_TIMEOUT"))
        info = provenance.warcinfo(self.crawler)

        def open_run() -> WarcRun:
            removed = prune(self.root, self.retention_days, self.started.utc)
            if removed:
                logger.info("archive retention (%s days): removed %s", self.retention_days,
                            ", ".join(path.name for path in removed))
            provenance.seal_killed(day_dirs(self.root))
            run = WarcRun(self.root, run_stamp(self.started.utc), self.max_bytes, info)
            run.originals = load_originals(self.root)
            return run

        self.run = await asyncio.get_running_loop().run_in_executor(self.executor, open_run)
        self.opened = asyncio.ensure_future(self._write_open_record(self.run))
        # Set now: the store pipeline replaces the stats with the recorded ones as the crawl closes.
        self.crawler.stats.set_value("netwatch/archive/stamp", self.run.stamp)
        self.crawler.stats.set_value("netwatch/archive/folder", str(self.run.day_dir))
        logger.info("archiving to %s (%s earlier payloads indexed) in %.2fs", self.run.day_dir,
                    len(self.run.originals), (utcnow() - now).total_seconds())

    async def _write_open_record(self, run: WarcRun) -> None:
        """The provenance record of a capture under way: what a killed crawl leaves (netwatch.crawl.provenance)."""
        ntp = await self.ntp
        try:
            await asyncio.get_running_loop().run_in_executor(
                self.executor, provenance.write, run, self.crawler, self.started, copy.deepcopy(self.hosts), ntp, None)
        except Exception as exc:  # noqa: BLE001 - the closing record is written all the same
            logger.error("writing the open provenance record of %s failed: %s", run.stamp, exc)

    async def process_response(self, request: Request, response: Response) -> Response:
        if self.run is None:
            return response
        rendered = bool(request.meta.get("playwright"))
        exchange = Exchange(
            url=response.url, method=request.method, request_headers=_decoded_headers(request.headers),
            request_body=request.body or b"", status=response.status, reason=_reason(response.status),
            protocol=response.protocol or "HTTP/1.1", response_headers=_decoded_headers(response.headers),
            body=response.body, ip_address=str(response.ip_address) if response.ip_address else None,
            fetched_at=self.started.clock(), rendered=rendered)
        self._note_host(response)
        began = time.perf_counter()
        try:
            if len(exchange.body) <= self.inline_bytes and self.pending == 0:
                # A page of ordinary size, nothing queued: written here (~0.1-0.3 ms). Handing it to the thread
                # would hold its request's concurrency slot until a loaded machine schedules that thread.
                pointer = self.run.write(exchange)
            else:  # a big page, or a write under way: the thread keeps them in order and the reactor free
                self.pending += 1
                try:
                    pointer = await asyncio.wrap_future(self.executor.submit(self.run.write, exchange))
                finally:
                    self.pending -= 1
        except Exception as exc:  # noqa: BLE001 - a full disk, a bad header: the crawl goes on, the page is not evidence
            self.crawler.stats.inc_value("netwatch/archive/errors")
            logger.error("archiving %s failed: %s", response.url, exc)
            return response
        request.meta[CAPTURE_META] = pointer.to_dict()
        stats = self.crawler.stats
        stats.inc_value("netwatch/archive/revisits" if pointer.revisit else "netwatch/archive/responses")
        stats.inc_value("netwatch/archive/bytes", pointer.bytes_written)
        stats.inc_value("netwatch/archive/write_s", time.perf_counter() - began)
        return response

    def _note_host(self, response: Response) -> None:
        from urllib.parse import urlsplit

        host = urlsplit(response.url).hostname or ""
        seen = self.hosts.setdefault(host, {"ip_addresses": [], "tls_certificate": None})
        if response.ip_address and str(response.ip_address) not in seen["ip_addresses"]:
            seen["ip_addresses"].append(str(response.ip_address))
        if response.certificate is not None and seen["tls_certificate"] is None:
            seen["tls_certificate"] = provenance.certificate_fields(response.certificate)

    async def spider_closed(self, reason: str) -> None:
        if self.run is None:
            return
        run, self.run = self.run, None
        if self.opened is not None:
            await self.opened
        await asyncio.get_running_loop().run_in_executor(self.executor, run.close)
        ntp = await self.ntp
        path = await asyncio.get_running_loop().run_in_executor(
            self.executor, provenance.write, run, self.crawler, self.started, self.hosts, ntp, reason)
        self.executor.shutdown(wait=False)
        logger.info("archived %s responses, %s revisits (%s bytes); provenance %s", run.counts["response"],
                    run.counts["revisit"], run.counts["bytes"], path)


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class CaptureToItems:
    """Gives each Shop and Listing the record pointer of the page it was read from."""

    @classmethod
    def from_crawler(cls, crawler: Any) -> CaptureToItems:
        if not crawler.settings.getbool("NETWATCH_ARCHIVE"):
            raise NotConfigured("NETWATCH_ARCHIVE is off")
        return cls()

    async def process_spider_output_async(self, response: Response, result: Any) -> Any:
        pointer = response.meta.get(CAPTURE_META)
        async for output in result:
            self._attach(output, pointer)
            yield output

    def process_spider_output(self, response: Response, result: Any) -> Any:
        pointer = response.meta.get(CAPTURE_META)
        for output in result:
            self._attach(output, pointer)
            yield output

    @staticmethod
    def _attach(output: Any, pointer: dict[str, Any] | None) -> None:
        if pointer is None:
            return
        if isinstance(output, Request):  # a listing that waits for its reviews: evidence of its own page
            output = output.meta.get(PENDING_META)
        if isinstance(output, (Listing, Shop)) and output.capture is None:
            output.capture = pointer
