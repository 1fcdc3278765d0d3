"""Site profiles: one YAML file per watched site (netwatch/sites/*.yaml). See `profile.py` for the format."""

from __future__ import annotations

from netwatch.sites.profile import PageRule, ProfileError, ReviewApi, SiteProfile, load_profile, profile_names
from netwatch.sites.read import read_page

__all__ = ["PageRule", "ProfileError", "ReviewApi", "SiteProfile", "load_profile", "profile_names", "read_page"]
