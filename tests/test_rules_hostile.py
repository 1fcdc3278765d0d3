"""Rule packs that could hurt a crawl (issue #14): one-character keywords, a key written twice, regexes that
backtrack for minutes; each refused at load with file:line and rule, or run in linear time on RE2; and a
broken pack stops `netwatch crawl` before it starts, with one line."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from netwatch import config
from netwatch.checks.text import PackError, RuleEngine, load_packs
from netwatch.checks.text.packs import load_pack

MIN_KEYWORD_CHARS = 2

PACK = """\
id: demo
title: Demo
category: fake_reviews
legal_basis: [{law: 电子商务法, article: 17}]
fields: [title, review]
rules:
  - id: first
    keywords: [好评返现]
  - id: second
    keywords: [犀角]
"""


def write(folder: Path, text: str, name: str = "demo.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.mark.parametrize("keyword", ["的", "a", "Ａ", "' x '"])
def test_one_character_keyword_is_refused_with_file_line_and_rule(tmp_path, keyword):
    path = write(tmp_path, PACK.replace("keywords: [犀角]", f"keywords: [犀角, {keyword}]"))
    with pytest.raises(PackError) as caught:
        load_packs(tmp_path)
    assert str(caught.value).startswith(f"{path}:10: rule 'second': keyword ")
    assert f"shorter than {MIN_KEYWORD_CHARS} characters" in str(caught.value)


def test_no_shipped_pack_has_a_one_character_keyword():
    # load_packs refuses one: loading the shipped packs is the check
    packs = load_packs(config.shipped_rules_dir())
    assert min(len(k) for pack in packs for rule in pack.rules for k in rule.keywords) >= MIN_KEYWORD_CHARS


def test_a_key_written_twice_is_refused_with_both_lines(tmp_path):
    path = write(tmp_path, PACK.replace("keywords: [犀角]", "keywords: [犀角]\n    keywords: [象牙]"))
    with pytest.raises(PackError) as caught:
        load_pack(path)
    assert caught.value.line == 11 and str(caught.value).startswith(f"{path}:11: ")
    assert "duplicate key 'keywords' (first at line 10)" in str(caught.value)


def test_a_pack_key_written_twice_is_refused(tmp_path):
    path = write(tmp_path, PACK.replace("title: Demo\n", "title: Demo\ntitle: Again\n"))
    with pytest.raises(PackError, match=r"demo.yaml:3: .*duplicate key 'title' \(first at line 2\)"):
        load_pack(path)


@pytest.mark.parametrize("pattern", [r"(?<![0-9])100%", r"(好评)\1", r"好评(?=返现)"])
def test_regex_re2_cannot_run_is_refused_with_the_reason(tmp_path, pattern):
    path = write(tmp_path, PACK.replace("keywords: [犀角]", f"regex: ['{pattern}']"))
    with pytest.raises(PackError) as caught:
        load_pack(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:10: rule 'second': regex ") and "cannot run in linear time on RE2 (" in message


def test_catastrophic_regex_runs_in_linear_time(tmp_path):
    # `(a|aa)+b` backtracks exponentially under `re`: 38 a's before a miss take seconds, 42 take 40 s.
    write(tmp_path, PACK.replace("keywords: [犀角]", "regex: ['(a|aa)+b']"))
    engine = RuleEngine.from_dir(tmp_path)
    text = "a" * 38 + "c ab"  # the "ab" at the end makes every prefilter pass the regex on
    started = time.process_time()
    hits = engine.check(text, "title")
    took = time.process_time() - started
    assert [(h.rule, h.match) for h in hits] == [("second", "ab")]
    assert took < 0.5, f"{took:.1f} s"


def test_hit_group_is_the_hit_and_the_rest_context(tmp_path):
    write(tmp_path, PACK.replace("keywords: [犀角]", "regex: ['(?:^|[^0-9.])(?P<hit>100\\s?%)']"))
    engine = RuleEngine.from_dir(tmp_path)
    assert [(h.match, h.start) for h in engine.check("效果100%保证", "title")] == [("100%", 2)]
    assert engine.check("放大1000%", "title") == [] and engine.check("1.100%", "title") == []


def test_broken_pack_fails_a_crawl_before_it_starts_in_one_line(tmp_path):
    path = write(tmp_path, PACK.replace("keywords: [犀角]", "keywords: [犀角]\n    keywords: [的]"))
    env = {**os.environ, "NETWATCH_RULES_DIR": str(tmp_path)}
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "netwatch.cli", "crawl", "generic", "-a", "start_url=http://127.0.0.1:1/"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode not in (0, 3), result.stderr  # 3 would be "no items": the crawl ran
    lines = result.stderr.strip().splitlines()
    assert lines == [f"Error: rule pack unusable: {path}:11: invalid YAML: duplicate key 'keywords' (first at line 10)"], \
        result.stderr
    assert time.monotonic() - started < 60
