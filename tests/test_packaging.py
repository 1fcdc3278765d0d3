"""A normal install, not the editable one the tests run in: the wheel carries every module, rule pack and
data file, and an installed netwatch finds its packs and scans a page from any working directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import PROJECT_DIR


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(out), str(PROJECT_DIR)], check=True, capture_output=True)
    (built,) = out.glob("netwatch-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> dict[str, str]:
    """The wheel installed into its own folder (no dependencies: those of the test venv serve), first on the path."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    env = {k: v for k, v in os.environ.items() if k not in ("NETWATCH_RULES_DIR", "NETWATCH_SITES_DIR")}
    env["PYTHONPATH"] = str(target)
    return env


def _shipped(root: Path, pattern: str, package: str) -> set[str]:
    return {f"{package}/{path.relative_to(root).as_posix()}" for path in root.rglob(pattern)
            if "__pycache__" not in path.parts}


def test_wheel_carries_every_module_pack_and_profile(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = (_shipped(PROJECT_DIR / "netwatch", "*.py", "netwatch")
                | _shipped(PROJECT_DIR / "netwatch", "*.yaml", "netwatch")
                | _shipped(PROJECT_DIR / "rules", "*.yaml", "netwatch_rules")
                | _shipped(PROJECT_DIR / "fixtures" / "mall", "*.py", "netwatch_fixtures/mall"))
    missing = sorted(expected - names)
    assert not missing, f"not in the wheel (add the folder to pyproject's packages / package-data): {missing}"


def _netwatch(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netwatch.cli", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_installed_netwatch_finds_its_packs_from_anywhere(installed, tmp_path):
    where = subprocess.run([sys.executable, "-c", "import netwatch, netwatch.config as c; print(netwatch.__file__); "
                            "print(c.rules_dir())"], env=installed, cwd=tmp_path, capture_output=True, text=True)
    module, rules = where.stdout.split()
    site = installed["PYTHONPATH"]
    assert module.startswith(site) and rules.startswith(site), where.stdout  # not the checkout's
    listed = _netwatch(installed, tmp_path, "rules", "list")
    assert listed.returncode == 0, listed.stderr
    assert "banned_goods" in listed.stdout and "ad_absolute_terms" in listed.stdout
    tested = _netwatch(installed, tmp_path, "rules", "test")
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_installed_netwatch_scans_a_saved_page(installed, tmp_path):
    page = tmp_path / "item.html"
    page.write_text("<html><head><title>出售象牙手镯 老料</title></head><body><h1>出售象牙手镯 老料</h1>"
                    "<span class=price>¥1,280.00</span></body></html>", encoding="utf-8")
    scanned = _netwatch(installed, tmp_path, "scan", str(page), "--url", "https://shop.example.cn/item/1", "--json")
    assert scanned.returncode == 0, scanned.stderr
    hits = json.loads(scanned.stdout)["hits"]
    assert {(hit["pack"], hit["rule"]) for hit in hits} >= {("banned_goods", "protected_wildlife")}
