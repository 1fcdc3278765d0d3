"""Scrapy settings for netwatch crawls (`scrapy crawl …` from the project root, and `netwatch crawl …`)."""

from netwatch import config

BOT_NAME = "netwatch"
SPIDER_MODULES = ["netwatch.crawl.spiders"]
NEWSPIDER_MODULE = "netwatch.crawl.spiders"

# Identify ourselves: regulators crawl in the open.
USER_AGENT = "netwatch/0.1 (+https://github.com/netwatch/netwatch; market-regulation monitoring)"
ROBOTSTXT_OBEY = True

# Politeness: per-domain concurrency with AutoThrottle on top; global concurrency for many sites.
CONCURRENT_REQUESTS = 32
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_DELAY = 0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.1
AUTOTHROTTLE_MAX_DELAY = 10.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 8.0

# Robustness: retries with back-off on 5xx and time-outs, bounded redirects and page size.
RETRY_ENABLED = True
RETRY_TIMES = 2
# 429 and 503 are a site's refusals: netwatch.crawl.middlewares.RetryBackoffMiddleware honours their Retry-After.
RETRY_HTTP_CODES = [500, 502, 504, 522, 524, 408]
DOWNLOAD_TIMEOUT = 30
REDIRECT_MAX_TIMES = 5
DOWNLOAD_MAXSIZE = 8 * 1024 * 1024
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024

# Incremental crawls (netwatch.crawl.incremental, a spider middleware that stays off unless NETWATCH_INCREMENTAL):
# off for one-off crawls, on for `netwatch nightly`. Nearest the spider, so it sees the spider's own requests.
SPIDER_MIDDLEWARES = {
    "netwatch.crawl.incremental.IncrementalCrawl": 950,
    # Budgets and traps before the scheduler (the spider's output goes through 950 first, then these).
    "netwatch.crawl.traps.TrapFilter": 60,
    "netwatch.crawl.budgets.ClosedSiteFilter": 55,
    "netwatch.crawl.archive.CaptureToItems": 960,  # hands each item its page's WARC record (netwatch.crawl.archive)
}
NETWATCH_INCREMENTAL = False
NETWATCH_REVISIT_DAYS = 7  # a listing page is fetched at least this often, changed or not
# The price-history check's window: a comparison price above the lowest price of this many days before it is a
# lead (7: 明码标价和禁止价格欺诈规定; a campaign's announced rules may ask for more, e.g. 30 before 双十一).
NETWATCH_PRICE_WINDOW_DAYS = 7

# -- netwatch's own settings (every NETWATCH_* a crawl reads, with its default; readers give none) --
NETWATCH_DB_URL = None  # the lead store; None: NETWATCH_DB_URL from the environment, else ./netwatch.db
NETWATCH_STORE_BATCH = 500  # items per store transaction
NETWATCH_RULES_DIR = None  # rule packs; None: the ones shipped in the package netwatch_rules
NETWATCH_SIGNALS_FILE = None  # fake-review signals; None: rules/signals/fake_reviews.yaml
NETWATCH_PROGRESS_INTERVAL = 10.0  # seconds between progress lines in the log (0: none)
NETWATCH_RETRY_BACKOFF_BASE = 1.0  # a retried request waits BASE * 2**(retries-1) seconds ...
NETWATCH_RETRY_BACKOFF_MAX = 30.0  # ... at most this long
# Refusals (429, 503; netwatch.crawl.middlewares): the site is asked again after its Retry-After (or the back-off
# above), its requests spaced by that wait until it answers again; it is given up (a site failure, an alarm) at:
NETWATCH_MAX_REFUSALS = 5  # ... this many refusals in a row
NETWATCH_MAX_RETRY_AFTER = 300.0  # ... a Retry-After longer than this many seconds
NETWATCH_MAX_REFUSAL_WAIT = 600.0  # ... this many seconds of waiting asked for by its refusals, in all
# Per-site budgets (netwatch.crawl.budgets; a profile's `budget: {pages, seconds}` overrides them; 0: no limit).
# A site (www. and the bare domain as one) at its budget gets no more requests; the hit is an alarm.
NETWATCH_SITE_MAX_PAGES = 20000  # responses from one site
NETWATCH_SITE_MAX_SECONDS = 4 * 3600.0  # seconds from a site's first request
SCHEDULER = "netwatch.crawl.budgets.ClosedSiteScheduler"  # drops a closed site's queued requests
# Crawler traps (netwatch.crawl.traps): links dropped before they are scheduled, counted as netwatch/trap/<reason>
NETWATCH_TRAP_MAX_QUERY_PARAMS = 8  # more query parameters than this
# Distinct queries of one path beyond this are a trap; 0 (default): off, because shops address products by query
# (item?id=N: a 600-product shop lost 405 of them at 200); the page budget bounds a facet explosion.
NETWATCH_TRAP_MAX_QUERY_VARIANTS = 0
NETWATCH_TRAP_MAX_REPEATS = 3  # a path segment (or run of them) repeated this many times in a row
NETWATCH_TRAP_CALENDAR_DAYS = 366  # a calendar-like date (path or ?date= / ?month=) further than this from today
NETWATCH_TRAP_MAX_DEPTH = 15  # more path segments than this
# Distributed mode (netwatch.crawl.distributed sets these for its workers)
NETWATCH_REDIS_PREFIX = "netwatch"  # Redis key prefix of a shared crawl
NETWATCH_IDLE_POLL = 0.5  # seconds between an idle worker's looks at the shared queue
NETWATCH_WORKER_ID = None  # this worker's name in Redis; None: host:pid
NETWATCH_SHARED_RUN = False  # the crawl is one worker's part of a shared crawl
NETWATCH_COUNT_FETCHES = False  # record which worker fetched each URL (tests: no URL fetched twice)

# The evidence archive (netwatch.crawl.archive): every page fetched, written to WARC as it arrives, with a
# provenance record per crawl; lead sightings point to their records (see README, Evidence).
NETWATCH_ARCHIVE = True
NETWATCH_ARCHIVE_DIR = None  # None: NETWATCH_ARCHIVE_DIR from the environment, else ./archive
NETWATCH_ARCHIVE_MAX_BYTES = 1024 * 1024 * 1024  # a WARC file is closed and the next one begun past this size
NETWATCH_ARCHIVE_INLINE_BYTES = 256 * 1024  # bodies up to this are written without a thread hop (see archive.py)
NETWATCH_ARCHIVE_RETENTION_DAYS = 0  # day folders older than this are deleted at a crawl's start (0: keep all)
NETWATCH_TIMEZONE = None  # local time in provenance and case sheets; None: NETWATCH_TZ, else Asia/Shanghai
NETWATCH_NTP_SERVER = None  # the clock's offset is measured against it; None: config.ntp_server(); "": not asked
NETWATCH_NTP_TIMEOUT = 1.0  # seconds; an unanswered query records the offset as unknown
# Screenshots of pages that raised new critical or high leads, taken right after the crawl (netwatch.crawl.screens)
NETWATCH_SCREENSHOTS = None  # None: config.screenshots() (NETWATCH_SCREENSHOTS=0 in the environment turns them off)
NETWATCH_SCREENSHOTS_MAX = 50  # per crawl
NETWATCH_SCREENSHOTS_SECONDS = 120.0  # all of a crawl's screenshots together stop after this long
NETWATCH_SCREENSHOT_TIMEOUT = 20.0  # seconds per page

# Crawl health (netwatch.crawl.monitors, Spidermon): checked when a spider closes; the verdict goes into the
# crawl's stats as netwatch/health/alarms, read by `netwatch crawl` and `netwatch nightly` alike.
SPIDERMON_ENABLED = True
SPIDERMON_SPIDER_CLOSE_MONITORS = ["netwatch.crawl.monitors.CrawlHealthSuite"]
SPIDERMON_ADD_FIELD_COVERAGE = True  # spidermon_field_coverage/Listing/<field>
SPIDERMON_FIELD_COVERAGE_SKIP_NONE = True  # a dataclass field left None is missing, not covered
SPIDERMON_DICT_FIELDS_COVERAGE_LEVELS = 0  # not every key of Listing.specs: a stat per spec name is noise
NETWATCH_MAX_ERROR_RATE = 0.2  # alarm above this share of failed requests (404/410 of delisted listings excluded)
NETWATCH_MIN_FIELD_COVERAGE = 0.8  # alarm when fewer listings than this have each of the fields below
NETWATCH_COVERAGE_FIELDS = ["title", "price", "shop"]  # Listing fields checked; "shop": shop_id or shop_name
NETWATCH_COVERAGE_MIN_LISTINGS = 10  # fewer listings say nothing (an incremental night re-fetches only a few)
NETWATCH_MIN_ITEM_RATIO = 0.5  # alarm below this share of the last good run's items
NETWATCH_LAST_GOOD_ITEMS = 0  # the last good run's items; 0: the store's last run of the target without alarms
# Peak memory is Scrapy's memusage/max (MemoryUsage); netwatch refreshes it when the spider closes.
MEMUSAGE_ENABLED = True

# Scrapy starts CONCURRENT_ITEMS asyncio tasks for every response, whatever it yields: 100 (its default)
# cost ~0.4 ms a page, 16 ~0.1 ms. A netwatch page yields one item at most, so 16 loses no parallelism.
CONCURRENT_ITEMS = 16
# A development lint: Scrapy re-parses a generator callback's source (1-2 ms) whenever its cache misses, and
# the cache is keyed weakly by bound methods, which die with their requests: a miss every few pages.
WARN_ON_GENERATOR_RETURN_VALUE = False

COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "INFO"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"

# The data's path: the one item path (netwatch.checks.process: clean text -> text rules -> shop licence ->
# price marks, as `netwatch scan` and `netwatch import` run it) -> store; when the crawl is done, the store
# pipeline scores the stored reviews shop by shop (fake-review signals need the whole shop).
ITEM_PIPELINES = {
    "netwatch.crawl.pipelines.checks.CheckPipeline": 200,
    "netwatch.crawl.pipelines.store.StorePipeline": 900,
}

# The store pipeline writes a batch at NETWATCH_STORE_BATCH items or this many seconds after the last batch,
# whichever comes first: a killed crawl loses seconds of items, not a whole buffer.
NETWATCH_STORE_BATCH = 500
NETWATCH_STORE_FLUSH_SECONDS = 5.0

# Distributed mode: a worker refreshes its heartbeat key in Redis every NETWATCH_HEARTBEAT_SECONDS; the key
# expires after NETWATCH_HEARTBEAT_TTL, and the coordinator then takes the worker for dead and re-queues its
# requests in flight. The coordinator's own heartbeat uses the same figures.
NETWATCH_HEARTBEAT_SECONDS = 5.0
NETWATCH_HEARTBEAT_TTL = 15.0

# Score the stored reviews when a crawl ends (distributed workers leave it to the coordinator).
NETWATCH_SCORE_REVIEWS = True

# JavaScript pages: only requests with meta["playwright"] go through the browser.
DOWNLOAD_HANDLERS = {
    "http": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
    "https": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
}
PLAYWRIGHT_BROWSER_TYPE = "chromium"
# Debian's chromium-headless-shell (NETWATCH_CHROMIUM), never a browser playwright downloads.
PLAYWRIGHT_LAUNCH_OPTIONS = {
    "executable_path": config.chromium_path(),
    "headless": True,
    "args": [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
}
PLAYWRIGHT_ABORT_REQUEST = "netwatch.crawl.browser.abort_heavy_request"  # images, fonts, media
PLAYWRIGHT_MAX_PAGES_PER_CONTEXT = 4
PLAYWRIGHT_MAX_CONTEXTS = 2
PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT = 30_000
