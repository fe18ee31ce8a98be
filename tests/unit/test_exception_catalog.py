"""The exception catalogue is the one list: config defaults, the raising code and the guide follow it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from stockbridge.config import EXAMPLE_CONFIG, Owners, load_config
from stockbridge.domain.exception_catalog import CATALOG, default_owners, kind_of
from stockbridge.guide import generated_section, render_ownership
from stockbridge.store.bookkeeping import raise_exception

OPERATING_GUIDE = Path(__file__).parents[2] / "docs" / "operating.md"


def test_every_catalogued_type_has_its_default_owner_in_the_config_and_nothing_else_does() -> None:
    configured = {name: value for name, value in Owners().model_dump().items() if name != "default"}
    assert configured == default_owners()


def test_each_kind_says_what_it_means_how_to_check_and_how_to_fix() -> None:
    for kind in CATALOG:
        assert all((kind.meaning, kind.check, kind.fix, kind.entity)), kind.type
        assert kind_of(kind.type) is kind


def test_an_uncatalogued_type_cannot_be_raised(engine: Engine) -> None:
    with engine.begin() as c, pytest.raises(ValueError, match=r"not in domain/exception_catalog\.py"):
        raise_exception(
            c, type="made_up", entity="x", owner="ops", detail="", now=datetime(2026, 1, 1, tzinfo=UTC)
        )


def test_the_operating_guide_carries_what_docs_ownership_prints_for_the_example_configuration() -> None:
    expected = render_ownership(load_config(EXAMPLE_CONFIG))
    section = generated_section(OPERATING_GUIDE.read_text(encoding="utf-8"))
    assert section is not None, "docs/operating.md lost its generated block"
    assert section == expected, "run: stockbridge docs ownership --write docs/operating.md"


def test_the_guide_names_every_kind_with_the_configured_owner() -> None:
    config = load_config(EXAMPLE_CONFIG)
    moved = config.model_copy(update={"owners": Owners(drift="warehouse_team")})
    text = render_ownership(moved)
    for kind in CATALOG:
        assert f"| `{kind.type}` |" in text
    assert "| `drift` | warehouse_team |" in text
