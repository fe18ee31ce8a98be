"""The IMS's inventory adjustments, summed per item over a period: `reports/ports.AdjustmentLedger`.

One SuiteQL query over `transactionline` joined to its `transaction` (type `InvAdjst`), by the
transaction's creation time (../shared/reference/netsuite.md: SuiteQL compares dates with `TO_DATE`;
NetSuite keeps them in the account's time zone, which the hub expects to be UTC, as the IMS
simulator's is).
"""

from __future__ import annotations

from datetime import UTC, datetime

from stockbridge.connectors.netsuite.client import SYSTEM, NetSuiteClient
from stockbridge.connectors.shapes import expect_shape


class NetSuiteLedger:
    def __init__(self, client: NetSuiteClient) -> None:
        self._client = client

    async def adjusted_since(self, location: str, since: datetime) -> dict[str, int]:
        stamp = since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        query = (
            "SELECT tl.item AS item, SUM(tl.quantity) AS quantity FROM transactionline tl "
            "JOIN transaction t ON t.id = tl.transaction "
            f"WHERE t.type = 'InvAdjst' AND tl.location = {int(location)} "
            f"AND t.createddate >= TO_DATE('{stamp}', 'YYYY-MM-DD HH24:MI:SS') "
            "GROUP BY tl.item ORDER BY tl.item"
        )
        rows = await self._client.suiteql(query)
        with expect_shape(SYSTEM, "adjustment totals"):
            return {str(r["item"]): round(float(r["quantity"])) for r in rows if round(float(r["quantity"]))}
