"""Hits are shown on the text as it was on the page (#17): the item path cleans a listing before the
rules read it, and `rules check --explain` normalises it, but offsets, match and context are the original's."""

from __future__ import annotations

from click.testing import CliRunner

from netwatch.checks import process
from netwatch.cli import cli
from netwatch.domain.items import Listing, Review, Shop
from netwatch.domain.text import clean_text, clean_text_mapped


def test_clean_text_keeps_a_span_of_the_original_for_each_character():
    original = " 網(wǎng)站  象牙，，，手镯\n\n\n好评 "
    cleaned, spans = clean_text_mapped(original)
    assert cleaned == clean_text(original) == "網站 象牙，手镯\n好评"
    assert len(spans) == len(cleaned)
    assert [original[a:b] for a, b in spans] == ["網", "站", "  ", "象", "牙", "，，，", "手", "镯", "\n\n\n", "好", "评"]
    assert clean_text_mapped("象牙") == ("象牙", [(0, 1), (1, 2)])


def test_listing_hits_show_the_page_text_not_the_cleaned_text():
    title = "  出售  象(xiàng)牙，，手镯  好评返现"
    listing = Listing(url="u", canonical_id="1", platform="p", title=title, description="正品\n\n\n  好评  返现 送红包",
                      reviews=[Review(text="很好"), Review(text="商家说   好评返现")])
    hits = {(h.field, h.rule): h for h in process(listing)}
    ivory = hits[("title", "protected_wildlife")]
    assert (ivory.match, ivory.normalised) == ("象(xiàng)牙", "象牙")
    assert title[ivory.start:ivory.end] == ivory.match and ivory.context.startswith("  出售  象(xiàng)牙，，")
    praise = hits[("description", "cash_for_praise")]
    assert praise.match == "好评  返现" and listing.description == "正品\n好评 返现 送红包"
    review = hits[("review", "cash_for_praise")]
    assert review.match == "好评返现" and "商家说   好评返现" in review.context


def test_shop_hits_show_the_page_text():
    shop = Shop(platform="p", shop_id="1", url="u", name="本店  专营", text="公告：本店常年出售犀牛角，，熊胆")
    hits = [h for h in process(shop) if h.pack == "banned_goods"]
    assert [h.match for h in hits] == ["犀牛角", "熊胆"]
    assert all(shop.text != h.context for h in hits) and "犀牛角，，熊胆" in hits[0].context


def test_rules_check_explain_shows_original_span_reading_and_steps():
    result = CliRunner().invoke(cli, ["rules", "check", "--explain", "出售象讶手镯 好@评返现"])
    assert result.exit_code == 0, result.output
    assert "normalised: 出售象讶手镯好评返现" in result.output
    assert "original 2:4 '象讶'  read as '象牙'  steps: homophones" in result.output
    assert "original 7:12 '好@评返现'  read as '好评返现'  steps: -" in result.output
