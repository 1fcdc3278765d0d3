import pytest

from netwatch.checks.licence import check_shop, is_valid_uscc, uscc_check_char
from netwatch.domain.items import Shop

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
    assert hits[0].category == "licence" and hits[0].legal_basis == "《电子商务法》第十五条"


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


def test_the_definitions_examples_hold():
    from netwatch import config
    from netwatch.checks.definitions import load_check_definitions
    from netwatch.checks.examples import run_check_examples

    run, failures = run_check_examples(load_check_definitions(config.rules_dir() / "checks"), "licence_display")
    assert run >= 8 and failures == [], "\n".join(map(str, failures))


def test_severity_and_legal_basis_come_from_the_definition(tmp_path, monkeypatch):
    import shutil

    from netwatch import config

    rules = tmp_path / "rules"
    shutil.copytree(config.rules_dir(), rules)
    path = rules / "checks" / "licence_display.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("severity: high", "severity: critical", 1)
                    .replace("{law: 电子商务法, article: 15}", "{law: 电子商务法, article: 16}", 1), encoding="utf-8")
    monkeypatch.setenv("NETWATCH_RULES_DIR", str(rules))
    (hit,) = check_shop(shop())
    assert (hit.rule, hit.severity, hit.legal_basis) == ("licence_not_displayed", "critical", "《电子商务法》第十六条")
