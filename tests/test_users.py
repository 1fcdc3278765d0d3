"""Workbench accounts (#18): argon2id hashes, never the password; roles and regions; one-line errors."""

from __future__ import annotations

import sqlalchemy as sa
from click.testing import CliRunner
from test_store_helpers import store_url  # noqa: F401

from netwatch.cli import cli
from netwatch.store import Store
from netwatch.store.users import authenticate, get_user


def test_users_add_hashes_the_password_and_binds_regions(store_url):
    runner = CliRunner()
    result = runner.invoke(cli, ["users", "add", "李明", "--db", store_url, "--region", "海淀", "--region", "西城"],
                           input="secret-pass\nsecret-pass\n")
    assert result.exit_code == 0 and "李明: analyst, 海淀、西城" in result.output
    with Store(store_url) as store:
        with store.reading() as conn:
            stored = conn.execute(sa.text("SELECT password_hash FROM users")).scalar()
        assert stored.startswith("$argon2id$") and "secret-pass" not in stored
        account = authenticate(store.engine, "李明", "secret-pass")
        assert account is not None and account.scope == ("海淀", "西城")
        assert authenticate(store.engine, "李明", "secret-pasS") is None
        assert authenticate(store.engine, "nobody", "secret-pass") is None
    result = runner.invoke(cli, ["users", "add", "root", "--db", store_url, "--role", "admin", "--password", "admin-pass"])
    assert result.exit_code == 0
    with Store(store_url) as store:
        assert get_user(store.engine, "root").scope is None  # an admin sees every region
    listed = runner.invoke(cli, ["users", "list", "--db", store_url]).output
    assert "李明\tanalyst\t海淀、西城" in listed and "root\tadmin" in listed


def test_users_add_mistakes_are_one_line(store_url):
    runner = CliRunner()
    for args, message in ((["x", "--password", "short"], "at least 8 characters"),
                          (["x", "--password", "long-enough"], "needs at least one --region"),
                          (["x", "--password", "long-enough", "--role", "boss"], "Invalid value for '--role'")):
        result = runner.invoke(cli, ["users", "add", "--db", store_url, *args])
        assert result.exit_code in (1, 2) and message in result.output, result.output
