"""SuiteQL on SQLite: SELECT-only validation, execution with paging, NetSuite-style rendering.

Also compiles the record API's collection filter (`GET /inventoryItem?q=itemId IS "SKU-1"`).

The SELECT-only guard has two layers: a tokenizer check (one statement that starts with SELECT)
and, authoritative, an sqlite3 authorizer that allows only SELECT, reads of the SuiteQL tables
and function calls while the query is prepared. Anything else makes SQLite refuse the statement.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from .oracle import register_functions, render_value

SUITEQL_TABLES = frozenset(
    {"item", "kititemmember", "shipitem", "customer", "location", "inventoryitemlocations", "transaction",
     "transactionline"}
)  # fmt: skip
MAX_PAGE = 1000
_DENIED_FUNCTIONS = frozenset({"load_extension"})
_PROGRESS_STEP = 10_000
_PROGRESS_BUDGET = 10_000  # x _PROGRESS_STEP virtual-machine steps (about a second of work)
__all__ = ["SuiteQLError", "execute", "prepare", "register_functions", "render_value"]
_SEARCH_ERROR = "Invalid search query. Detailed unprocessed description follows. Search error occurred: "


class SuiteQLError(Exception):
    """A refused query. `code` is the NetSuite error code to answer with (400)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


# --- tokenizer ---------------------------------------------------------------------------------
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>--[^\n]*|/\*.*?\*/)
  | (?P<string>'(?:[^']|'')*')
  | (?P<qident>"(?:[^"]|"")*")
  | (?P<word>[A-Za-z_][A-Za-z0-9_$#]*)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def tokenize(sql: str) -> list[tuple[str, str]]:
    """Split SQL into (kind, text) tokens; kinds: ws, comment, string, qident, word, other."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(sql):
        match = _TOKEN.match(sql, pos)
        if match is None or match.lastgroup is None:  # pragma: no cover - `other` matches anything
            raise SuiteQLError("INVALID_PARAMETER", _SEARCH_ERROR + "Unparseable query.")
        kind, text = match.lastgroup, match.group()
        if kind == "other" and (text in ("'", '"') or sql.startswith("/*", pos)):
            raise SuiteQLError("INVALID_PARAMETER", _SEARCH_ERROR + "Unterminated string or comment.")
        tokens.append((kind, text))
        pos = match.end()
    return tokens


def prepare(q: str) -> str:
    """Check that `q` is one SELECT statement and rewrite it for SQLite.

    `transaction` is a reserved word in SQLite but a table (and a column) name in SuiteQL, so
    bare `transaction` identifiers are quoted.
    """
    tokens = tokenize(q)
    significant = [(k, t) for k, t in tokens if k not in ("ws", "comment")]
    if not significant or significant[0][0] != "word" or significant[0][1].upper() != "SELECT":
        raise SuiteQLError("INVALID_REQUEST", "Only a single SELECT statement is supported by SuiteQL.")
    semicolons = [i for i, (k, t) in enumerate(significant) if k == "other" and t == ";"]
    if semicolons and semicolons[0] != len(significant) - 1:
        raise SuiteQLError("INVALID_REQUEST", "Only a single SELECT statement is supported by SuiteQL.")
    out: list[str] = []
    for kind, text in tokens:
        if kind == "other" and text == ";":
            continue
        if kind == "word" and text.lower() == "transaction":
            out.append('"transaction"')
        else:
            out.append(text)
    return "".join(out).strip()


# --- execution ---------------------------------------------------------------------------------
@dataclass
class Page:
    items: list[dict[str, str]]
    total: int
    offset: int
    limit: int

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.items) < self.total


def check_paging(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise SuiteQLError(
            "INVALID_PARAMETER",
            f"Invalid value for parameter limit: {limit}. The value must be between 1 and {MAX_PAGE}.",
        )
    if offset < 0 or offset % limit:
        raise SuiteQLError(
            "INVALID_PARAMETER",
            f"Invalid value for parameter offset: {offset}. "
            "The offset must be a non-negative multiple of the limit.",
        )


def execute(conn: sqlite3.Connection, q: str, limit: int = MAX_PAGE, offset: int = 0) -> Page:
    """Run one SuiteQL SELECT on `conn` and return the requested page, values rendered."""
    check_paging(limit, offset)
    sql = prepare(q)
    denied: list[str] = []

    def authorizer(action: int, arg1: str | None, arg2: str | None, _db: str | None, _src: str | None) -> int:
        if action == sqlite3.SQLITE_SELECT:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_READ and arg1 is not None and arg1.lower() in SUITEQL_TABLES:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() not in _DENIED_FUNCTIONS:
            return sqlite3.SQLITE_OK
        denied.append(f"{action}:{arg1}:{arg2}")
        return sqlite3.SQLITE_DENY

    steps = [0]

    def progress() -> int:
        steps[0] += 1
        return 1 if steps[0] > _PROGRESS_BUDGET else 0

    conn.set_authorizer(authorizer)
    conn.set_progress_handler(progress, _PROGRESS_STEP)
    try:
        # Names from the statement as written; the page and the count from SQLite itself, so a page
        # costs what the database takes to find it, not a Python copy of every matching row.
        head = conn.execute(sql)
        columns = [str(d[0]).lower() for d in head.description or ()]
        head.close()
        rows = conn.execute(f"SELECT * FROM ({sql}\n) LIMIT ? OFFSET ?", (limit, offset)).fetchall()
        total = int(conn.execute(f"SELECT count(*) FROM ({sql}\n)").fetchone()[0])
    except (sqlite3.Error, sqlite3.Warning, ValueError) as exc:
        if denied:
            raise SuiteQLError(
                "INVALID_REQUEST",
                "Only a single SELECT statement over SuiteQL tables is supported; the query was refused.",
            ) from exc
        if isinstance(exc, sqlite3.OperationalError) and "interrupted" in str(exc):
            raise SuiteQLError("INVALID_PARAMETER", _SEARCH_ERROR + "The query took too long.") from exc
        if isinstance(exc, sqlite3.ProgrammingError):
            raise SuiteQLError("INVALID_REQUEST", "Only a single SELECT statement is supported.") from exc
        raise SuiteQLError("INVALID_PARAMETER", _SEARCH_ERROR + str(exc)) from exc
    finally:
        conn.set_authorizer(None)
        conn.set_progress_handler(None, 0)
    if not columns:
        raise SuiteQLError("INVALID_REQUEST", "Only a single SELECT statement is supported by SuiteQL.")
    items: list[dict[str, str]] = []
    for row in rows:
        item: dict[str, str] = {}
        for column, value in zip(columns, row, strict=True):
            rendered = render_value(value)
            if rendered is not None:
                item[column] = rendered
        items.append(item)
    return Page(items=items, total=total, offset=offset, limit=limit)


# --- record collection filter (?q=...) ----------------------------------------------------------
@dataclass(frozen=True)
class Field:
    column: str
    kind: str  # "text", "bool", "number" or "date"


def fields(spec: str) -> dict[str, Field]:
    """Filterable fields from "restName:column:kind ..." triples."""
    return {name: Field(column, kind) for name, column, kind in (t.split(":") for t in spec.split())}


_Q_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<punct>[\[\],])|(?P<word>[^\s\[\],"]+))')
_COMPARE = {
    "EQUAL": "=",
    "EQUAL_NOT": "<>",
    "GREATER": ">",
    "GREATER_OR_EQUAL": ">=",
    "LESS": "<",
    "LESS_OR_EQUAL": "<=",
    "AFTER": ">",
    "ON_OR_AFTER": ">=",
    "BEFORE": "<",
    "ON_OR_BEFORE": "<=",
}


def _q_tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _Q_TOKEN.match(text, pos)
        if match is None or match.lastgroup is None:
            raise SuiteQLError("INVALID_PARAMETER", f"Invalid query: cannot parse {text[pos:]!r}.")
        raw = match.group(match.lastgroup)
        if match.lastgroup == "str":
            tokens.append(("str", re.sub(r"\\(.)", r"\1", raw[1:-1])))
        else:
            tokens.append((match.lastgroup, raw))
        pos = match.end()
    return tokens


def _date_value(text: str) -> str:
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y"):
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed.strftime("%Y-%m-%d %H:%M:%S" if "%H" in fmt else "%Y-%m-%d")
    raise SuiteQLError("INVALID_PARAMETER", f"Invalid query: {text!r} is not a date.")


def _scalar(field: Field, token: tuple[str, str], name: str) -> object:
    _kind, text = token
    if field.kind == "bool":
        if text.lower() not in ("true", "false"):
            raise SuiteQLError("INVALID_PARAMETER", f"Invalid query: {name} takes true or false.")
        return "T" if text.lower() == "true" else "F"
    if field.kind == "number":
        try:
            return float(text)
        except ValueError:
            raise SuiteQLError("INVALID_PARAMETER", f"Invalid query: {text!r} is not a number.") from None
    if field.kind == "date":
        return _date_value(text)
    return text


def compile_filter(q: str, fields: Mapping[str, Field]) -> tuple[str, list[object]]:
    """Compile a record-collection `q` into a SQL condition and its parameters.

    Grammar: `cond ((AND|OR) cond)*`, `cond := field OP [value | [v1, v2, ...]]`. Field names are
    the REST names (case-insensitive). Text comparisons are case-insensitive, as in NetSuite.
    """
    tokens = _q_tokens(q)
    lookup = {name.lower(): (name, spec) for name, spec in fields.items()}
    parts: list[str] = []
    params: list[object] = []
    pos = 0

    def take() -> tuple[str, str]:
        nonlocal pos
        if pos >= len(tokens):
            raise SuiteQLError("INVALID_PARAMETER", "Invalid query: the condition is incomplete.")
        pos += 1
        return tokens[pos - 1]

    while True:
        _, raw_name = take()
        if raw_name.lower() not in lookup:
            raise SuiteQLError("INVALID_PARAMETER", f"Invalid query: unknown field {raw_name!r}.")
        name, field = lookup[raw_name.lower()]
        op = take()[1].upper()
        column = field.column
        text_col = f"{column} COLLATE NOCASE"
        if op in ("EMPTY", "EMPTY_NOT"):
            parts.append(
                f"({column} IS NULL OR {column} = '')"
                if op == "EMPTY"
                else f"({column} IS NOT NULL AND {column} <> '')"
            )
        elif op in ("ANY_OF", "ANY_OF_NOT"):
            values: list[object] = []
            bracket = pos < len(tokens) and tokens[pos] == ("punct", "[")
            if bracket:
                take()
            while True:
                values.append(_scalar(field, take(), name))
                if pos < len(tokens) and tokens[pos] == ("punct", ","):
                    take()
                    continue
                break
            if bracket and take() != ("punct", "]"):
                raise SuiteQLError("INVALID_PARAMETER", "Invalid query: expected ']'.")
            marks = ", ".join("?" for _ in values)
            target = text_col if field.kind == "text" else column
            parts.append(f"{target} {'NOT ' if op == 'ANY_OF_NOT' else ''}IN ({marks})")
            params.extend(values)
        elif op in ("IS", "IS_NOT"):
            value = _scalar(field, take(), name)
            target = text_col if field.kind == "text" else column
            parts.append(f"{target} {'=' if op == 'IS' else '<>'} ?")
            params.append(value)
        elif op in ("CONTAIN", "CONTAIN_NOT", "START_WITH", "START_WITH_NOT", "END_WITH", "END_WITH_NOT"):
            if field.kind != "text":
                raise SuiteQLError("INVALID_PARAMETER", f"Invalid query: {op} needs a text field.")
            value = str(_scalar(field, take(), name)).replace("\\", "\\\\").replace("%", "\\%")
            value = value.replace("_", "\\_")
            base = op.removesuffix("_NOT")
            pattern = {"CONTAIN": f"%{value}%", "START_WITH": f"{value}%", "END_WITH": f"%{value}"}[base]
            negate = "NOT " if op.endswith("_NOT") else ""
            parts.append(f"{column} {negate}LIKE ? ESCAPE '\\'")
            params.append(pattern)
        elif op in _COMPARE and field.kind in ("number", "date"):
            parts.append(f"{column} {_COMPARE[op]} ?")
            params.append(_scalar(field, take(), name))
        else:
            raise SuiteQLError(
                "INVALID_PARAMETER", f"Invalid query: operator {op!r} is not valid for {name}."
            )
        if pos >= len(tokens):
            break
        joiner = take()[1].upper()
        if joiner not in ("AND", "OR"):
            raise SuiteQLError("INVALID_PARAMETER", f"Invalid query: expected AND or OR, got {joiner!r}.")
        parts.append(joiner)
    return " ".join(parts), params


def page_bounds(total: int, limit: int, offset: int) -> Sequence[tuple[str, int]]:
    """The (rel, offset) links NetSuite puts on a collection page: first, prev, next, last."""
    last = max(0, (total - 1) // limit * limit)
    links: list[tuple[str, int]] = [("first", 0)]
    if offset > 0:
        links.append(("previous", max(0, offset - limit)))
    if offset + limit < total:
        links.append(("next", offset + limit))
    links.append(("last", last))
    return links
