"""Ordinary mistakes at the command line get one clear line and the usage exit code, not a traceback
(issue #14): a crawl without its start URL, an unknown profile, numbers the database cannot hold."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import PROJECT_DIR

from netwatch.exits import EXIT_USAGE

PAGE = str(PROJECT_DIR / "fixtures" / "pages" / "netmall_item.html")


@pytest.mark.parametrize("args,expected", [
    (["crawl", "generic"], "the generic spider needs -a start_url=URL"),
    (["scan", PAGE, "--profile", "nosuch"], "no site profile 'nosuch': known profiles are"),
    (["leads", "set", "12345678901234567890123", "--status", "confirmed"], "is not in the range 1<="),
    (["leads", "show", "12345678901234567890123"], "is not in the range 1<="),
    (["watch", "add", "t1", "--url", "http://127.0.0.1:1/", "--region", "海淀", "--priority",
      "12345678901234567890123"], "is not in the range -2147483648<="),
])
def test_a_mistake_is_one_line_and_exit_2(args, expected, tmp_path):
    done = subprocess.run([sys.executable, "-m", "netwatch.cli", *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={**os.environ,
                                                  "NETWATCH_DB_URL": f"sqlite:///{tmp_path / 'n.db'}"})
    assert done.returncode == EXIT_USAGE, done.stderr
    assert expected in done.stderr
    assert "Traceback" not in done.stderr and "Error" in done.stderr.splitlines()[-1]
