"""Seller groups as analysts read them: ordered so that groups whose leads reach several platforms or regions
(one seller working several sites or districts) come first, then by their number of leads."""

from __future__ import annotations

from typing import Any

from netwatch.ops.regions import platform_regions, region_of
from netwatch.ops.watchlist import DEFAULT_REGION
from netwatch.store import Store


def ranked_groups(store: Store) -> list[dict[str, Any]]:
    """Every seller group with `lead_platforms` and `lead_regions` (where its shops have leads), ranked."""
    regions = platform_regions(store.engine)
    groups = store.seller_groups()
    for group in groups:
        with_leads = [shop for shop in group["shops"] if shop["leads"]]
        group["lead_platforms"] = sorted({shop["platform"] for shop in with_leads})
        # a platform no watch target covers has no region: it does not count as one more
        group["lead_regions"] = sorted({region_of(shop["platform"], regions) for shop in with_leads} - {DEFAULT_REGION})
        group["leads"] = sum(shop["leads"] for shop in group["shops"])
    groups.sort(key=lambda g: (-len(g["lead_platforms"]), -len(g["lead_regions"]), -g["leads"], g["group_id"]))
    return groups
