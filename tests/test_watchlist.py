"""Watchlist CRUD and import on SQLite and PostgreSQL: targets kept in the store, tags select them,
a bad import line is named and changes nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from netwatch.cli.nightly import watch
from netwatch.ops.watchlist import (
    WatchlistError,
    add_target,
    import_targets,
    list_targets,
    make_spec,
    open_engine,
    remove_target,
    set_enabled,
    target_tags,
)


@pytest.fixture
def engine(db_url):
    """The store with an empty watchlist (the PostgreSQL schema lives for the whole session)."""
    engine = open_engine(db_url)
    with engine.begin() as conn:
        for table in ("nightly_target_runs", "run_locks", "watch_targets"):
            conn.execute(sa.text(f"DELETE FROM {table}"))
    yield engine
    engine.dispose()


def test_add_list_remove(engine):
    add_target(engine, make_spec("netmall", profile="netmall", url="http://127.0.0.1:8000", region="海淀",
                                 tags="nightly;campaign-双十一", priority=5))
    add_target(engine, make_spec("tea-shop", url="http://127.0.0.2:8000/", tags=["nightly"]))
    add_target(engine, make_spec("campaign-only", url="http://127.0.0.3:8000/", tags="campaign-双十一"))

    assert [t.name for t in list_targets(engine)] == ["netmall", "campaign-only", "tea-shop"]  # priority first
    nightly = list_targets(engine, "nightly")
    assert [t.name for t in nightly] == ["netmall", "tea-shop"]
    assert target_tags(nightly[0]) == ["campaign-双十一", "nightly"]
    assert nightly[0].kind == "profile" and nightly[0].region == "海淀"
    assert nightly[1].kind == "url" and nightly[1].region == "unassigned"
    assert list_targets(engine, "night") == []  # a tag is matched whole, not as a substring
    assert [t.name for t in list_targets(engine, "campaign-双十一")] == ["netmall", "campaign-only"]

    with pytest.raises(WatchlistError, match="already on the watchlist"):
        add_target(engine, make_spec("netmall", url="http://example.org/"))

    assert set_enabled(engine, "tea-shop", False)
    assert [t.name for t in list_targets(engine, "nightly", enabled_only=True)] == ["netmall"]
    assert remove_target(engine, "netmall") and not remove_target(engine, "netmall")
    assert [t.name for t in list_targets(engine)] == ["campaign-only", "tea-shop"]


@pytest.mark.parametrize(("fields", "message"), [
    ({"name": ""}, "needs a name"),
    ({"name": "x"}, "needs a site profile or a URL"),
    ({"name": "x", "url": "ftp://example.org"}, "not an http"),
    ({"name": "x", "profile": "no-such-profile"}, "no site profile 'no-such-profile'"),
    ({"name": "x", "url": "http://a.example", "priority": "high"}, "priority 'high'"),
    ({"name": "x", "url": "http://a.example", "enabled": "maybe"}, "enabled must be yes or no"),
    ({"name": "x", "url": "http://a.example", "region": "../etc"}, "region"),
])
def test_bad_targets_are_refused(fields, message):
    name = fields.pop("name")
    with pytest.raises(WatchlistError, match=message):
        make_spec(name, **fields)


def test_import_csv_and_yaml_add_then_update(engine, tmp_path):
    csv_file = tmp_path / "bureau.csv"
    rows = ["name,profile,url,region,tags,priority,enabled"]
    rows += [f"site-{n},,http://shop{n}.example/,district-{n % 3},nightly,{n % 5},yes" for n in range(200)]
    rows.append("netmall,netmall,http://127.0.0.1:8000,海淀,nightly;campaign-双十一,9,")
    # Excel on Chinese Windows saves CSV with a BOM.
    csv_file.write_text("\n".join(rows) + "\n", encoding="utf-8-sig")
    result = import_targets(engine, csv_file)
    assert (result.added, result.updated) == (201, 0)
    targets = {t.name: t for t in list_targets(engine)}
    assert len(targets) == 201
    assert targets["site-7"].region == "district-1" and targets["site-7"].priority == 2
    assert targets["netmall"].enabled and target_tags(targets["netmall"]) == ["campaign-双十一", "nightly"]

    yaml_file = tmp_path / "update.yaml"
    yaml_file.write_text(
        "targets:\n"
        "  - {name: site-7, url: 'http://shop7.example/', region: 朝阳, tags: [nightly, food], enabled: no}\n"
        "  - name: new-site\n"
        "    url: http://new.example/\n", encoding="utf-8")
    result = import_targets(engine, yaml_file)
    assert (result.added, result.updated) == (1, 1)
    targets = {t.name: t for t in list_targets(engine)}
    assert len(targets) == 202
    assert targets["site-7"].region == "朝阳" and not targets["site-7"].enabled
    assert target_tags(targets["site-7"]) == ["food", "nightly"]


def test_import_error_names_file_and_line_and_changes_nothing(engine, tmp_path):
    add_target(engine, make_spec("keep-me", url="http://keep.example/", region="old"))
    bad = tmp_path / "bad.csv"
    bad.write_text("name,url,region\nkeep-me,http://keep.example/,new\nbroken,notaurl,x\n", encoding="utf-8")
    with pytest.raises(WatchlistError, match=r"bad\.csv line 3: target 'broken'"):
        import_targets(engine, bad)
    assert [(t.name, t.region) for t in list_targets(engine)] == [("keep-me", "old")]

    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("- name: a\n  url: http://a.example/\n- name: b\n  colour: red\n  url: http://b.example/\n")
    with pytest.raises(WatchlistError, match=r"bad\.yaml line 3: unknown key\(s\) colour"):
        import_targets(engine, bad_yaml)

    twice = tmp_path / "twice.csv"
    twice.write_text("name,url\na,http://a.example/\na,http://b.example/\n")
    with pytest.raises(WatchlistError, match=r"twice\.csv line 3: target 'a' is listed twice \(first at .*line 2\)"):
        import_targets(engine, twice)
    assert len(list_targets(engine)) == 1


def test_watch_commands(db_url, engine, tmp_path):
    runner = CliRunner()
    env = {"NETWATCH_DB_URL": db_url}
    added = runner.invoke(watch, ["add", "tea", "--url", "http://tea.example/", "--region", "东城", "--tag", "nightly"],
                          env=env)
    assert added.exit_code == 0, added.output
    file = tmp_path / "list.csv"
    file.write_text("name,url,tags\nb,http://b.example/,nightly\nc,http://c.example/,weekly\n", encoding="utf-8")
    imported = runner.invoke(watch, ["import", str(file)], env=env)
    assert imported.exit_code == 0 and "2 added" in imported.output
    listed = runner.invoke(watch, ["list", "--tag", "nightly", "--json"], env=env)
    assert listed.exit_code == 0
    assert [line.split('"name": "')[1].split('"')[0] for line in listed.output.splitlines()] == ["b", "tea"]
    removed = runner.invoke(watch, ["remove", "b", "nope"], env=env)
    assert removed.exit_code == 1 and "not on the watchlist: nope" in removed.output
    broken = tmp_path / "broken.csv"
    broken.write_text("name,url\nx,\n", encoding="utf-8")
    failed = runner.invoke(watch, ["import", str(broken)], env=env)
    assert failed.exit_code == 1 and "broken.csv line 2" in failed.output and "nothing was imported" in failed.output
