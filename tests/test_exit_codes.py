"""The exit-code table is one module (netwatch/exits.py) and the README documents every code in it."""

from __future__ import annotations

import re

from conftest import PROJECT_DIR

import netwatch.exits as exits


def test_every_exit_code_is_documented_in_the_readme_and_none_twice():
    codes = {name: value for name, value in vars(exits).items() if name.startswith("EXIT_")}
    assert len(set(codes.values())) == len(codes), f"two names share a code: {codes}"
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Exit codes", 1)[1].split("\n#", 1)[0]
    documented = {int(code) for cell in re.findall(r"^\| ([\d, ]+) \|", section, flags=re.M)
                  for code in cell.split(",")}
    assert documented == set(codes.values()), (sorted(documented), codes)
