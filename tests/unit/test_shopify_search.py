"""The Shopify simulator's search syntax (`query:` arguments), without HTTP."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from stockbridge.simulators.shopify.connections import Term, matches, parse_search


def quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@given(
    st.lists(
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12),
        min_size=1,
        max_size=5,
    )
)
def test_any_quoted_sku_reads_back_as_itself(skus: list[str]) -> None:
    search = parse_search(" OR ".join(f"sku:{quoted(sku)}" for sku in skus))
    assert search == [[Term("sku", "=", sku)] for sku in skus]


def test_comparisons_on_times_compare_moments_not_text() -> None:
    search = parse_search("updated_at:>'2026-11-30T06:00:00+00:00'")
    fields = {"updated_at": "2026-11-30T06:00:01Z"}
    assert matches(search, fields.get, ("updated_at",))
    assert not matches(search, {"updated_at": "2026-11-30T05:59:59Z"}.get, ("updated_at",))
    assert matches(
        parse_search("created_at:>=2026-11-30"), {"created_at": "2026-11-30T00:00:00Z"}.get, ("created_at",)
    )


def test_and_binds_tighter_than_or_and_unknown_fields_are_ignored() -> None:
    search = parse_search("sku:A AND colour:red OR sku:B")
    assert matches(search, {"sku": "A"}.get, ("sku",))
    assert matches(search, {"sku": "b"}.get, ("sku",))
    assert not matches(search, {"sku": "C"}.get, ("sku",))
    assert matches(parse_search(""), {"sku": "anything"}.get, ("sku",))
