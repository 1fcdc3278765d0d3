"""Price text → (amount, ISO currency) with price-parser, tuned for Chinese shops.

"¥1,299.00", "￥99-199" (a range: the lowest price is the one a buyer is shown first), "99元",
"原价 ¥2,599.00", "3.350 €" (European thousands separator).
"""

from __future__ import annotations

import re
from functools import lru_cache

from price_parser import Price

_CURRENCY_CODES = {
    "¥": "CNY", "￥": "CNY", "元": "CNY", "rmb": "CNY", "cny": "CNY", "人民币": "CNY",
    "$": "USD", "us$": "USD", "usd": "USD", "£": "GBP", "gbp": "GBP", "€": "EUR", "eur": "EUR",
    "hk$": "HKD", "hkd": "HKD", "nt$": "TWD", "twd": "TWD", "jpy": "JPY", "円": "JPY",
}
_YUAN = re.compile(r"\d\s*元")


def currency_code(symbol: str | None) -> str | None:
    """Map a currency symbol or code as shown on a page to its ISO 4217 code."""
    if not symbol:
        return None
    symbol = symbol.strip()
    code = _CURRENCY_CODES.get(symbol.lower())
    if code:
        return code
    return symbol.upper() if re.fullmatch(r"[A-Za-z]{3}", symbol) else None


def parse_price(
    text: str | float | int | None, currency_hint: str | None = None, decimal_separator: str | None = None
) -> tuple[float | None, str | None]:
    """Return (amount, currency code); (None, None) when the text holds no price."""
    if text is None or text == "":
        return None, None
    if isinstance(text, (int, float)):
        return float(text), currency_code(currency_hint)
    return _parse_price_text(str(text), currency_hint, decimal_separator)


# A shop shows few distinct price texts, each on its list page and on the item page: parse each once.
@lru_cache(maxsize=8192)
def _parse_price_text(text: str, currency_hint: str | None, decimal_separator: str | None) -> tuple[float | None, str | None]:
    price = Price.fromstring(text, currency_hint=currency_hint, decimal_separator=decimal_separator)
    amount = price.amount_float
    if amount is None:
        return None, None
    currency = currency_code(price.currency) or currency_code(currency_hint)
    if currency is None and _YUAN.search(text):
        currency = "CNY"
    return amount, currency
