"""Licence display checks for shops: is the business licence shown, is its 统一社会信用代码 well formed
(GB 32100-2015 check character), and does a food shop show its food licence.

Structured checks, not keywords: they read the Shop item's fields, not its text. Their titles, severities and
legal bases are data in rules/checks/licence_display.yaml.
"""

from __future__ import annotations

import re

from netwatch.checks.definitions import check_definition
from netwatch.checks.text import Hit
from netwatch.domain.items import Shop

PACK = "licence_display"

# GB 32100-2015: 18 characters from this 31-symbol alphabet (no I, O, Z, S, V);
# the 18th is a check character over the first 17 with these weights.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")
# 食品经营许可证 numbers: JY + 14 digits (older SP… numbers are also seen on shop pages).
_FOOD_LICENCE = re.compile(r"(JY\d{14}|SP\d{16})")


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(ch) * w for ch, w in zip(first17, USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def is_valid_uscc(code: str) -> bool:
    code = code.strip().upper()
    return bool(_USCC_SHAPE.match(code)) and uscc_check_char(code[:17]) == code[17]


def _hit(rule_id: str, match: str, context: str) -> Hit:
    definition = check_definition(PACK)
    rule = definition.rule(rule_id)
    return Hit(pack=PACK, rule=rule_id, category=definition.category, severity=rule.severity, field="licence",
               start=0, end=len(match), match=match, context=context, legal_basis=rule.legal_basis)


def check_shop(shop: Shop) -> list[Hit]:
    """The licence hits of one shop, in a fixed order (display, code, food licence)."""
    hits: list[Hit] = []
    code = (shop.credit_code or "").strip()
    if not code and not (shop.licence_text or "").strip():
        hits.append(_hit("licence_not_displayed", "(no business licence shown)",
                         f"shop page {shop.url} shows no business-licence information"))
    elif not code:
        hits.append(_hit("credit_code_missing", "(no 统一社会信用代码)", (shop.licence_text or "")[:200]))
    elif not is_valid_uscc(code):
        hits.append(_hit("credit_code_invalid", code, f"统一社会信用代码 {code} fails the GB 32100-2015 check"))
    if shop.is_food and not _FOOD_LICENCE.search(shop.food_licence or ""):
        shown = (shop.food_licence or "").strip()
        hits.append(_hit("food_licence_missing", shown or "(no food licence shown)",
                         f"food shop {shop.name or shop.shop_id} shows no valid 食品经营许可证"))
    return hits
