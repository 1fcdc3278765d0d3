"""Site profiles: one YAML file per watched site (netwatch/sites/*.yaml). See `profile.py` for the format."""

from __future__ import annotations

from netwatch.sites.profile import PageRule, ProfileError, ReviewApi, SiteProfile, load_profile, profile_names
from netwatch.sites.read import carried_links, list_fields, next_review_url, read_page, read_reviews, review_api_url

__all__ = ["PageRule", "ProfileError", "ReviewApi", "SiteProfile", "carried_links", "list_fields", "load_profile",
           "next_review_url", "profile_names", "read_page", "read_reviews", "review_api_url"]
