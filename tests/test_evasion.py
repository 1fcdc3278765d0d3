"""Opt-in evasion steps (netwatch/checks/text/evasion.py): each step finds what the plain rules miss,
only for the rules that opt in, and every hit is explained - the original span, the text it was read
as, the steps that fired."""

from __future__ import annotations

import pytest

from netwatch.checks.audit import evasion_cost
from netwatch.checks.text import PackError, RuleEngine
from netwatch.checks.text.evasion import chinese_number, pinyin_initials, rewrite
from netwatch.checks.text.evasion_gates import pinyin_gate_words
from netwatch.checks.text.normalize import normalize

PACK = """\
id: demo
title: Demo
category: banned_goods
legal_basis: [{{law: 电子商务法, article: 13}}]
rules:
  - id: ivory
    keywords: [象牙, 熊胆]
    exclusions: [象牙白]
    evasions: [{steps}]
  - id: gun
    keywords: [仿真枪, 好评返现]
    evasions: [{steps}]
  - id: reward
    regex: ['好评返[0-9]+元']
    evasions: [{steps}]
  - id: plain
    keywords: [犀角]
"""


def engine_with(tmp_path, steps: str) -> RuleEngine:
    (tmp_path / "demo.yaml").write_text(PACK.format(steps=steps), encoding="utf-8")
    return RuleEngine.from_dir(tmp_path)


def only_hit(engine: RuleEngine, text: str):
    hits = engine.check(text)
    assert len(hits) == 1, hits
    return hits[0]


@pytest.mark.parametrize(("steps", "text", "match", "normalised", "fired"), [
    ("insertions", "出售象a牙手镯", "象a牙", "象牙", ("insertions",)),
    ("insertions", "象1牙 吊坠", "象1牙", "象牙", ("insertions",)),
    ("split", "仿真木仓 合金", "仿真木仓", "仿真枪", ("split",)),
    ("split", "女子评返现", "女子评返现", "好评返现", ("split",)),
    ("homophones", "象讶手镯 老料", "象讶", "象牙", ("homophones",)),
    ("homophones", "熊蛋粉 正品", "熊蛋", "熊胆", ("homophones",)),
    ("digits", "好评返伍元", "好评返伍元", "好评返5元", ("digits",)),
    ("digits", "好评返二十元", "好评返二十元", "好评返20元", ("digits",)),
    ("pinyin", "xiangya 手镯", "xiangya", "xiangya", ("pinyin",)),
    ("pinyin", "正宗 象ya 吊坠", "象ya", "xiangya", ("pinyin",)),
    ("pinyin", "xiang ya 手镯", "xiang ya", "xiangya", ("pinyin",)),  # not 摆件: xiangyabai is the excluded 象牙白
    ("initials", "出 xy 手镯", "xy", "xy", ("initials",)),
])
def test_each_step_finds_its_evasion_and_explains_the_hit(tmp_path, steps, text, match, normalised, fired):
    assert engine_with(tmp_path, "insertions").check("象牙白 衬衫") == []  # a plain exclusion still holds
    plain = RuleEngine.from_dir(_plain(tmp_path / "plain"))
    assert plain.check(text) == []  # the step is what finds it
    hit = only_hit(engine_with(tmp_path, steps), text)
    assert text[hit.start:hit.end] == hit.match == match  # the original span, as on the page
    assert (hit.normalised, hit.steps) == (normalised, fired)
    assert match in hit.context


def _plain(path):
    path.mkdir()
    (path / "demo.yaml").write_text(PACK.replace("    evasions: [{steps}]\n", "").format(), encoding="utf-8")
    return path


def test_steps_are_opt_in_per_rule(tmp_path):
    engine = engine_with(tmp_path, "homophones")
    assert engine.check("西角 杯") == []  # `plain` did not opt in
    assert [h.rule for h in engine.check("象讶 犀角")] == ["ivory", "plain"]
    plain_hit = [h for h in engine.check("象讶 犀角") if h.rule == "plain"][0]
    assert plain_hit.steps == () and plain_hit.normalised == "犀角"


def test_exclusions_are_read_through_the_same_step(tmp_path):
    engine = engine_with(tmp_path, "homophones")
    assert engine.check("象讶白 连衣裙") == []  # 象牙白 spelled with a homophone is still the colour


def test_pinyin_keeps_to_syllables_and_whole_latin_words(tmp_path):
    engine = engine_with(tmp_path, "pinyin")
    assert engine.check("toyota xiangyang 汽车") == []  # ya inside toyota, xiangya inside xiangyang
    assert engine.check("大象呀 好可爱") == []  # no Latin written: homophones are another step
    assert only_hit(engine, "XIANGYA 手镯").match == "XIANGYA"


def test_the_pinyin_gate_opens_on_whole_syllables_only(tmp_path):
    """A text is rewritten into pinyin only when one of its Latin words spells whole syllables of a
    term: no, an or ng (in model numbers and English words) open nothing for 象牙."""
    assert pinyin_gate_words(["象牙", "k粉"], ("pinyin",)) == ["fen", "kfen", "xiang", "xiangya", "ya"]
    assert pinyin_gate_words(["象讶"], ("homophones", "pinyin")) == ["xiang", "xiangya", "ya"]
    engine = engine_with(tmp_path, "pinyin")
    passes = engine._evasions  # noqa: SLF001 - which passes a text opens
    assert passes.open("no.1 an ng cotton", set()) == []
    assert passes.open("正宗 象ya 吊坠", set()) != []
    assert [h.match for h in engine.check("xiang 牙 吊坠 no.1")] == ["xiang 牙"]
    # A Latin term is the plain pass's: "rhino horn" spelled without its space is no pinyin, and opens nothing.
    (tmp_path / "demo.yaml").write_text(PACK.format(steps="pinyin").replace("[象牙, 熊胆]", "[象牙, rhino horn]"), encoding="utf-8")
    latin = RuleEngine.from_dir(tmp_path)
    assert latin._evasions.open("no rhino ho", set()) == []  # noqa: SLF001
    assert latin._evasions.open("xiang 牙", set()) != []  # noqa: SLF001


def test_initials_are_whole_words(tmp_path):
    engine = engine_with(tmp_path, "initials")
    assert engine.check("xyz 型号") == [] and engine.check("oxy 手镯") == []
    assert pinyin_initials("象牙") == "xy" and pinyin_initials("ivory") is None and pinyin_initials("象") is None


def test_chinese_numbers():
    assert [chinese_number(n) for n in ("五", "伍", "二十", "十五", "三百零五", "一二三", "两")] == ["5", "5", "20", "15", "305", "123", "2"]
    assert chinese_number("二三十") is None


def test_rewrite_keeps_the_map_to_the_original():
    norm = normalize("好@评返 伍元")
    import re

    rewritten = rewrite(norm, re.compile("伍"), lambda m: "5")
    assert rewritten.text == "好评返5元"
    start = rewritten.text.index("5")
    assert rewritten.original_span(0, len(rewritten.text)) == (0, len("好@评返 伍元"))
    assert rewritten.original_span(start, start + 1) == (5, 6)
    assert rewrite(norm, re.compile("x"), lambda m: "y") is norm


def test_unknown_step_is_a_pack_error(tmp_path):
    with pytest.raises(PackError, match="unknown evasion step 'leet'"):
        engine_with(tmp_path, "leet")


def test_evasion_cost_counts_what_each_step_adds(tmp_path):
    engine = RuleEngine.from_dir(_plain(tmp_path / "plain"))
    cost = evasion_cost(engine.packs, ["出 xy 手镯", "象讶 摆件", "象牙 摆件", "牛角梳"])
    assert [(text, hit.rule) for text, hit in cost["initials"]] == [("出 xy 手镯", "ivory")]
    assert [(text, hit.match) for text, hit in cost["homophones"]] == [("象讶 摆件", "象讶")]
    assert cost["split"] == [] and cost["digits"] == []


def test_a_rule_may_narrow_its_packs_product_categories(tmp_path):
    (tmp_path / "demo.yaml").write_text("""\
id: demo
title: Demo
category: false_advertising
legal_basis: [{law: 广告法, article: 17}]
rules:
  - id: cosmetic_claims
    keywords: [治疗痤疮]
    except_product_categories: [drug]
  - id: any
    keywords: [根治]
""", encoding="utf-8")
    engine = RuleEngine.from_dir(tmp_path)
    assert [h.rule for h in engine.check("治疗痤疮 根治", product_categories=["drug"])] == ["any"]
    assert [h.rule for h in engine.check("治疗痤疮 根治", product_categories=["cosmetics"])] == ["cosmetic_claims", "any"]
    assert [h.rule for h in engine.check("治疗痤疮 根治")] == ["cosmetic_claims", "any"]  # no hint: could be anything
    (tmp_path / "demo.yaml").write_text((tmp_path / "demo.yaml").read_text().replace("[drug]", "[medicine]"))
    with pytest.raises(PackError, match="unknown product category 'medicine'"):
        RuleEngine.from_dir(tmp_path)


EVASIVE = "出售象a牙手镯，仿真木仓 合金；熊蛋粉 正品 好评返伍元 正宗 象ya 吊坠 xiang ya 手镯 出 xy 手镯 日月 女子评返现"


@pytest.mark.parametrize("backend", ["hyperscan", "ahocorasick_rs", "pyahocorasick"])
def test_gates_in_the_keyword_automaton_open_the_same_passes_as_their_own(tmp_path, backend):
    """The character passes' gate literals are scanned with the keywords (one scan per text); under the
    plain-`re` baseline, which reports one literal per position, they have an automaton of their own.
    Every backend finds the same evasions, with the same spans and steps."""
    pytest.importorskip("ahocorasick" if backend == "pyahocorasick" else backend)
    every_step = "insertions, split, homophones, digits, pinyin, initials"
    baseline = engine_with(tmp_path, every_step)
    reference = RuleEngine(baseline.packs, backend="re")
    assert reference._gate_matcher is not None  # noqa: SLF001 - the baseline keeps its gate apart
    engine = RuleEngine(baseline.packs, backend=backend)
    assert engine._gate_matcher is None  # noqa: SLF001 - merged into the one automaton
    expected = reference.check(EVASIVE)
    assert {h.match for h in expected} >= {"象a牙", "仿真木仓", "熊蛋", "好评返伍元", "象ya", "xiang ya", "xy", "女子评返现"}
    assert engine.check(EVASIVE) == expected


@pytest.mark.parametrize("text", ["象ya\x00 手镯", "象ya 手镯 𠀀"])
def test_pinyin_rewrite_of_rare_characters(tmp_path, text):
    """NUL (the vectorised spelling's padding) and characters beyond the BMP take the per-character path."""
    hit = only_hit(engine_with(tmp_path, "pinyin"), text)
    assert (hit.match, hit.normalised, hit.steps) == ("象ya", "xiangya", ("pinyin",))
