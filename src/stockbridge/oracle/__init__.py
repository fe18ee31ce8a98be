"""The independent oracle: what the far systems should show, computed from the simulators' own state.

The demo and the end-to-end tests judge the hub with it (DESIGN.md §5, "Truth is checked from
outside"). It imports nothing of the hub's rules (domain, flows, store, engine, connectors, nor the
config model that uses them; `tests/unit/test_oracle_imports.py` pins that): each rule here is
re-written, small and plain, from the documented meaning of the configuration, so that a bug in
the hub's rules shows as a difference instead of being agreed with.
"""

from stockbridge.oracle.catalog import Catalog, warehouse_sku
from stockbridge.oracle.finance import expected_adjustments, posted_adjustments
from stockbridge.oracle.fulfilments import FulfilmentReport, check_fulfilments
from stockbridge.oracle.magento import (
    check_magento_orders,
    magento_drift,
    read_source_items,
    source_figures,
    warehouse_lines,
)
from stockbridge.oracle.orders import Expected, OrderReport, check_orders, expected_order
from stockbridge.oracle.read import Truth, read_stock, read_truth
from stockbridge.oracle.settings import OracleSettings, SkuSettings, StoreSettings, TargetSettings
from stockbridge.oracle.stock import (
    Drift,
    adjustments_off_target,
    drift,
    expected_figures,
    ims_drift,
    ims_figures,
)
from stockbridge.oracle.storefront import (
    channel_drift,
    check_storefront_orders,
    read_storefront,
    storefront_drift,
    storefront_figures,
)
from stockbridge.oracle.storefront_fulfilments import (
    StorefrontFulfilmentReport,
    check_storefront_fulfilments,
)
from stockbridge.oracle.storefront_writes import (
    WriteReport,
    doubled_sets,
    figure_history,
    judge_writes,
    stale_sets,
)

__all__ = [
    "Catalog",
    "Drift",
    "Expected",
    "FulfilmentReport",
    "OracleSettings",
    "OrderReport",
    "SkuSettings",
    "StoreSettings",
    "StorefrontFulfilmentReport",
    "TargetSettings",
    "Truth",
    "WriteReport",
    "adjustments_off_target",
    "channel_drift",
    "check_fulfilments",
    "check_magento_orders",
    "check_orders",
    "check_storefront_fulfilments",
    "check_storefront_orders",
    "doubled_sets",
    "drift",
    "expected_adjustments",
    "expected_figures",
    "expected_order",
    "figure_history",
    "ims_drift",
    "ims_figures",
    "judge_writes",
    "magento_drift",
    "posted_adjustments",
    "read_source_items",
    "read_stock",
    "read_storefront",
    "read_truth",
    "source_figures",
    "stale_sets",
    "storefront_drift",
    "storefront_figures",
    "warehouse_lines",
    "warehouse_sku",
]
