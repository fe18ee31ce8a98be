"""Bearer tokens for the admin API."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from stockbridge.cli.base import (
    DEFAULT_CONFIG,
    ConfigOption,
    app,
    console,
    engine_for,
    err,
    load,
)
from stockbridge.store.tokens_repo import Role

token_app = typer.Typer(help="Bearer tokens for the admin API (status, metrics, jobs).", no_args_is_help=True)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="Who or what holds it, e.g. ops-laptop.")],
    role: Annotated[Role, typer.Option(help="viewer: status, metrics; operator: also jobs; admin.")],
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Create a token and print it once: only its hash is kept, so it cannot be shown again."""
    from stockbridge.engine.clock import SystemClock
    from stockbridge.store import tokens_repo

    engine = engine_for(load(config))
    try:
        with engine.begin() as c:
            token = tokens_repo.create_token(c, name=name, role=role, now=SystemClock().now())
    except ValueError as exc:  # the name is taken, empty or too long
        err.print(str(exc))
        raise typer.Exit(1) from None
    err.print(f"token {name!r} ({role.value}); store it now, it is not shown again:")
    print(token)


@token_app.command("list")
def token_list(config: ConfigOption = DEFAULT_CONFIG, as_json: bool = typer.Option(False, "--json")) -> None:
    """Tokens by name and role (never the tokens themselves), revoked ones included."""
    from stockbridge.store import tokens_repo

    engine = engine_for(load(config))
    with engine.begin() as c:
        records = tokens_repo.list_tokens(c)
    rows = [
        {
            "name": r.name,
            "role": r.role.value,
            "key": r.key,
            "created_at": r.created_at.isoformat(),
            "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
        }
        for r in records
    ]
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("name", "role", "key", "created", "revoked", title="admin tokens")
    for row in rows:
        table.add_row(*(str(row[k] or "") for k in ("name", "role", "key", "created_at", "revoked_at")))
    console.print(table)


@token_app.command("revoke")
def token_revoke(name: str, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Revoke the active token with this name; it is refused from the next request on."""
    from stockbridge.engine.clock import SystemClock
    from stockbridge.store import tokens_repo

    engine = engine_for(load(config))
    with engine.begin() as c:
        count = tokens_repo.revoke_token(c, name, SystemClock().now())
    if not count:
        err.print(f"no active token named {name!r}")
        raise typer.Exit(1)
    console.print(f"revoked {name!r}")
