"""Hostile input (issue #14): prices that lose their sign or exponent, broken or absurdly deep JSON-LD,
servers that drip or flood, and dumps built to exhaust memory. Real files and real loopback servers."""

from __future__ import annotations

import pytest

from netwatch.extract import parse_price
from netwatch.importing import build_items


@pytest.mark.parametrize("text", ["-5", "1e999", "-1e309", "¥1e3", "-¥5", "¥-5", "RMB -88", "12345678901", "Price: 1E2"])
def test_what_is_not_a_price_gives_no_price(text):
    assert parse_price(text) == (None, None)


@pytest.mark.parametrize("number", [-5, -0.01, float("inf"), float("-inf"), float("nan"), 2e9])
def test_numbers_that_are_not_prices_give_no_price(number):
    assert parse_price(number) == (None, None)


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [("¥1,280.00", 1280.0, "CNY"), ("22,50 €", 22.5, "EUR"), ("1.299,00", 1299.0, None), ("￥99", 99.0, "CNY"),
     ("99元", 99.0, "CNY"), ("￥99-199", 99.0, "CNY"), ("特价 - ¥99", 99.0, "CNY"), (0, 0.0, None)],
)
def test_real_prices_still_parse(text, amount, currency):
    assert parse_price(text) == (amount, currency)


def test_import_reports_prices_that_are_not_prices_by_file_and_row(tmp_path):
    path = tmp_path / "listings.csv"
    path.write_text("商品ID,标题,价格,原价\nA1,保温杯,¥59.00,¥99\nA2,保温杯,-5,\nA3,保温杯,1e999,\nA4,保温杯,59,-1e309\n"
                    "A5,保温杯,\"1,299.00\",\n", encoding="utf-8")
    items, report = build_items(path)
    assert [(item.canonical_id, item.price, item.original_price) for item in items] == [
        ("A1", 59.0, 99.0), ("A5", 1299.0, None)]
    assert [(error.row, error.message) for error in report.errors] == [
        (3, "price '-5' is not a price"), (4, "price '1e999' is not a price"),
        (5, "original price '-1e309' is not a price")]
    assert str(report.errors[0]).startswith(f"{path}:3: ")
