"""The scheduler reads which jobs may be due in one query, then claims each before it runs."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from tests.factories import T0

from stockbridge.engine.schedule import claim_run, due_jobs, run_soon


def test_due_jobs_are_those_never_claimed_or_whose_next_run_has_come(engine: Engine) -> None:
    jobs = ["item_refresh", "drift_check", "slo_check"]
    with engine.begin() as c:
        assert due_jobs(c, jobs, T0) == set(jobs)  # never claimed: due at start
        assert claim_run(c, "item_refresh", T0, 60)
        assert claim_run(c, "drift_check", T0, 10)
        assert due_jobs(c, jobs, T0) == {"slo_check"}
        assert due_jobs(c, jobs, T0 + timedelta(seconds=10)) == {"drift_check", "slo_check"}
        run_soon(c, "item_refresh", T0 + timedelta(seconds=1))  # an operator asked for it
        assert due_jobs(c, jobs, T0 + timedelta(seconds=1)) == {"item_refresh", "slo_check"}


def test_a_job_read_as_due_is_still_claimed_by_one_worker_only(engine: Engine) -> None:
    with engine.begin() as c:
        assert due_jobs(c, ["drift_check"], T0) == {"drift_check"}
    with engine.begin() as c:  # another worker claims it between this one's read and its claim
        assert claim_run(c, "drift_check", T0, 10)
    with engine.begin() as c:
        assert not claim_run(c, "drift_check", T0, 10)
