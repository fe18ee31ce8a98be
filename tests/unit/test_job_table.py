"""The job table (engine/jobs.py) and the schedule's names agree: a job the admin API accepts is one
a worker can run, and a job a worker runs is one the API lets an operator ask for."""

from __future__ import annotations

from stockbridge.engine.jobs import JOBS
from stockbridge.engine.schedule import SCHEDULED_JOBS

FAR_SYSTEMS = {"hub", "ims", "clarus"}


def test_every_scheduled_job_has_a_body_and_no_other() -> None:
    assert set(JOBS) == SCHEDULED_JOBS


def test_each_job_counts_against_a_known_system() -> None:
    assert {job.system for job in JOBS.values()} <= FAR_SYSTEMS
    assert JOBS["full_sync"].system == "clarus"
    assert JOBS["report_daily"].system == "hub"
    assert JOBS["report_weekly"].system == "ims"
