"""The demo's two days: the short one by default, the full one with `--long`; an option given on the
command line changes either, one left out (None) keeps the day's own."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from stockbridge.cli import app
from stockbridge.demo import DemoOptions


def test_the_long_day_is_the_full_size_and_the_short_one_smaller() -> None:
    short, long = DemoOptions(), DemoOptions.long()
    assert (long.skus, long.movements, long.orders, long.store_orders) == (500, 5000, 1000, 100)
    sizes = [(short.skus, long.skus), (short.movements, long.movements), (short.orders, long.orders)]
    assert all(short_size < long_size for short_size, long_size in sizes)
    assert min(short.skus, short.movements, short.orders) > 0
    # The short day still has its unknown and inactive SKUs, and orders in both stores.
    assert min(short.skus * short.unknown_fraction, short.skus * short.inactive_fraction) >= 1
    assert min(short.store_orders, short.magento_store_orders) >= 1


def test_options_left_out_keep_the_days_own() -> None:
    changed = DemoOptions.long(seed=3, orders=None, skus=2000)
    assert (changed.seed, changed.orders, changed.skus, changed.movements) == (3, 1000, 2000, 5000)
    assert DemoOptions().with_changes(movements=None, quiet=True) == DemoOptions(quiet=True)


def test_the_cli_passes_long_and_its_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[DemoOptions] = []

    def fake_run(options: DemoOptions) -> dict[str, object]:
        seen.append(options)
        return {"drift": 0, "channels": {}, "metrics": {"answered": True}}

    monkeypatch.setattr("stockbridge.demo.run_demo", fake_run)
    monkeypatch.setattr("stockbridge.logs.configure_logging", lambda *_: None)  # leave logging as it is
    result = CliRunner().invoke(app, ["demo", "--long", "--orders", "10", "--json"])
    assert result.exit_code == 0, result.output
    assert seen == [DemoOptions.long(orders=10, quiet=True)]
    CliRunner().invoke(app, ["demo", "--json"])
    assert seen[1] == DemoOptions(quiet=True)
