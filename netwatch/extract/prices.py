"""Price text → (amount, ISO currency) with price-parser, tuned for Chinese shops.

"¥1,299.00", "￥99-199" (a range: the lowest price is the one a buyer is shown first), "99元",
"原价 ¥2,599.00", "3.350 €" (European thousands separator). What is not a price gives no price: a negative
amount, exponent notation (price-parser reads "1e999" as 1), a non-finite or absurdly large number.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

from price_parser import Price

_CURRENCY_CODES = {
    "¥": "CNY", "￥": "CNY", "元": "CNY", "rmb": "CNY", "cny": "CNY", "人民币": "CNY",
    "$": "USD", "us$": "USD", "usd": "USD", "£": "GBP", "gbp": "GBP", "€": "EUR", "eur": "EUR",
    "hk$": "HKD", "hkd": "HKD", "nt$": "TWD", "twd": "TWD", "jpy": "JPY", "円": "JPY",
}
_YUAN = re.compile(r"\d\s*元")
MAX_PRICE = 1e9  # no listing costs a billion: a bigger number is a placeholder, an id or an attack
# A minus before the first digit, with at most a currency sign between ("-5", "-¥5", "¥ -5"); a minus
# after a digit is a range ("￥99-199"), one before a space a dash ("特价 - ¥99"): both stay.
_NEGATIVE = re.compile(r"^[^\d]*[-−－](?:[¥￥$€£]|[A-Za-z]{1,3}\$?)?\s*\d")
_EXPONENT = re.compile(r"\d\s*[eE]\s*[-+]?\d")


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
        amount = float(text)
        return (amount, currency_code(currency_hint)) if _plausible(amount) else (None, None)
    return _parse_price_text(str(text), currency_hint, decimal_separator)


def _plausible(amount: float) -> bool:
    return math.isfinite(amount) and 0 <= amount <= MAX_PRICE


# A shop shows few distinct price texts, each on its list page and on the item page: parse each once.
@lru_cache(maxsize=8192)
def _parse_price_text(text: str, currency_hint: str | None, decimal_separator: str | None) -> tuple[float | None, str | None]:
    if _NEGATIVE.search(text) or _EXPONENT.search(text):
        return None, None
    price = Price.fromstring(text, currency_hint=currency_hint, decimal_separator=decimal_separator)
    amount = price.amount_float
    if amount is None or not _plausible(amount):
        return None, None
    currency = currency_code(price.currency) or currency_code(currency_hint)
    if currency is None and _YUAN.search(text):
        currency = "CNY"
    return amount, currency
