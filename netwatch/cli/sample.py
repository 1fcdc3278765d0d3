"""`netwatch sample` (draw shops or listings for random inspection, 双随机) and `netwatch sample show ID`."""

from __future__ import annotations

import click

from netwatch.cli.leads import db_option, open_store
from netwatch.cli.options import ROW_ID


def _print(sample: dict, lang: str) -> None:
    from netwatch import config
    from netwatch.domain.clock import local_text

    zone = config.time_zone()
    now = sample["population_now"]
    if lang == "zh":
        click.echo(f"抽查 {sample['id']}：从 {sample['population_size']} 个{'店铺' if sample['kind'] == 'shops' else '商品'}"
                   f"中抽取 {len(sample['members'])} 个（按地区分层），随机种子 {sample['seed']}")
        click.echo(f"抽取人 {sample['created_by']}，时间 {local_text(sample['created_at'], zone)}，"
                   f"总体哈希 {sample['population_hash']}")
        click.echo("复现：" + ("与记录一致" if sample["reproduced"] else "与记录不一致！"))
        click.echo("总体：未变化" if not sample["population_changed"] else
                   f"总体：已变化（现有 {now['size']} 个，新增 {len(now['added'])}，减少 {len(now['removed'])}）")
    else:
        click.echo(f"sample {sample['id']}: {len(sample['members'])} of {sample['population_size']} {sample['kind']} "
                   f"(stratified by region), seed {sample['seed']}")
        click.echo(f"drawn by {sample['created_by']} at {local_text(sample['created_at'], zone)}, population hash "
                   f"{sample['population_hash']}")
        click.echo("reproduced: " + ("matches the record" if sample["reproduced"] else "DOES NOT match the record"))
        click.echo("population: unchanged" if not sample["population_changed"] else
                   f"population: changed (now {now['size']}, {len(now['added'])} added, {len(now['removed'])} removed)")
    for member in sample["members"]:
        click.echo(f"  {member['position']}. {member['member_key']}  {member['region']}  {member['inspectors'] or ''}")


lang_option = click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
out_option = click.option("--out", type=click.Path(dir_okay=False), help="Write the task list (.csv or .xlsx).")


@click.group(invoke_without_command=True)
@click.option("-n", "--size", type=click.IntRange(1, 1_000_000), help="How many to draw.")
@click.option("--kind", type=click.Choice(["shops", "listings"]), default="shops", show_default=True)
@click.option("--region", multiple=True, help="Only this region (the watchlist's); repeatable.")
@click.option("--platform", multiple=True, help="Only this platform / site key; repeatable.")
@click.option("--category", multiple=True, help="Only those with a lead of this category; repeatable.")
@click.option("--tag", multiple=True, help="Only platforms watched with this tag; repeatable.")
@click.option("--seed", help="The random seed (default: a fresh random one, recorded).")
@click.option("--by", help="Who draws (default: NETWATCH_USER, else the login name).")
@click.option("--inspector", "inspectors", multiple=True, metavar="NAME[:REGION]",
              help="An inspector to draw from; repeatable.")
@click.option("--exclude-own-region", is_flag=True, help="Never send an inspector to their own region.")
@click.option("--per-task", type=click.IntRange(1, 10), default=1, show_default=True, help="Inspectors per task.")
@out_option
@lang_option
@db_option
@click.pass_context
def sample(ctx: click.Context, size: int | None, kind: str, region: tuple[str, ...], platform: tuple[str, ...],
           category: tuple[str, ...], tag: tuple[str, ...], seed: str | None, by: str | None,
           inspectors: tuple[str, ...], exclude_own_region: bool, per_task: int, out: str | None, lang: str,
           db_url: str | None) -> None:
    """Draw N shops or listings for random inspection (双随机), stratified by region, with a record that the
    draw was fair: seed, population size and hash, time and person. `netwatch sample show ID` re-derives it."""
    if ctx.invoked_subcommand is not None:
        return
    if size is None:
        raise click.UsageError("say how many to draw: -n N")
    from netwatch.ops.sampling import Inspector, export_tasks, make_sample

    try:
        people = [Inspector.parse(text) for text in inspectors]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--inspector") from None
    with open_store(db_url) as store:
        try:
            drawn = make_sample(store, kind=kind, size=size, region=region, platform=platform, category=category,
                                tag=tag, seed=seed, by=by, inspectors=people, exclude_own_region=exclude_own_region,
                                per_task=per_task)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        if out:
            export_tasks(store, drawn, out)
    _print(drawn, lang)
    if out:
        click.echo(f"{'任务清单' if lang == 'zh' else 'task list'}: {out}")


@sample.command("show")
@click.argument("sample_id", type=ROW_ID)
@out_option
@lang_option
@db_option
def show(sample_id: int, out: str | None, lang: str, db_url: str | None) -> None:
    """Re-derive sample ID from its record and say whether its population changed since."""
    from netwatch.ops.sampling import export_tasks, show_sample

    with open_store(db_url) as store:
        found = show_sample(store, sample_id)
        if out:
            export_tasks(store, found, out)
    _print(found, lang)
