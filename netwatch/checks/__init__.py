"""Checks over items: the text rule engine (text/), licence display (licence.py), price marks
(price_marks.py), and the one item path that runs them all (item_path.process)."""

from netwatch.checks.item_path import CHECKED_TYPES, process

__all__ = ["CHECKED_TYPES", "process"]
