"""`netwatch scan PATH_OR_URL [--url URL] [--profile NAME] [--json]`: one page → its listing and rule hits."""

from __future__ import annotations

import dataclasses
import http.client
import json
import threading
import urllib.request
from pathlib import Path
from typing import Any

import click

from netwatch.checks import process
from netwatch.domain.items import Listing
from netwatch.extract import Page, extract_listing

MAX_PAGE_BYTES = 8 * 1024 * 1024  # a live page or a saved file; bigger is refused, not read
DEFAULT_TIMEOUT = 30.0


def fetch(url: str, timeout: float = DEFAULT_TIMEOUT) -> Page:
    """One live page, fetched as the crawler identifies itself, within `timeout` seconds in all.

    urllib's timeout bounds each socket read only (a server dripping a byte a second never trips it), so
    the fetch runs in a daemon thread that is abandoned at the deadline.
    """
    from netwatch.crawl import settings

    request = urllib.request.Request(url, headers={"User-Agent": settings.USER_AGENT})
    outcome: dict[str, object] = {}

    def get() -> None:
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) only, checked by load_page
                outcome["page"] = (response.read(MAX_PAGE_BYTES + 1), dict(response.headers.items()), response.geturl())
        except (OSError, http.client.HTTPException, ValueError) as exc:  # header floods are HTTPExceptions
            outcome["error"] = exc

    worker = threading.Thread(target=get, name=f"fetch {url}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise click.ClickException(f"{url}: no complete response within {timeout:g} s (--timeout)")
    if "error" in outcome:
        error = outcome["error"]
        raise click.ClickException(f"{url}: cannot fetch: {type(error).__name__}: {error}".splitlines()[0][:300])
    body, headers, final_url = outcome["page"]
    if len(body) > MAX_PAGE_BYTES:
        raise click.ClickException(f"{url}: larger than {MAX_PAGE_BYTES} bytes")
    return Page(url=final_url, body=body, headers=headers)


def load_page(source: str, url: str | None, timeout: float = DEFAULT_TIMEOUT) -> Page:
    if source.startswith(("http://", "https://")):
        return fetch(source, timeout)
    path = Path(source)
    if not path.is_file():
        raise click.ClickException(f"{source}: no such file (give a saved page or an http(s) URL)")
    size = path.stat().st_size
    if size > MAX_PAGE_BYTES:
        raise click.ClickException(f"{source}: {size} bytes, larger than a page can be ({MAX_PAGE_BYTES} bytes)")
    return Page.from_file(path, url=url)


def scan_listing(page: Page, profile_name: str | None = None) -> Listing | None:
    """The spiders' extraction: the profile's page rule when one fits the URL, else markup and heuristics."""
    if profile_name:
        from netwatch.sites import load_profile, read_page

        profile = load_profile(profile_name, base_url="http://profile.invalid")
        item = read_page(page, profile)
        if isinstance(item, Listing):
            return item
        return extract_listing(page, profile.key, require_product=False)
    return extract_listing(page, require_product=False)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


@click.command()
@click.argument("source")
@click.option("--url", help="the page's original URL (for a saved file)")
@click.option("--profile", "profile_name", help="read the page with this site profile's selectors")
@click.option("--json", "as_json", is_flag=True, help="print JSON: {listings: […], hits: […]}")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=DEFAULT_TIMEOUT, show_default=True,
              help="seconds a live URL may take in all")
def scan(source: str, url: str | None, profile_name: str | None, as_json: bool, timeout: float) -> None:
    """Extract the listing from one saved page or live URL and check it against the rules."""
    page = load_page(source, url, timeout)
    from netwatch.sites import ProfileError

    try:
        listing = scan_listing(page, profile_name)
    except ProfileError as exc:
        raise click.BadParameter(str(exc), param_hint="--profile") from None
    listings = [listing] if listing is not None and (listing.title or listing.price is not None) else []
    # The crawl's and the import's item path (clean text -> rules -> price marks): the same hits as a crawl.
    hits = [hit for found in listings for hit in process(found)]
    if as_json:
        payload = {"listings": [{**{k: v for k, v in _plain(x).items() if k != "hits"}, "shop": x.shop_name}
                                for x in listings],
                   "hits": [_plain(h) for h in hits]}
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    if not listings:
        click.echo(f"{page.url}: no listing found")
    for found in listings:
        for name in ("url", "platform", "canonical_id", "title", "price", "currency", "original_price",
                     "shop_id", "shop_name", "category_hints", "images", "specs", "description"):
            value = getattr(found, name)
            if value not in (None, [], {}, ""):
                click.echo(f"{name:>15}: {value}")
        click.echo(f"{'reviews':>15}: {len(found.reviews)}")
    click.echo(f"{'hits':>15}: {len(hits)}")
    for hit in hits:
        click.echo(f"  - {_plain(hit)}")
