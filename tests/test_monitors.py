"""Crawl-health checks over crawl stats: zero items, a drop against the last good run, error rate,
finish reason."""

from __future__ import annotations

from netwatch.crawl.health import CrawlFigures, check_health, figures_from_stats


def checks(alarms):
    return [alarm.check for alarm in alarms]


def test_figures_from_netwatch_stats_leave_out_delisted_404s():
    stats = {"netwatch/pages": 90, "netwatch/items": 40, "netwatch/errors": 12, "netwatch/errors/http_404": 5,
             "netwatch/errors/robots": 2, "netwatch/errors/timeout": 3, "netwatch/errors/http_500": 2,
             "finish_reason": "finished", "item_scraped_count": 999}
    figures = figures_from_stats(stats)
    assert figures == CrawlFigures(items=40, pages=95, errors=5, finish_reason="finished")


def test_figures_from_plain_scrapy_stats():
    stats = {"item_scraped_count": 7, "downloader/request_count": 20, "downloader/exception_count": 2,
             "downloader/response_status_count/503": 3, "downloader/response_status_count/404": 4,
             "spider_exceptions/count": 1, "spider_exceptions/ValueError": 1, "finish_reason": "finished"}
    assert figures_from_stats(stats) == CrawlFigures(items=7, pages=20, errors=6, finish_reason="finished")


def test_healthy_crawl_has_no_alarm():
    assert check_health(CrawlFigures(100, 200, 3, "finished"), CrawlFigures(110, 210, 0, "finished")) == []
    # exactly half of the last good run is not yet a drop
    assert check_health(CrawlFigures(55, 200, 0, "finished"), CrawlFigures(110, 210, 0, "finished")) == []


def test_each_alarm():
    assert checks(check_health(CrawlFigures(0, 3, 0, "finished"))) == ["zero_items"]
    assert checks(check_health(CrawlFigures(54, 200, 0, "finished"), CrawlFigures(110, 210, 0, "finished"))) == ["drop"]
    assert checks(check_health(CrawlFigures(50, 100, 21, "finished"))) == ["error_rate"]
    assert checks(check_health(CrawlFigures(50, 100, 21, "finished"), max_error_rate=0.25)) == []
    assert checks(check_health(CrawlFigures(50, 100, 0, "closespider_timeout"))) == ["finish_reason"]
    # a site gone dark: no finish reason recorded, nothing scraped, every request failed
    assert checks(check_health(CrawlFigures(0, 4, 4, None), CrawlFigures(80, 100, 0, "finished"))) == [
        "finish_reason", "zero_items", "error_rate"]
    message = check_health(CrawlFigures(10, 50, 0, "finished"), CrawlFigures(80, 100, 0, "finished"))[0].message
    assert "10 items against 80" in message
