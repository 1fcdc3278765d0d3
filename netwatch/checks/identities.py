"""Contact and identity details a shop displays, read out of its page text and normalised so that two shops
showing the same number in different dress compare equal: phone and mobile numbers (spaces, dashes, +86 /
0086, full-width digits), WeChat and QQ ids, e-mail addresses, 统一社会信用代码 (only valid ones: the GB
32100-2015 check in netwatch.checks.licence), ICP filing numbers (京ICP备…号) and the analytics or payment
ids of the page's own scripts (Baidu Tongji, Google Analytics, Alipay PIDs).

The store links shops that share one (netwatch.store.networks). Identifiers a whole platform shows on every
page (its hotline, its own ICP number in the footer) must not be read: profiles point `contact` at the
shop's own block, not at the page.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

from netwatch.checks.licence import is_valid_uscc
from netwatch.domain.items import Shop

KINDS = ("mobile", "phone", "wechat", "qq", "email", "credit_code", "icp", "analytics", "payment")


class Identifier(NamedTuple):
    kind: str  # one of KINDS
    value: str  # normalised: equal values mean the same number, id or code
    shown: str  # as the page showed it (the evidence)


# After NFKC (full-width digits and letters are half-width) and with the country code in any of its forms.
_COUNTRY = r"(?:(?:\+|00)\s*86[\s-]*|\(\+?86\)\s*)?"
_MOBILE = re.compile(rf"(?<![\w+]){_COUNTRY}(1[3-9]\d(?:[\s-]?\d){{8}})(?!\d)")
# Landline: area code 0 + 2-3 digits (or 2-3 digits after +86, which drops the 0), then 7-8 digits;
# 400/800 service numbers too.
_LANDLINE = re.compile(
    r"(?<![\w+])(?:(?:\+|00)\s*86[\s-]*\(?(?P<intl_area>[1-9]\d{1,2})\)?|\(?(?P<area>0[1-9]\d{1,2})\)?)"
    r"[\s-]*(?P<number>[2-9]\d{2,3}[\s-]?\d{4})(?!\d)")
_SERVICE = re.compile(r"(?<!\d)([48]00)[\s-]?(\d{3})[\s-]?(\d{4})(?!\d)")
_WECHAT = re.compile(r"(?:微信|weixin|wechat|vx|v信|威信)\s*(?:号|id)?\s*[:：]?\s*([a-zA-Z][-_a-zA-Z0-9]{5,19})",
                     re.IGNORECASE)
_QQ = re.compile(r"(?:qq|扣扣)\s*(?:号|群)?\s*[:：]?\s*([1-9]\d{4,11})(?!\d)", re.IGNORECASE)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_CREDIT_CODE = re.compile(r"(?<![0-9A-Z])([0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10})(?![0-9A-Z])")
_ICP = re.compile(r"([京津沪渝冀晋辽吉黑苏浙皖闽赣鲁豫鄂湘粤琼川贵云陕甘青蒙桂藏宁新])\s*ICP\s*(备|证)\s*(\d{6,10})\s*号"
                  r"(?:\s*-\s*(\d+))?", re.IGNORECASE)
_ANALYTICS = re.compile(r"hm\.baidu\.com/hm\.js\?([0-9a-f]{32})|\b(UA-\d{4,10}-\d{1,4})\b|\b(G-[A-Z0-9]{6,12})\b")
_ALIPAY_PID = re.compile(r"(?:pid|partner)\s*[=:：]\s*(2088\d{12})(?!\d)", re.IGNORECASE)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def find_identifiers(text: str | None) -> list[Identifier]:
    """Every identifier in the text, each (kind, value) once, in the order found."""
    if not text:
        return []
    original, text = text, unicodedata.normalize("NFKC", text)
    # The evidence is the text as shown; full-width forms fold one character to one, so spans carry over.
    shown_text = original if len(original) == len(text) else text
    found: dict[tuple[str, str], Identifier] = {}

    def add(kind: str, value: str, match: re.Match[str]) -> None:
        found.setdefault((kind, value), Identifier(kind, value, shown_text[match.start():match.end()].strip()))

    taken: list[tuple[int, int]] = []  # spans already read as one kind, not to be read again as another
    for match in _EMAIL.finditer(text):
        add("email", match.group(0).lower(), match)
        taken.append(match.span())
    for match in _ANALYTICS.finditer(text):
        add("analytics", next(group for group in match.groups() if group), match)
        taken.append(match.span())
    for match in _ALIPAY_PID.finditer(text):
        add("payment", "alipay:" + match.group(1), match)
        taken.append(match.span())
    for match in _ICP.finditer(text):
        province, kind, number, site = match.groups()
        add("icp", f"{province}ICP{kind}{number}号", match)  # the filing, whichever of its sites (-1, -2)
        taken.append(match.span())
    for match in _CREDIT_CODE.finditer(text.upper()):
        if is_valid_uscc(match.group(1)):
            add("credit_code", match.group(1), match)
            taken.append(match.span())

    def free(span: tuple[int, int]) -> bool:
        return not any(start < span[1] and span[0] < end for start, end in taken)

    for pattern, kind in ((_WECHAT, "wechat"), (_QQ, "qq")):
        for match in pattern.finditer(text):
            if free(match.span(1)):
                add(kind, match.group(1).lower() if kind == "wechat" else match.group(1), match)
                taken.append(match.span(1))
    for match in _MOBILE.finditer(text):
        if free(match.span()):
            add("mobile", _digits(match.group(1)), match)
            taken.append(match.span())
    for match in _SERVICE.finditer(text):
        if free(match.span()):
            add("phone", "".join(match.groups()), match)
            taken.append(match.span())
    for match in _LANDLINE.finditer(text):
        if free(match.span()):
            area = match.group("area") or "0" + match.group("intl_area")
            add("phone", f"{area}-{_digits(match.group('number'))}", match)
            taken.append(match.span())
    return list(found.values())


def shop_identifiers(shop: Shop) -> list[Identifier]:
    """The identifiers a shop displays: its contact block, licence block and notices, and its credit code."""
    seen: dict[tuple[str, str], Identifier] = {}
    for text in (shop.contact, shop.licence_text, shop.credit_code, shop.text):
        for identifier in find_identifiers(text):
            seen.setdefault(identifier[:2], identifier)
    return list(seen.values())
