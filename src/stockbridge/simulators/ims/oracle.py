"""Oracle-flavoured SQL functions for SuiteQL on SQLite, and NetSuite's rendering of values.

Dates are stored as text: timestamps 'YYYY-MM-DD HH:MM:SS' (UTC), dates 'YYYY-MM-DD', so text
comparison orders them. `TO_DATE` / `TO_TIMESTAMP` return that same text, which is what makes
`lastmodifieddate >= TO_DATE('2026-11-26 09:00:00', 'YYYY-MM-DD HH24:MI:SS')` compare correctly.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime

STORED_TIMESTAMP = "%Y-%m-%d %H:%M:%S"
STORED_DATE = "%Y-%m-%d"
_ORACLE_FORMAT = re.compile(r'"[^"]*"|YYYY|HH24|HH12|HH|MM|DD|MI|SS|.', re.IGNORECASE | re.DOTALL)
_STRFTIME = {
    "YYYY": "%Y", "HH24": "%H", "HH12": "%I", "HH": "%I", "MM": "%m", "DD": "%d", "MI": "%M", "SS": "%S",
}  # fmt: skip
_TIME_CODES = ("%H", "%I", "%M", "%S")


def render_value(value: object) -> str | None:
    """Render like NetSuite's SuiteQL REST answers: every value a string, NULL omitted."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return format(value, ".15g")
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _strftime_format(oracle_format: str) -> str:
    """An Oracle format model ('YYYY-MM-DD"T"HH24:MI:SS') as a strftime pattern."""
    out: list[str] = []
    for token in _ORACLE_FORMAT.findall(oracle_format):
        if token.startswith('"') and token.endswith('"') and len(token) >= 2:
            out.append(token[1:-1].replace("%", "%%"))
        else:
            out.append(_STRFTIME.get(token.upper(), token.replace("%", "%%")))
    return "".join(out)


def _parse_stored(text: str) -> datetime | None:
    for fmt in (STORED_TIMESTAMP, STORED_DATE):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def _parse(name: str, text: object, fmt: object) -> tuple[datetime, bool]:
    """Parse `text` with the Oracle format `fmt` (None: the stored formats); (value, has a time)."""
    if fmt is None:
        parsed = _parse_stored(str(text))
        if parsed is None:
            raise ValueError(f"{name}: {text!r} is not 'YYYY-MM-DD[ HH24:MI:SS]'")
        return parsed, len(str(text)) > 10
    pattern = _strftime_format(str(fmt))
    try:
        parsed = datetime.strptime(str(text), pattern)
    except ValueError as exc:
        raise ValueError(f"{name}: {text!r} does not match format {fmt!r}") from exc
    return parsed, any(code in pattern for code in _TIME_CODES)


def _to_date(text: object, fmt: object = "YYYY-MM-DD") -> str | None:
    """A date-only format gives 'YYYY-MM-DD' (so `trandate = TO_DATE(...)` works), else a timestamp."""
    if text is None:
        return None
    parsed, has_time = _parse("TO_DATE", text, fmt)
    return parsed.strftime(STORED_TIMESTAMP if has_time else STORED_DATE)


def _to_timestamp(text: object, fmt: object = None) -> str | None:
    """Always a full 'YYYY-MM-DD HH:MM:SS' (midnight when the text has no time)."""
    if text is None:
        return None
    parsed, _ = _parse("TO_TIMESTAMP", text, fmt)
    return parsed.strftime(STORED_TIMESTAMP)


def _to_char(value: object, fmt: object = None) -> str | None:
    if value is None:
        return None
    if fmt is not None and isinstance(value, str):
        parsed = _parse_stored(value)
        if parsed is not None:
            return parsed.strftime(_strftime_format(str(fmt)))
    return render_value(value)


def _to_number(value: object) -> float | int | None:
    if value is None:
        return None
    number = float(str(value))
    return int(number) if number.is_integer() else number


def register_functions(conn: sqlite3.Connection) -> None:
    """Oracle functions commonly used in SuiteQL, over the simulator's ISO-text dates."""
    conn.create_function("NVL", 2, lambda a, b: b if a is None else a, deterministic=True)
    conn.create_function("NVL2", 3, lambda a, b, c: c if a is None else b, deterministic=True)
    conn.create_function("TO_DATE", 1, _to_date, deterministic=True)
    conn.create_function("TO_DATE", 2, _to_date, deterministic=True)
    conn.create_function("TO_TIMESTAMP", 1, _to_timestamp, deterministic=True)
    conn.create_function("TO_TIMESTAMP", 2, _to_timestamp, deterministic=True)
    conn.create_function("TO_CHAR", 1, _to_char, deterministic=True)
    conn.create_function("TO_CHAR", 2, _to_char, deterministic=True)
    conn.create_function("TO_NUMBER", 1, _to_number, deterministic=True)
