"""`netwatch crawl SPIDER_OR_PROFILE… [-a name=value]… [-s SETTING=value]… [--out items.jsonl]`."""

from __future__ import annotations

import json
import sys

import click

from netwatch.cli.options import lang_option
from netwatch.domain.words import WORDS, say


def _word(key: str, lang: str) -> str:
    """An item type or a field by its name in `lang`, where it has one."""
    return say(key, lang) if key in WORDS else key


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        name, sep, setting = value.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got {value!r}", param_hint=option)
        pairs[name] = setting
    return pairs


@click.command()
@click.argument("targets", nargs=-1, required=True)
@click.option("-a", "spider_args", multiple=True, metavar="NAME=VALUE",
              help="spider argument: start_url, base_url, max_items, profile, platform")
@click.option("-s", "settings", multiple=True, metavar="NAME=VALUE", help="Scrapy setting (JSON values allowed)")
@click.option("--base-url", "base_urls", multiple=True, metavar="PROFILE=URL",
              help="fill a profile's {base_url} (several profiles in one run)")
@click.option("--out", type=click.Path(dir_okay=False), help="write the items as JSON lines to this file")
@click.option("--stats", "stats_file", type=click.Path(dir_okay=False), help="write the crawl statistics (JSON) here")
@click.option("--progress", type=float, default=5.0, show_default=True, help="seconds between progress lines (0: none)")
@lang_option
def crawl(targets: tuple[str, ...], spider_args: tuple[str, ...], settings: tuple[str, ...],
          base_urls: tuple[str, ...], out: str | None,
          stats_file: str | None, progress: float, lang: str) -> None:
    """Crawl with the generic spider (-a start_url=…) or site profiles (netwatch/sites/*.yaml).

    Exit codes (netwatch.exits): 0 every crawl healthy, 3 health alarms (zero items, a drop, errors,
    listing field coverage, finish reason), 4 a crawl did not run, 6 the store refused a write (the crawl was
    stopped), 2 usage (a bad target or profile).
    """
    from netwatch.checks.text import PackError
    from netwatch.crawl.runner import exit_code, run_crawls
    from netwatch.sites import ProfileError

    overrides: dict[str, object] = {"NETWATCH_PROGRESS_INTERVAL": progress}
    for name, value in _pairs(settings, "-s").items():
        try:
            overrides[name] = json.loads(value)
        except ValueError:
            overrides[name] = value
    try:
        results = run_crawls(list(targets), _pairs(spider_args, "-a"), base_urls=_pairs(base_urls, "--base-url"),
                             settings=overrides, out=out, stats_file=stats_file)
    except PackError as exc:  # a data problem, not a usage one: one line naming file:line and rule
        raise click.ClickException(f"rule pack unusable: {exc}") from None
    except (ProfileError, ValueError) as exc:  # no such spider or profile, a profile without its base URL
        raise click.UsageError(str(exc)) from None
    from rich.console import Console
    from rich.table import Table

    table = Table(title=say("crawl_summary", lang))
    for column in ("target", "pages", "items", "leads", "coverage", "errors", "seconds", "result"):
        table.add_column(say(column, lang), no_wrap=column == "coverage")
    for result in results:
        summary = result.summary()
        items = ", ".join(f"{n} {_word(k, lang)}" for k, n in sorted(summary["items_by_type"].items())) or "0"
        errors = ", ".join(f"{n} {k}" for k, n in sorted(summary["errors_by_kind"].items())) or "0"
        # share of listings with title, price, shop: one field a line, so the column stays narrow
        coverage = "\n".join(f"{_word(name, lang)} {share:.0%}"
                             for name, share in summary["field_coverage"].items()) or "-"
        table.add_row(result.target, str(result.pages), items, str(summary["leads"]), coverage, errors,
                      str(summary["duration_s"]), result.problem_text(lang) or say("ok", lang))
    Console(stderr=True).print(table)
    from netwatch.analysis.post_run import RUN_UNRECORDED_STAT

    for result in results:
        if result.store_error:  # one plain line: it names the database and what to do
            unrecorded = ("; " + say("run_unrecorded", lang, run=result.stats.get("netwatch/run_id"))) \
                if result.stats.get(RUN_UNRECORDED_STAT) else ""
            click.echo(f"netwatch crawl {result.target}: {say('store_failed', lang)}: {result.store_error}{unrecorded}",
                       err=True)
    sys.exit(exit_code(results))
