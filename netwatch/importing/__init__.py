"""Platform data import: listing or review dumps (CSV in UTF-8 or GBK, JSONL, XLSX) become Listing and
Review items (read.py: file -> rows; columns.py: which column is which field; build.py: rows -> items),
go through the one item path a crawl's items go through (netwatch.checks.process: clean text -> rule
engine -> shop licence -> price marks), are saved by the store and their reviews scored over the store
(run.py), so they yield leads exactly as a crawl would. Bad rows are reported with their file and row
number and skipped; good rows are kept.
"""

from netwatch.importing.build import ImportReport, ItemBuilder, Staged, build_items, stage_items
from netwatch.importing.columns import ALIASES, KINDS, REQUIRED, guess_kind, parse_mapping, resolve_columns
from netwatch.importing.read import ImportFileError, RowError, decode_bytes, load_frame, read_rows
from netwatch.importing.run import import_file

__all__ = [
    "ALIASES", "KINDS", "REQUIRED", "ImportFileError", "ImportReport", "ItemBuilder", "RowError", "Staged",
    "build_items", "decode_bytes", "guess_kind", "import_file", "load_frame", "parse_mapping", "read_rows",
    "resolve_columns", "stage_items",
]
