from __future__ import annotations

import os
from pathlib import Path

import yaml

from stockbridge.config import EXAMPLE_CONFIG, load_config
from stockbridge.engine.config_source import ConfigSource


def _touch_later(path: Path, data: object) -> None:
    before = path.stat().st_mtime_ns
    path.write_text(yaml.safe_dump(data))
    os.utime(path, ns=(before + 10**9, before + 10**9))


def test_a_changed_file_reloads_and_a_broken_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "stockbridge.yaml"
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    path.write_text(yaml.safe_dump(data))
    source = ConfigSource(load_config(path), path, check_every_s=0)
    assert "Royal Mail Tracked 24" not in source.current().orders.ship_methods

    data["orders"]["ship_methods"]["Royal Mail Tracked 24"] = "STD"
    _touch_later(path, data)
    assert source.current().orders.ship_methods["Royal Mail Tracked 24"] == "STD"
    assert source.generation == 1

    data["orders"]["poll_s"] = -5
    _touch_later(path, data)
    assert source.current().orders.ship_methods["Royal Mail Tracked 24"] == "STD"
    assert source.generation == 1
