"""The weekly reconciliation as a report (the finance view). Pure: rows in, a `Report` out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from stockbridge.reports.model import Cell, Report, Section, Table
from stockbridge.reports.reconcile import ReconciliationRow

COLUMNS = (
    "sku",
    "warehouse",
    "ims_location",
    "clarus_opening",
    "receipts",
    "shipments",
    "adjustments",
    "unseen",
    "clarus_closing",
    "hub_observed",
    "ims_opening",
    "ims_adjustments",
    "ims_closing",
    "difference",
    "explained",
    "unexplained",
    "explanation",
)


def _cells(r: ReconciliationRow) -> tuple[Cell, ...]:
    c = r.clarus
    why = "; ".join(f"{e.reason} ({'?' if e.units is None else f'{e.units:+d}'})" for e in r.explanations)
    return (
        r.sku,
        r.warehouse,
        r.ims_location,
        c.opening,
        c.receipts,
        c.shipments,
        c.adjustments,
        c.unseen,
        c.closing,
        r.hub_observed,
        r.ims_opening,
        r.ims_adjustments,
        r.ims_closing,
        r.difference,
        r.explained,
        r.unexplained,
        why,
    )


def build_weekly(rows: Sequence[ReconciliationRow], now: datetime, start: datetime) -> Report:
    ordered = sorted(rows, key=lambda r: (r.warehouse, r.sku))
    differing = [r for r in ordered if r.difference]
    totals: list[tuple[Cell, ...]] = []
    for warehouse in sorted({r.warehouse for r in ordered}):
        mine = [r for r in ordered if r.warehouse == warehouse]
        totals.append(
            (
                warehouse,
                len(mine),
                sum(r.clarus.opening for r in mine),
                sum(r.clarus.receipts for r in mine),
                sum(r.clarus.shipments for r in mine),
                sum(r.clarus.adjustments for r in mine),
                sum(r.clarus.unseen for r in mine),
                sum(r.clarus.closing for r in mine),
                sum(r.ims_closing or 0 for r in mine),
                sum(1 for r in mine if r.difference),
                sum(1 for r in mine if r.unexplained),
                "yes" if all(r.clarus.ties() for r in mine) and not any(r.difference for r in mine) else "no",
            )
        )
    summary = Table(
        "reconciliation_totals",
        "Totals per warehouse",
        (
            "warehouse",
            "skus",
            "clarus_opening",
            "receipts",
            "shipments",
            "adjustments",
            "unseen",
            "clarus_closing",
            "ims_closing",
            "skus_differing",
            "skus_unexplained",
            "ties_out",
        ),
        tuple(totals),
    )
    differences = Table(
        "differences",
        "Every difference between Clarus and the IMS, with what the hub knows of why",
        COLUMNS,
        tuple(_cells(r) for r in differing),
        empty="none: Clarus and the IMS agree on every SKU",
    )
    every = Table("reconciliation", "Per SKU and location", COLUMNS, tuple(_cells(r) for r in ordered))
    note = (
        "In the IMS's measure (the statuses counted for it). Clarus: opening + receipts − shipments "
        "± adjustments + unseen (changes only a full snapshot showed) = closing, from the movements the "
        "hub received. IMS: opening = closing − the adjustments it booked in the week; closing as the "
        "IMS shows it now. Decision 0028."
    )
    title = f"stockbridge weekly reconciliation, {start:%Y-%m-%d %H:%M} to {now:%Y-%m-%d %H:%M} UTC"
    sections = (Section("Reconciliation", (summary, differences, every), note=note),)
    return Report("weekly", title, now, start, now, sections)
