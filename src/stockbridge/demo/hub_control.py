"""The demo's view of the running hub, through its admin API: status, counters, jobs run on demand
(an operator token) and a scrape of `/metrics` (a viewer token, as a Prometheus server would hold)."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from stockbridge.demo.harness import wait_for
from stockbridge.monitor.metrics import BACKLOG_SIZE_METRIC, LATENCY_METRIC


class HubControl:
    """Status, counters and jobs run on demand (with an operator token); with a viewer token too,
    the metrics as a scraper sees them."""

    def __init__(self, http: httpx.Client, url: str, token: str, viewer_token: str | None = None) -> None:
        self.http = http
        self.url = url
        self.auth = {"Authorization": f"Bearer {token}"}
        self.viewer_auth = {"Authorization": f"Bearer {viewer_token or token}"}

    def health(self) -> dict[str, Any]:
        response = self.http.get(f"{self.url}/admin/status", headers=self.auth)
        response.raise_for_status()
        health: dict[str, Any] = response.json()
        return health

    def counter(self, name: str) -> int:
        return int(self.health()["counters"].get(name, 0))

    def run_job(self, job: str, timeout_s: float = 300, wait: bool = True) -> None:
        """Ask the hub to run a scheduled job now; with `wait`, return once a run that started after
        the request (not one already under way) has finished."""
        due = self.http.post(f"{self.url}/admin/jobs/{job}", headers=self.auth).json()["due"]
        if wait:
            wait_for(lambda: self.health()["jobs"].get(job, "") >= due, timeout_s, f"the {job} job")

    def orders_settled(self) -> bool:
        health = self.health()
        return health["inbox_pending"] == 0 and not health["order_commands"].get("pending")

    def scrape_metrics(self) -> dict[str, Any]:
        """`GET /metrics` with the viewer token; what it answered, in the summary's words."""
        try:
            response = self.http.get(f"{self.url}/metrics", headers=self.viewer_auth)
        except httpx.HTTPError as exc:
            return {"answered": False, "error": repr(exc)}
        if response.status_code != 200:
            return {"answered": False, "status": response.status_code}
        return metrics_summary(response.text)


def metrics_summary(text: str) -> dict[str, Any]:
    """A Prometheus text exposition, read with prometheus_client's own parser: how many series it
    holds, each channel's count of movement → acknowledgement latencies, each flow's backlog."""
    series = 0
    latency_counts: dict[str, int] = {}
    backlog: dict[str, int] = {}
    for family in text_string_to_metric_families(text):
        series += len(family.samples)
        for sample in family.samples:
            if family.name == LATENCY_METRIC and sample.name == f"{LATENCY_METRIC}_count":
                latency_counts[sample.labels["channel"]] = int(sample.value)
            elif family.name == BACKLOG_SIZE_METRIC:
                backlog[sample.labels["flow"]] = int(sample.value)
    return {
        "answered": True,
        "series": series,
        "latency_histogram_count": latency_counts,
        "backlog_items": backlog,
    }
