"""SuiteQL on the IMS simulator: the SELECT-only guard, rendering, paging, Oracle functions, q filters."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stockbridge.simulators.ims import suiteql
from stockbridge.simulators.ims.store import ImsStore
from stockbridge.simulators.ims.suiteql import Field, SuiteQLError, compile_filter, prepare, render_value


def _adjust(store: ImsStore, item: str, qty: float, eid: str | None = None) -> None:
    body = {
        "account": {"id": "1"},
        "inventory": {"items": [{"item": {"id": item}, "location": "6", "adjustQtyBy": qty}]},
    }
    store.post_adjustment(body, 1000, eid, upsert=eid is not None)


@pytest.fixture
def store() -> ImsStore:
    s = ImsStore()
    s.control_items(
        [{"itemId": f"SKU-{n}", "displayName": f"Item {n}" if n % 2 else None} for n in range(1, 6)]
    )
    _adjust(s, "101", 5, "ADJ-1")
    _adjust(s, "102", 2.5)
    return s


def _counts(store: ImsStore) -> tuple[int, ...]:
    tables = ["item", "location", "inventoryitemlocations", "transaction", "transactionline"]
    return tuple(int(store.suiteql(f"SELECT COUNT(*) AS n FROM {t}", 1, 0).items[0]["n"]) for t in tables)


# --- the guard ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "q",
    [
        "DELETE FROM item",
        "UPDATE item SET isinactive = 'T'",
        "INSERT INTO item (id, itemid) VALUES (1, 'x')",
        "DROP TABLE item",
        "PRAGMA table_info(item)",
        "ATTACH DATABASE ':memory:' AS other",
        "CREATE TABLE x (a)",
        "WITH x AS (SELECT 1) DELETE FROM item",
        "REPLACE INTO item (id, itemid) VALUES (101, 'x')",
        "SELECT 1; DELETE FROM item",
        "SELECT 1; SELECT 2",
        "/* SELECT */ DELETE FROM item",
        "-- SELECT\nDELETE FROM item",
        "",
        "   ",
    ],
)
def test_non_select_statements_are_refused(store: ImsStore, q: str) -> None:
    before = _counts(store)
    with pytest.raises(SuiteQLError) as caught:
        store.suiteql(q, 10, 0)
    assert caught.value.code == "INVALID_REQUEST"
    assert _counts(store) == before


@pytest.mark.parametrize(
    "q",
    [
        "SELECT * FROM sqlite_master",
        "SELECT name FROM sqlite_schema",
        "SELECT 1 UNION SELECT sql FROM sqlite_master",
        "SELECT * FROM pragma_table_info('item')",
        "SELECT load_extension('evil')",
        "SELECT * FROM item WHERE id IN (WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) "
        "SELECT n FROM r)",
    ],
)
def test_authorizer_refuses_reads_outside_suiteql_tables(store: ImsStore, q: str) -> None:
    with pytest.raises(SuiteQLError) as caught:
        store.suiteql(q, 10, 0)
    assert caught.value.code == "INVALID_REQUEST"


def test_authorizer_alone_blocks_writes_that_pass_the_text_check(
    store: ImsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sqlite3 authorizer, not the string check, is what makes the guard hold."""
    before = _counts(store)
    with monkeypatch.context() as patch:
        patch.setattr(suiteql, "prepare", lambda q: q)
        for q in ("DELETE FROM item", "UPDATE item SET isinactive = 'T'", "DROP TABLE location"):
            with pytest.raises(SuiteQLError) as caught:
                store.suiteql(q, 10, 0)
            assert caught.value.code == "INVALID_REQUEST"
    assert _counts(store) == before
    # and the store still writes normally once the query is over (the authorizer is removed)
    _adjust(store, "103", 1)
    assert _counts(store)[3] == before[3] + 1


keywords = st.sampled_from(
    ["SELECT", "DELETE", "FROM", "item", "transaction", ";", "(", ")", "*", "'x'", '"id"', "--", "/*", "*/",
     "WHERE", "UNION", "DROP", "TABLE", "INSERT", "INTO", "VALUES", "1", ",", "=", "PRAGMA", "ATTACH", "WITH"]
)  # fmt: skip


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(keywords | st.text(max_size=4), max_size=12).map(" ".join))
def test_any_text_either_answers_or_is_refused_and_never_writes(store: ImsStore, q: str) -> None:
    before = _counts(store)
    code = "OK"
    try:
        page = store.suiteql(q, 1000, 0)
    except SuiteQLError as error:
        code = error.code
    else:
        assert all(isinstance(v, str) for item in page.items for v in item.values())
    assert code in ("OK", "INVALID_REQUEST", "INVALID_PARAMETER")
    assert _counts(store) == before


def test_prepare_quotes_transaction_only_as_identifier() -> None:
    sql = prepare("SELECT t.id FROM transaction t WHERE t.memo = 'a transaction' AND tl.transaction = 1;")
    assert sql == 'SELECT t.id FROM "transaction" t WHERE t.memo = \'a transaction\' AND tl."transaction" = 1'


def test_unterminated_string_is_a_parameter_error() -> None:
    with pytest.raises(SuiteQLError) as caught:
        prepare("SELECT 'oops FROM item")
    assert caught.value.code == "INVALID_PARAMETER"


def test_unknown_table_is_a_search_error(store: ImsStore) -> None:
    with pytest.raises(SuiteQLError) as caught:
        store.suiteql("SELECT id FROM salesorder", 10, 0)
    assert caught.value.code == "INVALID_PARAMETER"
    assert caught.value.detail.startswith("Invalid search query.")


def test_runaway_query_is_interrupted(store: ImsStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(suiteql, "_PROGRESS_BUDGET", 1)
    q = "SELECT COUNT(*) FROM item a, item b, item c, item d, item e, inventoryitemlocations f"
    with pytest.raises(SuiteQLError) as caught:
        store.suiteql(q, 10, 0)
    assert "too long" in caught.value.detail


# --- rendering and paging -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "text"),
    [(None, None), (5, "5"), (5.0, "5"), (2.5, "2.5"), (-0.25, "-0.25"), ("T", "T"), (True, "T")],
)
def test_values_render_as_netsuite_strings(value: object, text: str | None) -> None:
    assert render_value(value) == text


def test_rows_are_strings_with_lower_case_keys_and_nulls_omitted(store: ImsStore) -> None:
    page = store.suiteql("SELECT ID, ItemId AS SKU, displayname, isinactive FROM item ORDER BY id", 1000, 0)
    assert page.items[0] == {"id": "101", "sku": "SKU-1", "displayname": "Item 1", "isinactive": "F"}
    assert page.items[1] == {"id": "102", "sku": "SKU-2", "isinactive": "F"}  # NULL displayname omitted


def test_stock_and_transactions_are_queryable(store: ImsStore) -> None:
    q = (
        "SELECT i.itemid, il.quantityonhand, il.quantityavailable FROM inventoryitemlocations il "
        "JOIN item i ON i.id = il.item WHERE il.location = 6 AND il.quantityonhand <> 0 ORDER BY i.itemid"
    )
    rows = store.suiteql(q, 1000, 0).items
    assert rows == [
        {"itemid": "SKU-1", "quantityonhand": "5", "quantityavailable": "5"},
        {"itemid": "SKU-2", "quantityonhand": "2.5", "quantityavailable": "2.5"},
    ]
    q = (
        "SELECT t.id, t.type, t.externalid, tl.item, tl.quantity FROM transaction t "
        "JOIN transactionline tl ON tl.transaction = t.id WHERE t.type IN ('InvAdjst') ORDER BY t.id"
    )
    assert store.suiteql(q, 1000, 0).items == [
        {"id": "1001", "type": "InvAdjst", "externalid": "ADJ-1", "item": "101", "quantity": "5"},
        {"id": "1002", "type": "InvAdjst", "item": "102", "quantity": "2.5"},
    ]


def test_paging_slices_in_order(store: ImsStore) -> None:
    pages = [store.suiteql("SELECT id FROM item ORDER BY id DESC", 2, offset) for offset in (0, 2, 4)]
    assert [[r["id"] for r in p.items] for p in pages] == [["105", "104"], ["103", "102"], ["101"]]
    assert [p.has_more for p in pages] == [True, True, False]
    assert {p.total for p in pages} == {5}


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (1001, 0), (10, 5), (10, -10)])
def test_bad_paging_is_refused(limit: int, offset: int) -> None:
    with pytest.raises(SuiteQLError) as caught:
        suiteql.check_paging(limit, offset)
    assert caught.value.code == "INVALID_PARAMETER"


def test_page_links() -> None:
    assert list(suiteql.page_bounds(25, 10, 10)) == [
        ("first", 0),
        ("previous", 0),
        ("next", 20),
        ("last", 20),
    ]
    assert list(suiteql.page_bounds(0, 10, 0)) == [("first", 0), ("last", 0)]


def test_oracle_functions(store: ImsStore) -> None:
    q = (
        "SELECT NVL(displayname, itemid) AS name, TO_CHAR(lastmodifieddate, 'YYYY') AS y, "
        "TO_NUMBER('2.50') AS n FROM item WHERE lastmodifieddate >= TO_DATE('2000-01-01', 'YYYY-MM-DD') "
        "AND id < 103 ORDER BY id"
    )
    rows = store.suiteql(q, 1000, 0).items
    assert [r["name"] for r in rows] == ["Item 1", "SKU-2"]
    assert rows[0]["y"].isdigit()
    assert rows[0]["n"] == "2.5"


# --- record collection filter (?q=) -------------------------------------------------------------
FIELDS = {
    "itemId": Field("itemid", "text"),
    "isInactive": Field("isinactive", "bool"),
    "id": Field("id", "number"),
    "lastModifiedDate": Field("lastmodifieddate", "date"),
}


@pytest.mark.parametrize(
    ("q", "where", "params"),
    [
        ('itemId IS "SKU-1"', "itemid COLLATE NOCASE = ?", ["SKU-1"]),
        ('itemid is_not "a \\"b\\""', "itemid COLLATE NOCASE <> ?", ['a "b"']),
        ("isInactive IS false", "isinactive = ?", ["F"]),
        ("id ANY_OF [101, 102]", "id IN (?, ?)", [101.0, 102.0]),
        ('itemId START_WITH "SK_"', "itemid LIKE ? ESCAPE '\\'", ["SK\\_%"]),
        ("id GREATER 5 AND isInactive IS true", "id > ? AND isinactive = ?", [5.0, "T"]),
        (
            'lastModifiedDate ON_OR_AFTER "2024-01-31T10:00:00Z"',
            "lastmodifieddate >= ?",
            ["2024-01-31 10:00:00"],
        ),
        ("itemId EMPTY OR id EQUAL 1", "(itemid IS NULL OR itemid = '') OR id = ?", [1.0]),
    ],
)
def test_compile_filter(q: str, where: str, params: list[Any]) -> None:
    assert compile_filter(q, FIELDS) == (where, params)


@pytest.mark.parametrize(
    "q",
    [
        'nope IS "x"',
        "itemId",
        'itemId IS "x" AND',
        'itemId GREATER "x"',
        "isInactive IS maybe",
        'itemId IS "x" XOR',
    ],
)
def test_bad_filters_are_refused(q: str) -> None:
    with pytest.raises(SuiteQLError) as caught:
        compile_filter(q, FIELDS)
    assert caught.value.code == "INVALID_PARAMETER"


def test_filters_run_against_the_store(store: ImsStore) -> None:
    where, params = compile_filter('itemId IS "sku-3" OR itemId CONTAIN "-5"', FIELDS)
    ids, total = store.list_ids("item", where, params, 10, 0)
    assert (ids, total) == ([103, 105], 2)
