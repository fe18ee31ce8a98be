"""The admin API over real HTTP: bearer tokens with roles, hashed at rest; a liveness probe that says ok."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, select
from tests.factories import T0, config

from stockbridge.api.app import create_app
from stockbridge.engine.clock import FakeClock
from stockbridge.engine.schedule import due_jobs
from stockbridge.servers import serve_in_thread
from stockbridge.store import tokens_repo
from stockbridge.store.schema import admin_tokens, cursors
from stockbridge.store.tokens_repo import Role


@pytest.fixture
def hub(engine: Engine) -> Iterator[str]:
    app = create_app(engine=engine, config=config(), clock=FakeClock(T0), clarus_webhook_secret="s")
    with serve_in_thread(app) as url:
        yield url


def _token(engine: Engine, role: Role, name: str | None = None) -> str:
    with engine.begin() as c:
        return tokens_repo.create_token(c, name=role.value if name is None else name, role=role, now=T0)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_liveness_is_open_and_says_only_ok(hub: str) -> None:
    response = httpx.get(f"{hub}/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/admin/status"), ("GET", "/metrics"), ("POST", "/admin/jobs/full_sync")]
)
def test_admin_routes_refuse_a_missing_or_wrong_token_with_401(
    hub: str, engine: Engine, method: str, path: str
) -> None:
    real = _token(engine, Role.ADMIN)
    for headers in (
        {},
        {"Authorization": "Basic YWRtaW46YWRtaW4="},
        {"Authorization": "Bearer"},
        _auth("nonsense"),
        _auth(real[:-1] + ("A" if real[-1] != "A" else "B")),  # right key, wrong secret
        {"Authorization": b"Bearer sbt_\xc3\xa9"},
    ):
        response = httpx.request(method, f"{hub}{path}", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_viewer_reads_status_and_metrics_but_may_not_run_jobs(hub: str, engine: Engine) -> None:
    viewer = _auth(_token(engine, Role.VIEWER))
    status = httpx.get(f"{hub}/admin/status", headers=viewer)
    assert status.status_code == 200
    assert {"inbox_pending", "dirty_targets", "orders", "counters", "jobs"} <= set(status.json())
    metrics = httpx.get(f"{hub}/metrics", headers=viewer)
    assert metrics.status_code == 200
    assert "stockbridge_webhooks" in metrics.text
    assert 'stockbridge_drift_skus{channel="ims"} 0.0' in metrics.text  # read from the database
    refused = httpx.post(f"{hub}/admin/jobs/full_sync", headers=viewer)
    assert refused.status_code == 403
    assert "operator" in refused.json()["error"]


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.ADMIN])
def test_operator_and_admin_run_jobs(hub: str, engine: Engine, role: Role) -> None:
    headers = _auth(_token(engine, role))
    response = httpx.post(f"{hub}/admin/jobs/full_sync", headers=headers)
    assert response.status_code == 202
    assert response.json()["job"] == "full_sync"
    assert httpx.post(f"{hub}/admin/jobs/nope", headers=headers).status_code == 404
    assert httpx.get(f"{hub}/admin/status", headers=headers).json()["jobs"] == {}


def test_a_job_asked_for_wakes_this_process_scheduler_once_it_is_due(engine: Engine) -> None:
    """`serve` hands the API its scheduler's wake: a job asked for runs now, not at the next tick."""
    asked: list[bool] = []
    app = create_app(
        engine=engine,
        config=config(),
        clock=FakeClock(T0),
        clarus_webhook_secret="s",
        on_job_asked=lambda: asked.append(_due(engine, "full_sync")),
    )
    headers = _auth(_token(engine, Role.OPERATOR))
    with serve_in_thread(app) as url:
        assert httpx.post(f"{url}/admin/jobs/nope", headers=headers).status_code == 404
        assert httpx.post(f"{url}/admin/jobs/full_sync").status_code == 401
        assert asked == []
        assert httpx.post(f"{url}/admin/jobs/full_sync", headers=headers).status_code == 202
    assert asked == [True]  # woken once, after the run was recorded as due


def _due(engine: Engine, job: str) -> bool:
    """`run_soon` has written the job's next run (a job never claimed has no row yet)."""
    with engine.connect() as c:
        names = c.execute(select(cursors.c.name)).scalars().all()
        return any(job in name for name in names) and job in due_jobs(c, [job], T0)


def test_revoked_token_is_refused_from_the_next_request(hub: str, engine: Engine) -> None:
    headers = _auth(_token(engine, Role.OPERATOR, "ops-laptop"))
    assert httpx.get(f"{hub}/admin/status", headers=headers).status_code == 200
    with engine.begin() as c:
        assert tokens_repo.revoke_token(c, "ops-laptop", T0) == 1
        assert tokens_repo.revoke_token(c, "ops-laptop", T0) == 0
    assert httpx.get(f"{hub}/admin/status", headers=headers).status_code == 401


def test_tokens_are_hashed_at_rest_and_listed_without_secrets(engine: Engine) -> None:
    token = _token(engine, Role.VIEWER, "grafana")
    with engine.connect() as c:
        stored = c.execute(select(admin_tokens)).one()
        assert token not in "".join(str(v) for v in stored)
        assert token.split("_")[2] not in "".join(str(v) for v in stored)
        assert tokens_repo.authenticate(c, token) == tokens_repo.list_tokens(c)[0]
        assert tokens_repo.list_tokens(c)[0].role is Role.VIEWER


def test_an_active_name_is_not_given_twice(engine: Engine) -> None:
    _token(engine, Role.VIEWER, "grafana")
    with pytest.raises(tokens_repo.TokenNameTaken):
        _token(engine, Role.ADMIN, "grafana")
    with engine.begin() as c:
        tokens_repo.revoke_token(c, "grafana", T0)
    assert _token(engine, Role.ADMIN, "grafana").startswith("sbt_")
    for bad in ("", "  ", "x" * 101):
        with pytest.raises(ValueError, match="1 to 100"):
            _token(engine, Role.VIEWER, bad)


def test_roles_are_ordered() -> None:
    assert Role.ADMIN.allows(Role.OPERATOR)
    assert Role.OPERATOR.allows(Role.VIEWER)
    assert not Role.VIEWER.allows(Role.OPERATOR)
    assert not Role.OPERATOR.allows(Role.ADMIN)


def test_the_http_surface_is_the_documented_one(engine: Engine) -> None:
    """docs/operating.md (Admin API) and docs/security.md (API9) list exactly these routes."""
    app = create_app(engine=engine, config=config(), clock=FakeClock(T0), clarus_webhook_secret="s")
    routes = {(route.path, tuple(sorted(route.methods or ()))) for route in app.routes}  # type: ignore[attr-defined]
    assert routes == {
        ("/webhooks/clarus", ("POST",)),
        ("/webhooks/shopify/{channel}", ("POST",)),
        ("/health", ("GET", "HEAD")),
        ("/admin/status", ("GET", "HEAD")),
        ("/metrics", ("GET", "HEAD")),
        ("/admin/jobs/{job}", ("POST",)),
    }
