"""`netwatch shops network SHOP` and `netwatch shops networks`: shops linked by the identifiers they share."""

from __future__ import annotations

import json
from typing import Any

import click

from netwatch import config
from netwatch.cli.leads import db_option, open_store
from netwatch.domain.clock import local_text

KIND_NAMES = {
    "zh": {"mobile": "手机号", "phone": "电话", "wechat": "微信号", "qq": "QQ号", "email": "电子邮箱",
           "credit_code": "统一社会信用代码", "icp": "ICP备案号", "analytics": "统计代码", "payment": "收款账号"},
    "en": {"mobile": "mobile", "phone": "phone", "wechat": "WeChat id", "qq": "QQ", "email": "e-mail",
           "credit_code": "credit code", "icp": "ICP filing", "analytics": "analytics id", "payment": "payment id"},
}
TEXT = {
    "zh": {"group": "关联卖家组 G{id}：{n} 家店铺", "shops": "店铺", "links": "关联依据", "leads": "线索 {n} 条",
           "alone": "{shop} 未与其他店铺共用联系方式或身份信息。", "none": "没有关联的店铺组。",
           "reach": "线索涉及平台：{platforms}；地区：{regions}", "shown": "页面显示", "seen": "见于"},
    "en": {"group": "seller group G{id}: {n} shops", "shops": "shops", "links": "linked by", "leads": "{n} leads",
           "alone": "{shop} shares no contact or identity detail with another shop.", "none": "No linked shops.",
           "reach": "leads on platforms: {platforms}; regions: {regions}", "shown": "shown as", "seen": "seen"},
}
lang_option = click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)


def _shop_label(shop: dict[str, Any]) -> str:
    return f"{shop['platform']}/{shop['shop_id']} {shop['name'] or ''}".strip()


def group_lines(group: dict[str, Any], lang: str, zone: str) -> list[str]:
    """The group as text: its shops, then each shared identifier with the shops showing it and how."""
    text, kinds = TEXT[lang], KIND_NAMES[lang]
    by_ref = {shop["id"]: shop for shop in group["shops"]}
    lines = [text["group"].format(id=group["group_id"], n=len(group["shops"]))]
    if "lead_platforms" in group:
        lines.append("  " + text["reach"].format(platforms="、".join(group["lead_platforms"]) or "—",
                                                 regions="、".join(group["lead_regions"]) or "—"))
    lines.append(f"  {text['shops']}:")
    lines += [f"    - {_shop_label(shop)}  ({text['leads'].format(n=shop['leads'])})" for shop in group["shops"]]
    lines.append(f"  {text['links']}:")
    for link in group["links"]:
        lines.append(f"    - {kinds.get(link['kind'], link['kind'])} {link['value']}")
        for showing in link["shops"]:
            lines.append(f"        {_shop_label(by_ref[showing['shop_ref']])}: {text['shown']} “{showing['shown']}”"
                         f" ({text['seen']} {local_text(showing['seen_at'], zone)})")
    return lines


@click.group()
def shops() -> None:
    """Seller networks: shops that share a phone, WeChat/QQ id, e-mail, credit code, ICP filing…"""


@shops.command("network")
@click.argument("shop")
@db_option
@lang_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def network(shop: str, db_url: str | None, lang: str, as_json: bool) -> None:
    """Print SHOP's seller group (SHOP: platform/shop_id such as netmall/1001, a shop number or a name)."""
    with open_store(db_url) as store:
        found, group = store.seller_group(shop)
    if as_json:
        click.echo(json.dumps({"shop": found, "group": group}, ensure_ascii=False, default=str, indent=2))
    elif group is None:
        click.echo(TEXT[lang]["alone"].format(shop=_shop_label(found)))
    else:
        click.echo("\n".join(group_lines(group, lang, config.time_zone())))


@shops.command("networks")
@db_option
@lang_option
def networks(db_url: str | None, lang: str) -> None:
    """Every seller group, those with leads on several platforms or in several regions first."""
    from netwatch.ops.networks import ranked_groups

    with open_store(db_url) as store:
        groups = ranked_groups(store)
    if not groups:
        click.echo(TEXT[lang]["none"])
    for group in groups:
        click.echo("\n".join(group_lines(group, lang, config.time_zone())) + "\n")
