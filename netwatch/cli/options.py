"""Parameter types the commands share: a number the database cannot hold is a usage error naming the
option, not an OverflowError from the driver."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import click

from netwatch import config
from netwatch.domain.clock import zone
from netwatch.domain.vocab import LANGUAGES, UnknownValue, canonical

# lead and run ids: the databases' BIGINT / SQLite INTEGER range
ROW_ID = click.IntRange(1, 2**63 - 1)
# `netwatch serve`'s port (the demo prints it)
WORKBENCH_PORT = 8800
# a watch target's priority: an INTEGER column
PRIORITY = click.IntRange(-(2**31), 2**31 - 1)


def lang_option(command):  # type: ignore[no-untyped-def]
    """--lang zh|en, shared by every command that shows or writes what analysts read."""
    return click.option("--lang", type=click.Choice(LANGUAGES), default=config.language, show_default="zh",
                        help="Language of names, headers and labels (default: NETWATCH_LANG, else zh).")(command)


class Vocabulary(click.ParamType):
    """A category, severity or status by its English or Chinese name (禁限售商品, 严重, 新线索 …); several may be
    comma-separated. An unknown name is a usage error listing the valid ones (exit 2)."""

    name = "name"

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
        try:
            return ",".join(canonical(self.kind, part) for part in str(value).split(",") if part.strip())
        except UnknownValue as exc:
            self.fail(str(exc), param, ctx)


def display_zone() -> ZoneInfo:
    """NETWATCH_TZ (default Asia/Shanghai); a bad zone is one line and exit 2."""
    try:
        return zone()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
