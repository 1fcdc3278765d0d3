"""`netwatch schedule show`: the cron line and systemd units that run `netwatch nightly`."""

from __future__ import annotations

from click.testing import CliRunner

from netwatch.cli.nightly import schedule


def test_cron_line_runs_nightly_at_the_given_time(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(schedule, ["show", "--at", "03:30", "--tag", "campaign-双十一",
                                           "--db", "postgresql+psycopg://netwatch@db/netwatch"])
    assert result.exit_code == 0, result.output
    line = result.output.strip()
    assert line.startswith("30 3 * * * ")
    assert f"cd {tmp_path} &&" in line
    assert "NETWATCH_DB_URL=postgresql+psycopg://netwatch@db/netwatch" in line
    assert "nightly --tag 'campaign-双十一' --outbox " + str(tmp_path / "outbox") in line  # quoted for the shell
    assert line.endswith("# netwatch nightly campaign-双十一")


def test_bad_time_is_refused():
    result = CliRunner().invoke(schedule, ["show", "--at", "25:00"])
    assert result.exit_code == 2 and "'25:00' is not HH:MM" in result.output


def test_systemd_units():
    result = CliRunner().invoke(schedule, ["show", "--systemd", "--at", "01:15"])
    assert result.exit_code == 0
    assert "OnCalendar=*-*-* 01:15:00" in result.output and "Persistent=true" in result.output
    assert "ExecStart=/bin/sh -c " in result.output and "nightly --tag nightly" in result.output
    # systemctl stop: SIGTERM to netwatch alone (exec'd by the shell), which stops its crawl child itself
    assert "KillMode=mixed" in result.output and " && exec " in result.output
