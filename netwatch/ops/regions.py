"""Which region (and which watch tags) a platform's shops belong to, as the watchlist says: a profile target
covers its profile's platform, a start-URL target its host. Seller networks rank groups by the regions their
leads reach; random inspections filter and stratify by region and tag."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy.engine import Engine

from netwatch.ops.watchlist import DEFAULT_REGION, list_targets, target_tags


def platform_of(target) -> str:  # type: ignore[no-untyped-def]
    """The platform key a target's crawls store shops and listings under."""
    if target.kind == "profile":
        return str(target.profile)
    return (urlsplit(target.url or "").hostname or "").lower()


def platform_regions(engine: Engine) -> dict[str, tuple[str, frozenset[str]]]:
    """platform -> (region, tags) of the watch target covering it (the highest-priority one if several)."""
    found: dict[str, tuple[str, frozenset[str]]] = {}
    for target in sorted(list_targets(engine), key=lambda t: (-t.priority, t.name)):
        found.setdefault(platform_of(target), (target.region, frozenset(target_tags(target))))
    return found


def region_of(platform: str, regions: dict[str, tuple[str, frozenset[str]]]) -> str:
    return regions.get(platform, (DEFAULT_REGION, frozenset()))[0]
