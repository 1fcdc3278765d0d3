"""Rule packs, normalisation and matching: listing text in, leads' hits out. Knows nothing of Scrapy."""

from __future__ import annotations

from netwatch.checks.text.engine import RuleEngine, default_engine
from netwatch.checks.text.hits import Hit
from netwatch.checks.text.pack_examples import ExampleFailure
from netwatch.checks.text.packs import CATEGORIES, SEVERITIES, Pack, PackError, Rule, load_pack, load_packs

__all__ = [
    "CATEGORIES", "SEVERITIES", "ExampleFailure", "Hit", "Pack", "PackError", "Rule", "RuleEngine",
    "default_engine", "load_pack", "load_packs",
]
