"""Migration 0010 gives the exceptions already there their first episode, begun when first seen and
counting every raise so far; an open one is then alerted like a new one (both DBs)."""

from __future__ import annotations

from datetime import timedelta

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from tests.factories import T0, config

from stockbridge.domain.alerting import due_alerts
from stockbridge.store import alerts_repo
from stockbridge.store.bookkeeping import list_exceptions
from stockbridge.store.db import alembic_config, upgrade


def test_upgrade_gives_existing_exceptions_their_first_episode(engine: Engine) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        before = ScriptDirectory.from_config(cfg).get_revision("0009").down_revision
        assert isinstance(before, str)
        command.downgrade(cfg, before)
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO exceptions (type, entity, owner, state, detail, count, first_seen, last_seen) "
                "VALUES ('drift', 'sku:MUG@ims', 'operations', 'open', 'off', 7, :first, :last)"
            ),
            {"first": T0, "last": T0 + timedelta(hours=2)},
        )
    upgrade(engine)
    with engine.connect() as c:
        (record,) = list_exceptions(c)
        seen = alerts_repo.open_exceptions(c)
    assert (record.episode, record.opened_at, record.episode_count, record.count) == (1, T0, 7, 7)
    (due,) = due_alerts(seen, config().alerts.policy(), T0 + timedelta(hours=3))
    assert due.level == 0
