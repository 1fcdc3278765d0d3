"""Which column holds which item field: the aliases platforms use, --map, and the kind of a file."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from netwatch.importing.read import ImportFileError

KINDS = ("listings", "reviews")

# Item field -> column names recognised without --map (English and the Chinese headers platforms use).
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "listings": {
        "canonical_id": ("canonical_id", "item_id", "listing_id", "id", "商品id", "商品ID", "商品编号", "宝贝id"),
        "url": ("url", "link", "商品链接", "链接"),
        "title": ("title", "name", "商品名称", "标题", "商品标题"),
        "price": ("price", "价格", "售价", "现价"),
        "original_price": ("original_price", "list_price", "原价", "划线价"),
        "currency": ("currency", "币种"),
        "description": ("description", "desc", "商品描述", "描述", "详情"),
        "shop_id": ("shop_id", "店铺id", "店铺ID", "店铺编号"),
        "shop_name": ("shop_name", "shop", "店铺名称", "店铺"),
        "category": ("category", "类目", "商品类目"),
        "specs": ("specs", "规格参数", "商品参数"),  # a JSON object {"材质": "…"}, as a crawl reads a page's specs
        "fetched_at": ("fetched_at", "time", "采集时间", "抓取时间"),
    },
    "reviews": {
        "canonical_id": ("canonical_id", "item_id", "listing_id", "商品id", "商品ID", "商品编号", "宝贝id"),
        "text": ("text", "content", "review", "评价内容", "评论内容", "评价", "内容"),
        "reviewer": ("reviewer", "user", "user_name", "用户", "用户名", "买家", "评价人"),
        "rating": ("rating", "score", "stars", "评分", "星级"),
        "time": ("time", "created_at", "date", "评价时间", "时间"),
        "review_id": ("review_id", "评价id", "评价ID"),
        "shop_id": ("shop_id", "店铺id", "店铺ID"),
        "shop_name": ("shop_name", "店铺名称", "店铺"),
        "title": ("title", "商品名称", "标题"),
        "url": ("url", "商品链接", "链接"),
    },
}
REQUIRED = {"listings": ("canonical_id",), "reviews": ("canonical_id", "text")}


def parse_mapping(spec: str | Iterable[str] | None) -> dict[str, str]:
    """'field=column,field2=column2' (or several such strings) -> {field: column}."""
    if not spec:
        return {}
    parts = [spec] if isinstance(spec, str) else list(spec)
    mapping: dict[str, str] = {}
    for part in parts:
        for pair in part.split(","):
            if not pair.strip():
                continue
            if "=" not in pair:
                raise ValueError(f"--map: {pair!r} is not field=column")
            name, column = (x.strip() for x in pair.split("=", 1))
            if not name or not column:
                raise ValueError(f"--map: {pair!r} is not field=column")
            mapping[name] = column
    return mapping


def resolve_columns(kind: str, columns: Sequence[str], mapping: Mapping[str, str], source: str) -> dict[str, str]:
    """Item field -> column, from --map first, then the known aliases; errors name what is missing."""
    fields = ALIASES[kind]
    unknown = set(mapping) - set(fields)
    if unknown:
        raise ImportFileError(f"{source}: --map names unknown {kind} field(s) {sorted(unknown)} (known: {', '.join(fields)})")
    present = {c.strip(): c for c in columns}
    lower = {c.strip().lower(): c for c in columns}
    resolved: dict[str, str] = {}
    for name, aliases in fields.items():
        if name in mapping:
            if mapping[name] not in present:
                raise ImportFileError(f"{source}: --map {name}={mapping[name]}: no such column (columns: {', '.join(columns)})")
            resolved[name] = present[mapping[name]]
            continue
        for alias in aliases:
            column = present.get(alias) or lower.get(alias.lower())
            if column is not None:
                resolved[name] = column
                break
    missing = [f for f in REQUIRED[kind] if f not in resolved]
    if missing:
        raise ImportFileError(f"{source}: no column for {', '.join(missing)} (columns: {', '.join(columns)}); "
                           f"name it with --map {missing[0]}=COLUMN")
    return resolved


def guess_kind(columns: Sequence[str]) -> str:
    """A file with a review-text column holds reviews, else listings."""
    names = {c.strip().lower() for c in columns}
    return "reviews" if names & {a.lower() for a in ALIASES["reviews"]["text"]} else "listings"
