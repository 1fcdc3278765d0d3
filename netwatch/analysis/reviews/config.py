"""Thresholds and weights of the review signals, read from rules/signals/fake_reviews.yaml."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from netwatch import config as netwatch_config


class SignalConfigError(ValueError):
    """The signal file is unreadable or has a missing, unknown or out-of-range value (message names the file)."""


@dataclass(frozen=True)
class DuplicateConfig:
    weight: float = 0.8
    min_reviewers: int = 3
    full_at_reviewers: int = 6
    min_chars: int = 6
    cross_listing_min_reviewers: int = 5
    cross_listing_min_chars: int = 16
    cross_listing_common_in_shops: int = 3
    shingle_chars: int = 2
    similarity: float = 0.7
    num_perm: int = 32


@dataclass(frozen=True)
class BurstConfig:
    weight: float = 0.75
    window_hours: float = 2
    min_reviews: int = 10
    min_ratio: float = 10
    full_at_reviews: int = 25
    min_baseline_per_day: float = 1


@dataclass(frozen=True)
class ShortPraiseConfig:
    weight: float = 0.65
    min_run: int = 5
    full_at_run: int = 10
    max_chars: int = 10
    min_generic_share: float = 0.6
    top_rating: float = 5


@dataclass(frozen=True)
class RingConfig:
    weight: float = 0.6
    min_shared_shops: int = 3
    min_ring_size: int = 3
    min_ring_reviewers: int = 3
    full_at_ring_reviewers: int = 6
    max_chance_sharers: float = 0.01
    ignore_reviewers: tuple[str, ...] = (r"\*", "^匿名", "^anonymous$", "^$")

    def ignored(self) -> re.Pattern[str]:
        return re.compile("|".join(f"(?:{p})" for p in self.ignore_reviewers), re.IGNORECASE)


@dataclass(frozen=True)
class PhraseConfig:
    weight: float = 0.9


@dataclass(frozen=True)
class SignalConfig:
    lead_threshold: float = 0.6
    high_severity_from: float = 0.9
    example_reviews: int = 3
    example_chars: int = 40
    legal_basis: str = ""  # rendered citations; the file must give them (no legal basis is kept in code)
    phrase: PhraseConfig = field(default_factory=PhraseConfig)
    duplicate: DuplicateConfig = field(default_factory=DuplicateConfig)
    burst: BurstConfig = field(default_factory=BurstConfig)
    short_praise_run: ShortPraiseConfig = field(default_factory=ShortPraiseConfig)
    ring: RingConfig = field(default_factory=RingConfig)
    default_texts: tuple[str, ...] = ()
    generic_praise: tuple[str, ...] = ()
    source: str = "<defaults>"


_SECTIONS = {
    "phrase": PhraseConfig,
    "duplicate": DuplicateConfig,
    "burst": BurstConfig,
    "short_praise_run": ShortPraiseConfig,
    "ring": RingConfig,
}
_TOP_LEVEL = {"id", "category", "legal_basis", "lead_threshold", "high_severity_from", "example_reviews",
              "example_chars", "signals", "default_texts", "generic_praise"}


def default_path() -> Path:
    return netwatch_config.rules_dir() / "signals" / "fake_reviews.yaml"


def _section(path: Path, name: str, cls: type, raw: Any) -> Any:
    if raw is None:
        return cls()
    if not isinstance(raw, dict):
        raise SignalConfigError(f"{path}: signals.{name} must be a mapping")
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            raise SignalConfigError(f"{path}: signals.{name}.{key} is not a known setting ({', '.join(known)})")
        default = known[key].default
        try:
            if isinstance(default, tuple):
                values[key] = tuple(str(v) for v in value)
            elif isinstance(default, bool):
                values[key] = bool(value)
            else:
                values[key] = type(default)(value)
        except (TypeError, ValueError) as exc:
            raise SignalConfigError(f"{path}: signals.{name}.{key}: {value!r} is not a valid {type(default).__name__}") from exc
        if isinstance(values[key], (int, float)) and values[key] < 0:
            raise SignalConfigError(f"{path}: signals.{name}.{key} must not be negative")
    if "weight" in values and not 0 <= values["weight"] <= 1:
        raise SignalConfigError(f"{path}: signals.{name}.weight must be between 0 and 1")
    return cls(**values)


def _legal_basis(path: Path) -> str:
    """The file's legal_basis citations, checked against rules/laws.yaml like a pack's, rendered for the lead."""
    from netwatch.checks.text.packs import PackError, read_legal_basis

    try:
        rendered = read_legal_basis(path)
    except PackError as exc:
        raise SignalConfigError(str(exc)) from exc
    if not rendered:
        raise SignalConfigError(f"{path}: legal_basis is missing (a list like - {{law: 电子商务法, article: 17}})")
    return rendered


def load_signal_config(path: str | Path | None = None) -> SignalConfig:
    """Read the signal file; every value missing from it keeps the default above."""
    path = Path(path) if path else default_path()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise SignalConfigError(f"{path}: cannot read review-signal settings: {exc}") from exc
    except yaml.YAMLError as exc:
        raise SignalConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise SignalConfigError(f"{path}: expected a mapping at the top level")
    unknown = set(raw) - _TOP_LEVEL
    if unknown:
        raise SignalConfigError(f"{path}: unknown keys {sorted(unknown)}")
    signals = raw.get("signals") or {}
    unknown = set(signals) - set(_SECTIONS)
    if unknown:
        raise SignalConfigError(f"{path}: unknown signals {sorted(unknown)} (known: {', '.join(_SECTIONS)})")
    base = SignalConfig()
    try:
        config = SignalConfig(
            lead_threshold=float(raw.get("lead_threshold", base.lead_threshold)),
            high_severity_from=float(raw.get("high_severity_from", base.high_severity_from)),
            example_reviews=int(raw.get("example_reviews", base.example_reviews)),
            example_chars=int(raw.get("example_chars", base.example_chars)),
            default_texts=tuple(str(t) for t in raw.get("default_texts") or ()),
            generic_praise=tuple(str(t) for t in raw.get("generic_praise") or ()),
            source=str(path),
            **{name: _section(path, name, cls, signals.get(name)) for name, cls in _SECTIONS.items()},
        )
    except (TypeError, ValueError) as exc:
        if isinstance(exc, SignalConfigError):
            raise
        raise SignalConfigError(f"{path}: {exc}") from exc
    if not 0 < config.lead_threshold <= 1:
        raise SignalConfigError(f"{path}: lead_threshold must be in (0, 1]")
    return replace(config, legal_basis=_legal_basis(path))


@lru_cache(maxsize=1)
def default_signal_config() -> SignalConfig:
    return load_signal_config()
