import pytest

from netwatch.domain.items import Shop
from netwatch.checks.licence import check_shop, is_valid_uscc, uscc_check_char

# Real, published codes (their check characters were computed by the issuing authority).
PUBLISHED_VALID = ["91350100M000100Y43", "914403001922038216"]


@pytest.mark.parametrize("code", PUBLISHED_VALID)
def test_published_codes_validate(code):
    assert is_valid_uscc(code)
    assert is_valid_uscc(code.lower())


@pytest.mark.parametrize("code", PUBLISHED_VALID)
def test_any_wrong_check_character_is_rejected(code):
    wrong = [ch for ch in "0123456789ABCDEFGHJKLMNPQRTUWXY" if ch != code[17]]
    assert not any(is_valid_uscc(code[:17] + ch) for ch in wrong)


@pytest.mark.parametrize("code", ["", "9135010", "91350100M000100Y4", "91350100M000100Y433", "91350100M00010OY43", "９１３５"])
def test_malformed_codes_are_rejected(code):
    assert not is_valid_uscc(code)


def test_check_character_of_first_17():
    assert uscc_check_char("91350100M000100Y4") == "3"


def shop(**kw):
    base = dict(platform="netmall", shop_id="s1", url="http://127.0.0.1/shop/s1", name="好店")
    base.update(kw)
    return Shop(**base)


def test_valid_licence_gives_no_hit():
    assert check_shop(shop(credit_code="91350100M000100Y43", licence_text="营业执照 …")) == []


def test_missing_licence_block():
    hits = check_shop(shop())
    assert [h.rule for h in hits] == ["licence_not_displayed"]
    assert hits[0].category == "licence" and "第十五条" in hits[0].legal_basis


def test_invalid_code_is_reported_with_the_code():
    hits = check_shop(shop(credit_code="91350100M000100Y44", licence_text="x"))
    assert [(h.rule, h.match) for h in hits] == [("credit_code_invalid", "91350100M000100Y44")]


def test_food_shop_needs_food_licence():
    ok = shop(credit_code="91350100M000100Y43", is_food=True, food_licence="JY13501000012345")
    assert check_shop(ok) == []
    missing = shop(credit_code="91350100M000100Y43", is_food=True)
    assert [h.rule for h in check_shop(missing)] == ["food_licence_missing"]
    # A licence that is not food business does not count.
    assert check_shop(shop(credit_code="91350100M000100Y43", is_food=False)) == []
