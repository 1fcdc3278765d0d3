from netwatch.checks.price_marks import check_listing
from netwatch.domain.items import Listing


def listing(**kw):
    return Listing(url="http://127.0.0.1/item/1", canonical_id="1", platform="netmall", title="充电宝", **kw)


def test_list_price_below_detail_price_is_a_bait_price():
    hits = check_listing(listing(price=129.0, list_price=99.0))
    assert [(h.category, h.rule) for h in hits] == [("price_fraud", "list_price_below_detail_price")]
    assert hits[0].legal_basis == "《明码标价和禁止价格欺诈规定》第二十条第（一）项、第十九条第（二）项" and "99.00" in hits[0].match and "129.00" in hits[0].match


def test_equal_or_higher_list_price_is_fine():
    assert check_listing(listing(price=99.0, list_price=99.0)) == []
    assert check_listing(listing(price=99.0, list_price=99.004)) == []
    assert check_listing(listing(price=99.0, list_price=120.0)) == []


def test_unknown_prices_give_no_hit():
    assert check_listing(listing(price=99.0)) == []
    assert check_listing(listing(list_price=99.0)) == []


def test_the_definitions_examples_hold():
    from netwatch import config
    from netwatch.checks.definitions import load_check_definitions
    from netwatch.checks.examples import run_check_examples

    run, failures = run_check_examples(load_check_definitions(config.rules_dir() / "checks"), "price_marks")
    assert run >= 6 and failures == [], "\n".join(map(str, failures))
