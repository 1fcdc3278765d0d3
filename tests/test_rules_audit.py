"""`netwatch rules audit`: precision of the shipped packs on real titles, held to the labels in
tests/realtitles_labels.tsv, and the audit's own reading of texts and labels."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from netwatch.checks.audit import AuditInputError, audit, read_labels, read_texts
from netwatch.checks.text import RuleEngine, default_engine
from netwatch.cli import cli

LABELS = Path(__file__).parent / "realtitles_labels.tsv"
# The real titles are evaluation data that may not be redistributed: they stay beside the worktree.
REALTITLES = Path(os.environ.get("NETWATCH_REALTITLES",
                                 Path(__file__).resolve().parents[1] / "../shared/realtitles/titles_ecommerce_ner.txt"))
MIN_PRECISION = 0.8

PACK = """\
id: demo
title: Demo
category: banned_goods
legal_basis: [{law: 电子商务法, article: 13}]
rules:
  - id: ivory
    keywords: [象牙]
    exclusions: [象牙白]
  - id: horn
    keywords: [犀角]
"""


@pytest.fixture(scope="module")
def real_report():
    if not REALTITLES.exists():
        pytest.skip(f"real titles not found at {REALTITLES} (set NETWATCH_REALTITLES)")
    return audit(default_engine(), read_texts(REALTITLES), read_labels(LABELS))


def test_no_labelled_false_positive_comes_back(real_report):
    back = [(text, rule) for rule, r in real_report.rules.items() for text, _ in r.false_hits]
    assert back == []


def test_no_labelled_true_hit_is_lost(real_report):
    lost = [(label.text, label.rule, label.line) for r in real_report.rules.values() for label in r.lost]
    assert lost == []


def test_every_flagged_title_is_labelled(real_report):
    unlabelled = [f"{text}\t{rule}" for rule, r in real_report.rules.items() for text, _ in r.unlabelled]
    assert unlabelled == [], "label these in tests/realtitles_labels.tsv:\n" + "\n".join(unlabelled)


def test_precision_on_real_titles(real_report):
    assert real_report.true_hits >= 10  # the packs still find real violations there
    assert real_report.precision >= MIN_PRECISION


def test_labels_file_is_well_formed_and_judges_each_pair_once():
    labels = read_labels(LABELS)
    pairs = [(label.text, label.rule) for label in labels]
    assert len(pairs) == len(set(pairs))
    assert all(label.reason for label in labels)
    rules = {f"{pack.id}.{rule.id}" for pack in default_engine().packs for rule in pack.rules}
    assert {label.rule for label in labels} <= rules


@pytest.fixture
def demo_engine(tmp_path):
    (tmp_path / "demo.yaml").write_text(PACK, encoding="utf-8")
    return RuleEngine.from_dir(tmp_path)


def write_labels(path: Path, rows: list[str]) -> Path:
    path.write_text("text\trule\tverdict\treason\n" + "".join(row + "\n" for row in rows), encoding="utf-8")
    return path


def test_audit_counts_true_false_unlabelled_and_lost(demo_engine, tmp_path):
    labels = read_labels(write_labels(tmp_path / "l.tsv", [
        "象牙手镯 象牙\tdemo.ivory\ttrue\t象牙制品",
        "象牙印章\tdemo.ivory\tfalse\t仿制品",
        "犀角杯\tdemo.horn\ttrue\t犀角",
    ]))
    report = audit(demo_engine, ["象牙手镯 象牙", "象牙印章", "象牙筷子", "象牙白衬衫", "牛角梳"], labels)
    ivory = report.rules["demo.ivory"]
    assert (ivory.flagged, ivory.true_hits, len(ivory.false_hits), len(ivory.unlabelled)) == (3, 1, 1, 1)
    assert ivory.unlabelled[0][0] == "象牙筷子" and ivory.precision == 0.5
    assert [label.text for label in report.rules["demo.horn"].lost] == ["犀角杯"]
    assert (report.texts, report.flagged_texts, report.precision) == (5, 3, 0.5)


def test_texts_from_lines_and_from_a_tsv_column(tmp_path):
    plain = tmp_path / "t.txt"
    plain.write_text("\ufeff象牙手镯\n\n牛角梳\n", encoding="utf-8")
    assert read_texts(plain) == ["象牙手镯", "牛角梳"]
    tsv = tmp_path / "t.tsv"
    tsv.write_text("id\ttitle\n1\t象牙手镯\n2\t牛角梳\n", encoding="utf-8")
    assert read_texts(tsv) == ["象牙手镯", "牛角梳"]
    assert read_texts(tsv, "id") == ["1", "2"]
    with pytest.raises(AuditInputError, match=r"t.tsv:1: no column 'name'"):
        read_texts(tsv, "name")


def test_bad_inputs_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes("象牙\n".encode() + b"\xff\xfe\n")
    with pytest.raises(AuditInputError, match=r"bad.txt:2: not UTF-8"):
        read_texts(bad)
    with pytest.raises(AuditInputError, match=r"l.tsv:3: verdict 'maybe'"):
        read_labels(write_labels(tmp_path / "l.tsv", ["象牙\tdemo.ivory\ttrue\tx", "犀角\tdemo.horn\tmaybe\tx"]))
    headerless = tmp_path / "h.tsv"
    headerless.write_text("象牙\tdemo.ivory\ttrue\tx\n", encoding="utf-8")
    with pytest.raises(AuditInputError, match=r"h.tsv:1: the header"):
        read_labels(headerless)


def test_cli_prints_per_rule_report_in_chinese_and_english(tmp_path, demo_engine):
    rules_dir = tmp_path
    texts = tmp_path / "texts.txt"
    texts.write_text("象牙手镯\n象牙筷子\n牛角梳\n", encoding="utf-8")
    labels = write_labels(tmp_path / "labels.tsv", ["象牙手镯\tdemo.ivory\ttrue\t象牙制品"])
    runner = CliRunner()
    zh = runner.invoke(cli, ["rules", "--rules-dir", str(rules_dir), "audit", str(texts), "--labels", str(labels)])
    assert zh.exit_code == 0, zh.output
    assert "精确率" in zh.output and "demo.ivory" in zh.output
    assert "3 条文本，2 条被命中" in zh.output and "待标注 1 个" in zh.output
    assert "象牙筷子\tdemo.ivory\t\t象牙" in zh.output  # ready to paste into the labels file
    en = runner.invoke(cli, ["rules", "--rules-dir", str(rules_dir), "audit", str(texts), "--lang", "en"])
    assert en.exit_code == 0 and "precision" in en.output and "3 texts, 2 flagged" in en.output


def test_cli_exits_1_when_a_false_positive_comes_back(tmp_path, demo_engine):
    texts = tmp_path / "texts.txt"
    texts.write_text("象牙印章\n", encoding="utf-8")
    labels = write_labels(tmp_path / "labels.tsv", ["象牙印章\tdemo.ivory\tfalse\t仿制品", "犀角杯\tdemo.horn\ttrue\t犀角"])
    result = CliRunner().invoke(cli, ["rules", "--rules-dir", str(tmp_path), "audit", str(texts), "--labels", str(labels)])
    assert result.exit_code == 1
    assert "已标注为误报却仍被命中" in result.output and "已标注为正确命中却未再命中" in result.output
    assert f"犀角杯\tdemo.horn\t({labels}:3)" in result.output
