"""`netwatch mall serve|manifest`: the demo marketplace (fixtures/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import click


def size_options(command):
    for option in reversed([
        click.option("--seed", type=int, default=1, show_default=True, help="Seed of the generated market."),
        click.option("--shops", type=click.IntRange(min=1), default=12, show_default=True, help="Marketplace shops."),
        click.option("--items-per-shop", type=click.IntRange(min=1), default=10, show_default=True,
                     help="Listings per marketplace shop."),
        click.option("--day", type=click.IntRange(min=0), default=0, show_default=True,
                     help="Day of the market's evolution."),
    ]):
        command = option(command)
    return command


def config(seed: int, shops: int, items_per_shop: int, day: int):
    from netwatch_fixtures.mall import MallConfig

    try:
        return MallConfig(seed=seed, shops=shops, items_per_shop=items_per_shop, day=day)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@click.group()
def mall() -> None:
    """The demo marketplace: a seeded fake market with planted violations, served on loopback."""


@mall.command()
@click.option("--port", type=click.IntRange(min=0, max=65535), default=0, show_default=True,
              help="Port on all five addresses (0 picks a free one).")
@size_options
def serve(port: int, seed: int, shops: int, items_per_shop: int, day: int) -> None:
    """Serve the marketplace and the four self-built shops until Ctrl-C."""
    from netwatch_fixtures.mall.server import serve as run

    run(config(seed, shops, items_per_shop, day), port, ready_line=False)


@mall.command()
@size_options
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file instead of stdout.")
def manifest(seed: int, shops: int, items_per_shop: int, day: int, out: Path | None) -> None:
    """Print the ground truth: every planted violation and trap of this market and day."""
    from netwatch_fixtures.mall import manifest as ground_truth

    text = json.dumps(ground_truth(config(seed, shops, items_per_shop, day)), ensure_ascii=False, indent=1)
    if out:
        out.write_text(text + "\n", encoding="utf-8")
        click.echo(f"{out}: manifest written")
    else:
        click.echo(text)
