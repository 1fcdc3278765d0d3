"""Legal bases: the law index (rules/laws.yaml) re-derived from the law texts, citations checked at load, rendering."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from netwatch.checks.legal import Citation, build_index, cn_to_int, int_to_cn, render_citations
from netwatch.checks.text import PackError, load_packs
from netwatch.cli import cli

RULES_DIR = Path(__file__).resolve().parent.parent / "rules"
PACK = """\
id: demo
title: Demo
category: false_advertising
legal_basis:
  - {law: 广告法, article: 9, clause: 3}
rules:
  - id: best
    keywords: [最佳]
"""


def test_laws_yaml_is_the_index_of_the_law_texts(shared_dir):
    shipped = yaml.safe_load((RULES_DIR / "laws.yaml").read_text(encoding="utf-8"))
    assert build_index(shared_dir / "regulations") == shipped, \
        "rules/laws.yaml is stale: netwatch rules laws-index ../shared/regulations --out rules/laws.yaml"


def test_laws_index_reads_titles_dates_articles_and_clauses():
    laws = yaml.safe_load((RULES_DIR / "laws.yaml").read_text(encoding="utf-8"))["laws"]
    ads = laws["广告法"]
    assert ads["title"] == "中华人民共和国广告法" and ads["date"] == "2021-04-29"
    assert ads["articles"] == list(range(1, 75)) and ads["clauses"][9] == 11
    prices = laws["明码标价和禁止价格欺诈规定"]
    assert prices["clauses"][19] == 8 and prices["clauses"][20] == 3 and prices["paragraphs"][16] == 3


def test_laws_index_cli_writes_what_build_index_reads(tmp_path):
    law = tmp_path / "regs" / "示例法(2020-01-01).md"
    law.parent.mkdir()
    law.write_text("# 中华人民共和国示例法\n\n<!-- INFO END -->\n\n## 第一章 总则\n\n第一条 目的。\n\n第二条 不得：\n\n"
                   "（一）甲；\n\n（二）乙。\n\n前款以外。\n", encoding="utf-8")
    out = tmp_path / "laws.yaml"
    result = CliRunner().invoke(cli, ["rules", "laws-index", str(law.parent), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 laws, 2 articles" in result.output
    assert yaml.safe_load(out.read_text(encoding="utf-8")) == {"laws": {"示例法": {
        "title": "中华人民共和国示例法", "date": "2020-01-01", "file": law.name, "articles": [1, 2],
        "paragraphs": {2: 2}, "clauses": {2: 2}}}}


def test_laws_index_rejects_a_gap_in_the_articles(tmp_path):
    (tmp_path / "示例法(2020-01-01).md").write_text("# 示例法\n\n第一条 甲。\n\n第三条 丙。\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"示例法\(2020-01-01\)\.md:5: 第三条 follows article 1"):
        build_index(tmp_path)


@pytest.mark.parametrize("number", [1, 9, 10, 11, 19, 20, 73, 100, 101, 105, 110, 119, 154])
def test_numerals_round_trip(number):
    assert cn_to_int(int_to_cn(number)) == number
    assert int_to_cn(105) == "一百零五" and int_to_cn(110) == "一百一十" and int_to_cn(10) == "十"


def test_rendering_groups_one_laws_citations():
    assert render_citations([Citation("广告法", 9, clause=3), Citation("食品安全法", 73)]) == \
        "《广告法》第九条第（三）项；《食品安全法》第七十三条"
    assert render_citations([Citation("明码标价和禁止价格欺诈规定", 16, paragraph=2),
                             Citation("明码标价和禁止价格欺诈规定", 19, clause=3)]) == \
        "《明码标价和禁止价格欺诈规定》第十六条第二款、第十九条第（三）项"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "demo.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_a_good_citation_loads_and_renders(tmp_path):
    write(tmp_path, PACK)
    (pack,) = load_packs(tmp_path)
    assert pack.citations == (Citation("广告法", 9, clause=3),) and pack.legal_basis == "《广告法》第九条第（三）项"


@pytest.mark.parametrize("citation,words", [
    ("{law: 广告法, article: 99}", "广告法 has no article 99 (第九十九条; it has 1–74)"),
    ("{law: 广告法法, article: 9}", "unknown law '广告法法'"),
    ("{law: 广告法, article: 9, clause: 12}", "has 11 clause(s), not （十二）"),
    ("{law: 广告法, article: 1, clause: 1}", "has 0 clause(s)"),
    ("{law: 广告法, article: 第九条}", "article must be a positive integer"),
    ("{law: 广告法, article: 9, item: 3}", "unknown key(s) ['item']"),
])
def test_a_bad_pack_citation_names_file_and_line(tmp_path, citation, words):
    path = write(tmp_path, PACK.replace("{law: 广告法, article: 9, clause: 3}", citation))
    with pytest.raises(PackError) as caught:
        load_packs(tmp_path)
    assert caught.value.line == 5 and f"{path}:5:" in str(caught.value)
    assert words in str(caught.value)


def test_a_bad_rule_citation_names_the_rule(tmp_path):
    write(tmp_path, PACK + "    legal_basis: [{law: 广告法, article: 99}]\n")
    with pytest.raises(PackError) as caught:
        load_packs(tmp_path)
    assert caught.value.line == 9 and caught.value.rule_id == "best" and "第九十九条" in str(caught.value)


def test_a_string_legal_basis_is_refused(tmp_path):
    write(tmp_path, PACK.replace("legal_basis:\n  - {law: 广告法, article: 9, clause: 3}", "legal_basis: 广告法 第九条(三)"))
    with pytest.raises(PackError, match=r"demo.yaml:4: legal_basis must be a list of citations"):
        load_packs(tmp_path)


# -- check definitions (rules/checks/*.yaml) -------------------------------------------------------
CHECK = """\
id: price_marks
title: 明码标价
category: price_fraud
rules:
  - id: list_price_below_detail_price
    title: 列表页价格低于详情页价格
    severity: high
    legal_basis: [{law: 明码标价和禁止价格欺诈规定, article: 20, clause: 1}]
    examples:
      hit:
        - {list_price: 99, price: 129}
      miss:
        - {list_price: 129, price: 129}
"""


def checks_dir(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "rules" / "checks"
    folder.mkdir(parents=True)
    (folder / "price_marks.yaml").write_text(text, encoding="utf-8")
    return folder


def test_a_check_definition_loads_and_its_examples_run(tmp_path):
    from netwatch.checks.definitions import load_check_definitions
    from netwatch.checks.examples import run_check_examples

    definitions = load_check_definitions(checks_dir(tmp_path, CHECK))
    rule = definitions["price_marks"].rule("list_price_below_detail_price")
    assert rule.severity == "high" and rule.legal_basis == "《明码标价和禁止价格欺诈规定》第二十条第（一）项"
    assert run_check_examples(definitions) == (2, [])


@pytest.mark.parametrize("broken,line,words", [
    (CHECK.replace("article: 20, clause: 1", "article: 20, clause: 4"), 8, "has 3 clause(s), not （四）"),
    (CHECK.replace("明码标价和禁止价格欺诈规定, article", "价格欺诈规定, article"), 8, "unknown law '价格欺诈规定'"),
    (CHECK.replace("    severity: high\n", ""), 5, "missing required key 'severity'"),
    (CHECK.replace("severity: high", "severity: urgent"), 7, "severity 'urgent' is not one of"),
])
def test_a_broken_check_definition_names_file_line_and_rule(tmp_path, broken, line, words):
    from netwatch.checks.definitions import load_check_definitions

    folder = checks_dir(tmp_path, broken)
    with pytest.raises(PackError) as caught:
        load_check_definitions(folder)
    assert f"{folder / 'price_marks.yaml'}:{line}:" in str(caught.value) and words in str(caught.value)
    assert caught.value.rule_id == "list_price_below_detail_price"


def test_rules_test_reports_a_failing_check_example_with_file_and_line(tmp_path):
    folder = checks_dir(tmp_path, CHECK.replace("- {list_price: 129, price: 129}", "- {list_price: 99, price: 129}"))
    result = CliRunner().invoke(cli, ["rules", "--rules-dir", str(folder.parent), "test"])
    assert result.exit_code == 1, result.output
    assert f"FAIL {folder / 'price_marks.yaml'}:13: check price_marks rule list_price_below_detail_price: " \
           "expected no hit" in result.output
    assert "2 examples, 1 failed" in result.output


def test_the_review_signals_citations_are_checked(tmp_path):
    from netwatch.analysis.reviews import SignalConfigError, load_signal_config
    from netwatch.analysis.reviews.config import default_path

    path = tmp_path / "signals.yaml"
    path.write_text(default_path().read_text(encoding="utf-8").replace("article: 17}", "article: 170}"), encoding="utf-8")
    with pytest.raises(SignalConfigError, match=r"signals\.yaml:\d+: legal_basis: 电子商务法 has no article 170"):
        load_signal_config(path)
    assert load_signal_config().legal_basis == "《电子商务法》第十七条；《反不正当竞争法》第八条"
