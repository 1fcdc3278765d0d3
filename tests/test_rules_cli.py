"""`netwatch rules list | test | check`: output, JSON shapes and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from netwatch.cli import cli

HIT_KEYS = {"pack", "rule", "category", "severity", "field", "start", "end", "match", "context", "legal_basis", "normalised", "steps"}
PACK = """\
id: demo
title: Demo
category: banned_goods
legal_basis: [{{law: 电子商务法, article: 13}}]
rules:
  - id: ivory
    keywords: [象牙]
    examples:
      hit: [象牙手镯]
      miss: [{miss}]
"""


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, ["rules", *args], input=input, catch_exceptions=False)


def test_list_shows_every_pack_with_counts():
    result = run("list")
    assert result.exit_code == 0, result.output
    for pack in ("banned_goods", "ad_absolute_terms", "cure_claims", "fake_reviews", "unfair_terms", "counterfeit",
                 "ad_state_endorsement", "drugs_online", "efficacy_claims", "fake_certificates", "protected_species", "unsafe_food", "hazardous_goods", "unsafe_cosmetics"):
        assert pack in result.output
    assert "《广告法》第九条第（三）项" in result.output
    assert "14 packs" in result.output


def test_test_passes_on_the_shipped_packs_and_one_pack():
    result = run("test")
    assert result.exit_code == 0, result.output
    assert ", 0 failed" in result.output
    single = run("test", "counterfeit")
    assert single.exit_code == 0 and int(single.output.split()[0]) < int(result.output.split()[-4])


def test_test_exits_1_on_a_failing_example(tmp_path):
    (tmp_path / "demo.yaml").write_text(PACK.format(miss="象牙白"), encoding="utf-8")
    result = run("--rules-dir", str(tmp_path), "test")
    assert result.exit_code == 1
    assert "FAIL pack demo rule ivory: expected no hit" in result.output and "'象牙白'" in result.output
    assert "2 examples, 1 failed" in result.output


def test_unknown_pack_and_broken_pack_are_clear_errors(tmp_path):
    result = run("test", "no_such_pack")
    assert result.exit_code == 1 and "no pack 'no_such_pack'" in result.output
    (tmp_path / "demo.yaml").write_text(PACK.format(miss="x").replace("banned_goods", "nope"), encoding="utf-8")
    broken = run("--rules-dir", str(tmp_path), "list")
    assert broken.exit_code == 1 and "demo.yaml:3" in broken.output and "category" in broken.output


def test_check_prints_hits_with_context():
    result = run("check", "限时 象@牙手镯 特价")
    assert result.exit_code == 0
    assert "banned_goods.protected_wildlife" in result.output and "象@牙" in result.output
    assert "《电子商务法》第十三条" in result.output
    assert "no hits" in run("check", "象牙白 花瓶").output


def test_check_json_shape():
    result = run("check", "--json", "--field", "description", "--category", "food", "七天根治咳嗽 象牙")
    payload = json.loads(result.output)
    assert list(payload) == ["hits"]
    assert [h["category"] for h in payload["hits"]] == ["false_advertising", "banned_goods"]
    for hit in payload["hits"]:
        assert set(hit) == HIT_KEYS and hit["field"] == "description"
    assert json.loads(run("check", "--json", "无关").output) == {"hits": []}
    # A medical device may claim treatment.
    device = run("check", "--json", "--field", "description", "--category", "medical_device", "用于治疗颈椎病")
    assert json.loads(device.output) == {"hits": []}


def test_check_file_json_is_one_object_per_line_in_order(tmp_path):
    lines = ["象牙白 花瓶", "高仿LV 包", "", "好评返现", "全网第一 NO.1"]
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run("check", "--json", "--file", str(path))
    assert result.exit_code == 0
    objects = [json.loads(line) for line in result.output.splitlines()]
    assert [o["line"] for o in objects] == [1, 2, 3, 4, 5]
    assert [len(o["hits"]) for o in objects] == [0, 1, 0, 1, 2]
    assert objects[1]["hits"][0]["match"] == "高仿" and set(objects[1]["hits"][0]) == HIT_KEYS
    plain = run("check", "--file", str(path))
    assert "line 2:" in plain.output and "line 1:" not in plain.output


def test_check_file_from_stdin_and_bad_input(tmp_path):
    result = run("check", "--json", "--file", "-", input="象牙\n无关\n")
    assert [json.loads(line)["line"] for line in result.output.splitlines()] == [1, 2]
    bad = tmp_path / "bad.txt"
    bad.write_bytes("象牙\n".encode() + b"\xff\xfe broken\n")
    failed = run("check", "--file", str(bad))
    assert failed.exit_code == 1 and f"{bad}:2: not UTF-8" in failed.output
    assert run("check").exit_code == 2  # neither TEXT nor --file
    assert run("check", "--file", str(tmp_path / "missing.txt")).exit_code == 1


def test_check_explain_shows_the_normalised_text():
    result = run("check", "--explain", "ＮＯ．１ 國家級")
    assert "normalised: no.1 国家级" in result.output


def test_rules_command_does_not_import_scrapy():
    code = "import sys; from netwatch.cli import main; sys.argv=['netwatch','rules','check','象牙']; " \
           "import netwatch.cli.rules\ntry:\n    main()\nexcept SystemExit:\n    pass\nprint('scrapy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"
