"""`netwatch` command line. Each command group lives in its own module and is imported only when used,
so `netwatch rules check` does not pay for Scrapy or the database."""

from __future__ import annotations

import importlib

import click

# command name -> "module:attribute" of a click command or group
COMMANDS = {
    "demo": "netwatch.cli.demo:demo",
    "mall": "netwatch.cli.mall:mall",
    "crawl": "netwatch.cli.crawl:crawl",
    "scan": "netwatch.cli.scan:scan",
    "rules": "netwatch.cli.rules:rules",
    "leads": "netwatch.cli.leads:leads",
    "runs": "netwatch.cli.leads:runs",
    "reviews": "netwatch.cli.reviews:reviews",
    "import": "netwatch.cli.imports:import_",
    "watch": "netwatch.cli.nightly:watch",
    "nightly": "netwatch.cli.nightly:nightly",
    "worker": "netwatch.cli.nightly:worker",
    "schedule": "netwatch.cli.nightly:schedule",
    "shops": "netwatch.cli.shops:shops",
    "recheck": "netwatch.cli.recheck:recheck",
    "takedowns": "netwatch.cli.recheck:takedowns",
    "sample": "netwatch.cli.sample:sample",
    "campaign": "netwatch.cli.campaign:campaign",
    "serve": "netwatch.cli.workbench:serve",
    "users": "netwatch.cli.workbench:users",
    "evidence": "netwatch.cli.evidence:evidence",
    "rescan": "netwatch.cli.evidence:rescan",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup)
@click.version_option(package_name="netwatch")
def cli() -> None:
    """netwatch: find banned goods, false advertising, fake reviews and other violations in online shops."""


def main() -> None:
    cli()
