"""What connectors take from a far end's headers is bounded (docs/security.md, API10)."""

from __future__ import annotations

import pytest

from stockbridge.connectors.http import MAX_RETRY_AFTER_S, parse_retry_after


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        ("0.5", 0.5),
        ("-3", 0.0),
        ("inf", MAX_RETRY_AFTER_S),
        ("1e308", MAX_RETRY_AFTER_S),
        ("nan", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_a_bounded_number_of_seconds(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds
