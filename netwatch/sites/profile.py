"""Loading and checking site profiles. Adding a site is adding a YAML file; no Python.

    key: netmall                     # the listings' `platform`
    name: NetMall 网购商城
    base_url: null                   # "{base_url}" in URLs below; given with -a base_url=… when null
    start_urls: ["{base_url}/"]
    sitemaps: ["{base_url}/sitemap.xml"]
    allowed_domains: []              # the base URL's host is always allowed
    robots: {obey: false, reason: "…"}   # obeyed unless a reason is stated
    politeness: {concurrency: 4, delay: 0.5}   # this site's download slot
    budget: {pages: 50000, seconds: 7200}      # this site's page and time budgets (NETWATCH_SITE_MAX_*; 0: none)
    pages:                           # first rule whose `match` (regex on path?query) fits the URL wins
      - name: item
        match: '^/item/(?P<item_id>[^/?#]+)$'   # groups item_id / shop_id give the ids
        item: listing                # listing | shop | none; listings without `fields` use markup + heuristics
        fields: {title: "css:h1.item-title", …}  # netwatch.extract.fields specs
        follow: ["a.next[rel=next]"]             # CSS of links to follow
        render: {when: "body[data-render=js]", wait_for: "li.product"}   # or {always: true, wait_for: …}
        carry: {each: "li.product", link: "css:a.item-link::attr(href)",     # read beside each link on a list page,
                fields: {list_price: "css:span.list-price",                # handed to the listing it links to
                         list_title: "css:a.item-link"}}
        reviews: {api: "css:div#reviews::attr(data-api)", items: reviews, pages: pages,
                  page_param: page, fields: {text: content, rating: rating, …},
                  fallback_url: "/api/reviews?item={item_id}&page=1"}   # when the page names no API
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from netwatch import config
from netwatch.extract.fields import Field, FieldSpec, FieldSpecError, compile_field

ITEM_KINDS = {"listing", "shop", "none"}
REVIEW_FIELDS = {"text", "reviewer", "rating", "time", "review_id"}
CARRY_FIELDS = {"list_price", "list_title"}


class ProfileError(ValueError):
    """A profile that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class ReviewApi:
    api: Field  # where the page names its review API's first page
    items: str  # JMESPath to the list of reviews in one API page
    fields: Mapping[str, str]  # Review field -> key in one review object
    pages: str | None = None  # JMESPath to the number of pages
    page_param: str = "page"
    fallback_url: str | None = None  # "/api/reviews?item={item_id}&page=1" when the page does not name it
    # `items` and `pages` compiled once (set in __post_init__): every entry of the list, the page count
    entries: Field = field(init=False, repr=False, compare=False)
    page_count: Field | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", compile_field({"json": self.items, "all": True}))
        object.__setattr__(self, "page_count", compile_field(f"json:{self.pages}") if self.pages else None)


@dataclass(frozen=True)
class Carry:
    """Fields a list page shows beside each link, handed to the listing the link leads to."""

    each: str  # CSS of one entry of the list
    link: Field  # the entry's link, relative to the entry
    fields: Mapping[str, Field]


@dataclass(frozen=True)
class PageRule:
    name: str
    match: re.Pattern[str]
    item: str = "none"
    fields: Mapping[str, Field] = field(default_factory=dict)  # compiled when the profile is loaded
    follow: tuple[str, ...] = ()
    render_when: str | None = None  # CSS: re-fetch with the browser when the plain page matches
    render_always: bool = False
    wait_for: str | None = None  # CSS the browser waits for before handing the page over
    reviews: ReviewApi | None = None
    carry: Carry | None = None


@dataclass(frozen=True)
class SiteProfile:
    key: str
    name: str
    source: str  # the file it came from, for error messages
    base_url: str | None
    start_urls: tuple[str, ...]
    sitemaps: tuple[str, ...]
    allowed_domains: tuple[str, ...]
    robots_obey: bool
    robots_reason: str | None
    politeness: Mapping[str, float]
    pages: tuple[PageRule, ...]
    budget: Mapping[str, float] = field(default_factory=dict)  # pages, seconds: overrides of the crawl's budgets

    def rule_for(self, url: str) -> tuple[PageRule, dict[str, str]] | None:
        """The first page rule matching the URL's path?query, with its named groups."""
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        for rule in self.pages:
            found = rule.match.search(target)
            if found:
                return rule, {k: v for k, v in found.groupdict().items() if v is not None}
        return None

    @property
    def renders(self) -> bool:
        return any(rule.render_when or rule.render_always for rule in self.pages)


def profile_names() -> list[str]:
    return sorted(path.stem for path in config.sites_dir().glob("*.yaml"))


def _path_for(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"} and path.exists():
        return path
    candidate = config.sites_dir() / f"{name_or_path}.yaml"
    if candidate.exists():
        return candidate
    raise ProfileError(f"no site profile {str(name_or_path)!r}: known profiles are {', '.join(profile_names()) or 'none'} "
                       f"(in {config.sites_dir()})")


def _fill(template: str, base_url: str | None, where: str) -> str:
    if "{base_url}" in template:
        if not base_url:
            raise ProfileError(f"{where}: uses {{base_url}} but no base URL was given (-a base_url=http://…)")
        return template.replace("{base_url}", base_url.rstrip("/"))
    return template


def _string_list(raw: Any, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (raw,)
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise ProfileError(f"{where}: expected a list of strings, got {raw!r}")
    return tuple(raw)


def _field(spec: FieldSpec, where: str) -> Field:
    """A field spec compiled once, at load: a bad selector names its profile and field here, not mid-crawl."""
    try:
        return compile_field(spec)
    except FieldSpecError as exc:
        raise ProfileError(f"{where}: {exc}") from None


def _fields(raw: Mapping[str, FieldSpec], where: str) -> dict[str, Field]:
    return {name: _field(spec, f"{where}.{name}") for name, spec in raw.items()}


def _review_api(raw: Any, where: str) -> ReviewApi | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or not {"api", "items", "fields"} <= raw.keys():
        raise ProfileError(f"{where}: needs api, items and fields")
    unknown = set(raw["fields"]) - REVIEW_FIELDS
    if unknown or "text" not in raw["fields"]:
        raise ProfileError(f"{where}.fields: must map text and only {sorted(REVIEW_FIELDS)} (unknown: {sorted(unknown)})")
    try:
        return ReviewApi(api=_field(raw["api"], f"{where}.api"), items=str(raw["items"]), fields=dict(raw["fields"]),
                         pages=raw.get("pages"), page_param=str(raw.get("page_param", "page")),
                         fallback_url=raw.get("fallback_url"))
    except FieldSpecError as exc:  # items or pages: not JMESPath
        raise ProfileError(f"{where}: {exc}") from None


def _carry(raw: Any, where: str) -> Carry | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or not {"each", "link", "fields"} <= raw.keys():
        raise ProfileError(f"{where}: needs each, link and fields")
    unknown = set(raw["fields"]) - CARRY_FIELDS
    if unknown:
        raise ProfileError(f"{where}.fields: only {sorted(CARRY_FIELDS)} can be carried (unknown: {sorted(unknown)})")
    return Carry(each=str(raw["each"]), link=_field(raw["link"], f"{where}.link"),
                 fields=_fields(raw["fields"], f"{where}.fields"))


def _page_rule(raw: Any, where: str) -> PageRule:
    if not isinstance(raw, Mapping) or "match" not in raw:
        raise ProfileError(f"{where}: a page rule needs at least `match`")
    try:
        pattern = re.compile(raw["match"])
    except re.error as exc:
        raise ProfileError(f"{where}.match: invalid regex {raw['match']!r}: {exc}") from None
    item = str(raw.get("item", "none"))
    if item not in ITEM_KINDS:
        raise ProfileError(f"{where}.item: {item!r} is not one of {sorted(ITEM_KINDS)}")
    fields = raw.get("fields") or {}
    if not isinstance(fields, Mapping):
        raise ProfileError(f"{where}.fields: expected a mapping of field name to selector")
    if item == "shop" and not fields:
        raise ProfileError(f"{where}.fields: a shop page needs selectors (shops carry no standard markup)")
    render = raw.get("render") or {}
    if not isinstance(render, Mapping):
        raise ProfileError(f"{where}.render: expected {{when: CSS}} or {{always: true}}")
    return PageRule(
        name=str(raw.get("name", where)),
        match=pattern,
        item=item,
        fields=_fields(fields, f"{where}.fields"),
        follow=_string_list(raw.get("follow"), f"{where}.follow"),
        render_when=render.get("when"),
        render_always=bool(render.get("always", False)),
        wait_for=render.get("wait_for"),
        reviews=_review_api(raw.get("reviews"), f"{where}.reviews"),
        carry=_carry(raw.get("carry"), f"{where}.carry"),
    )


def load_profile(name_or_path: str | Path, base_url: str | None = None) -> SiteProfile:
    """Load a profile by name (netwatch/sites/NAME.yaml) or path; `base_url` fills {base_url}."""
    path = _path_for(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, Mapping):
        raise ProfileError(f"{path}: expected a mapping at the top level")
    for required in ("key", "start_urls", "pages"):
        if required not in raw:
            raise ProfileError(f"{path}: missing `{required}`")
    base_url = (base_url or raw.get("base_url") or None)
    base_url = base_url.rstrip("/") if base_url else None
    start_urls = tuple(_fill(u, base_url, f"{path}: start_urls") for u in _string_list(raw["start_urls"], f"{path}: start_urls"))
    sitemaps = tuple(_fill(u, base_url, f"{path}: sitemaps") for u in _string_list(raw.get("sitemaps"), f"{path}: sitemaps"))
    hosts = {urlsplit(u).hostname for u in (*start_urls, *sitemaps)} | set(_string_list(raw.get("allowed_domains"), f"{path}: allowed_domains"))
    robots = raw.get("robots") or {}
    obey = bool(robots.get("obey", True))
    reason = robots.get("reason")
    if not obey and not reason:
        raise ProfileError(f"{path}: robots.obey is false without a stated robots.reason")
    politeness = raw.get("politeness") or {}
    unknown = set(politeness) - {"concurrency", "delay", "randomize_delay"}
    if unknown:
        raise ProfileError(f"{path}: politeness: unknown keys {sorted(unknown)} (use concurrency, delay, randomize_delay)")
    budget = _budget(raw.get("budget"), f"{path}: budget")
    if not isinstance(raw["pages"], list) or not raw["pages"]:
        raise ProfileError(f"{path}: pages must be a non-empty list of page rules")
    return SiteProfile(
        key=str(raw["key"]),
        name=str(raw.get("name", raw["key"])),
        source=str(path),
        base_url=base_url,
        start_urls=start_urls,
        sitemaps=sitemaps,
        allowed_domains=tuple(sorted(h for h in hosts if h)),
        robots_obey=obey,
        robots_reason=reason,
        politeness=dict(politeness),
        pages=tuple(_page_rule(p, f"{path}: pages[{i}]") for i, p in enumerate(raw["pages"])),
        budget=budget,
    )


def _budget(raw: Any, where: str) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or set(raw) - {"pages", "seconds"}:
        raise ProfileError(f"{where}: expected {{pages: N, seconds: S}}, got {raw!r}")
    budget = {}
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ProfileError(f"{where}.{key}: expected a number >= 0 (0: no limit), got {value!r}")
        budget[key] = float(value)
    return budget
