"""`netwatch serve` (the analysts' workbench) and `netwatch users` (its accounts)."""

from __future__ import annotations

import click

from netwatch.cli.leads import db_option, open_store
from netwatch.cli.options import WORKBENCH_PORT
from netwatch.domain.vocab import ROLES


@click.group()
def users() -> None:
    """Workbench accounts: analysts (bound to regions) and admins."""


@users.command("add")
@db_option
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="analyst", show_default=True)
@click.option("--region", "regions", multiple=True, help="A region whose leads the analyst sees (e.g. 海淀); repeatable.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              envvar="NETWATCH_NEW_PASSWORD", help="Asked for when not given (or NETWATCH_NEW_PASSWORD).")
def add(db_url, name, role, regions, password) -> None:  # type: ignore[no-untyped-def]
    """Add an account, or change an existing one's password, role and regions."""
    from netwatch.store.users import add_user

    with open_store(db_url) as store:
        account = add_user(store.engine, name, password, role, regions)
    click.echo(f"{account.name}: {account.role}" + (f", {'、'.join(account.regions)}" if account.regions else ""))


@users.command("list")
@db_option
def list_(db_url) -> None:  # type: ignore[no-untyped-def]
    """The accounts with their roles and regions."""
    from netwatch.store.users import list_users

    with open_store(db_url) as store:
        for account in list_users(store.engine):
            click.echo(f"{account.name}\t{account.role}\t{'、'.join(account.regions)}")


@click.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=WORKBENCH_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option("--https-only", is_flag=True, help="Send the session cookie over HTTPS only (behind a TLS proxy).")
def serve(db_url, host, port, https_only) -> None:  # type: ignore[no-untyped-def]
    """The analysts' workbench: lead queue, triage, shops and dashboard in the browser (log in first:
    `netwatch users add NAME --role admin`)."""
    import uvicorn

    from netwatch.cli.options import display_zone
    from netwatch.web.app import create_app

    display_zone()  # a bad NETWATCH_TZ is one line, before the server starts
    with open_store(db_url):
        pass  # creates or upgrades the schema; a bad URL fails here with one line
    click.echo(f"netwatch workbench: http://{host}:{port}/")
    uvicorn.run(create_app(db_url, https_only=https_only), host=host, port=port, log_level="warning")
