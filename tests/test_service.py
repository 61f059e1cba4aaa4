"""The agent API on SQLite: accounts, tenancy, drafts and submissions, scores, errors.

Each test gets a fresh database in a temporary folder, migrated as ``carescore serve``
migrates it, two agencies with a key each, and the API in-process (an HTTP client on
the ASGI app, no socket).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from scoring import default_engine, score
from scoring.cli.app import app as cli
from scoring.service.accounts import create_api_key, create_organisation, revoke_api_key
from scoring.service.api import MAX_BODY_BYTES, create_app
from scoring.service.database import (
    connect,
    current_revision,
    head_revision,
    migrate,
    sessions,
    sqlite_url,
)
from scoring.service.rate import RateLimit
from scoring.service.tables import ApiKey, AuditEvent, Base, Facility, Invitation
from tests.conftest import EXAMPLES, agency_at_revision

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
UNLIMITED = RateLimit(burst=10**9)
"""The tests' clock stands still, so no bucket would refill."""
ATTEST = {"attested_name": "Ann Lee", "attestation": "These answers are true and complete."}


def _document(name: str = "ccrc-mixed.yaml") -> dict[str, Any]:
    loaded = yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))
    return dict(json.loads(json.dumps(loaded, default=str)))


@dataclass
class Service:
    client: TestClient
    mine: dict[str, str]
    theirs: dict[str, str]
    database: Any
    folder: Path


@pytest.fixture
def service(database_url: str, tmp_path: Path) -> Iterator[Service]:
    database = connect(database_url)
    migrate(database)
    with Session(database) as session:
        keys = []
        for name in ("Maple Agency", "Birch Agency"):
            organisation = create_organisation(session, name, "agency", now=NOW)
            keys.append(create_api_key(session, organisation, "test", now=NOW))
        session.commit()
    app = create_app(sessions(database), default_engine(), lambda: NOW, tmp_path, UNLIMITED)
    mine, theirs = ({"Authorization": f"Bearer {key}"} for key in keys)
    with TestClient(app) as client:  # started and stopped as `serve` does: books finish first
        yield Service(client, mine, theirs, database, tmp_path)
    database.dispose()


def _facility(service: Service, reference: str = "F-1") -> int:
    made = service.client.post(
        "/v1/facilities", json={"reference": reference, "name": "Maple Court"}, headers=service.mine
    )
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def _submitted(service: Service, document: dict[str, Any] | None = None) -> tuple[int, int]:
    facility = _facility(service)
    made = service.client.post(
        f"/v1/facilities/{facility}/assessments",
        json=document or _document(),
        headers=service.mine,
    )
    assert made.status_code == 201, made.text
    assessment = int(made.json()["id"])
    submitted = service.client.post(
        f"/v1/assessments/{assessment}/submit",
        json=ATTEST,
        headers={**service.mine, "If-Match": made.headers["ETag"]},
    )
    assert submitted.status_code == 200, submitted.text
    return facility, assessment


def test_a_submitted_assessment_is_scored_as_carescore_score_scores_it(service: Service) -> None:
    facility, assessment = _submitted(service)
    scored = service.client.post(
        f"/v1/assessments/{assessment}/score?limit=limit_1m&retention=ret_25k",
        headers=service.mine,
    )
    assert scored.status_code == 201, scored.text
    body = scored.json()
    document = {**_document(), "facility_id": "F-1"}  # the facility's reference
    expected = score(
        document,
        as_of=dt.date.fromisoformat(document["assessed_on"]),
        limit="limit_1m",
        retention="ret_25k",
    )
    assert body["result"] == json.loads(expected.model_dump_json())
    assert (body["premium"], body["tier"], body["outcome"]) == (
        expected.premium,
        expected.tier,
        expected.outcome,
    )
    engine = default_engine()
    assert (body["model_sha256"], body["plan_sha256"]) == (engine.model_sha256, engine.plan_sha256)
    history = service.client.get(f"/v1/facilities/{facility}/scores", headers=service.mine)
    assert [s["premium"] for s in history.json()] == [expected.premium]


def test_a_draft_may_be_incomplete_but_is_submitted_only_when_every_answer_is_valid(
    service: Service,
) -> None:
    facility = _facility(service)
    document = _document()
    answers = dict(document["answers"])
    del answers["sites"], answers["records_held"]
    draft = service.client.post(
        f"/v1/facilities/{facility}/assessments",
        json={**document, "answers": answers},
        headers=service.mine,
    )
    assert draft.status_code == 201, draft.text
    refused = service.client.post(
        f"/v1/assessments/{draft.json()['id']}/submit",
        json=ATTEST,
        headers={**service.mine, "If-Match": draft.headers["ETag"]},
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    missing = {i["question_id"] for i in refused.json()["issues"] if i["reason"] == "required"}
    assert {"sites", "records_held"} <= missing
    still = service.client.get(f"/v1/assessments/{draft.json()['id']}", headers=service.mine)
    assert still.json()["status"] == "draft"


def test_a_bad_answer_is_refused_with_every_issue_in_the_cli_format(service: Service) -> None:
    facility = _facility(service)
    document = _document()
    document["answers"] = {**document["answers"], "rdp_exposed": "maybe", "beds_or_residents": -4}
    refused = service.client.post(
        f"/v1/facilities/{facility}/assessments", json=document, headers=service.mine
    )
    assert refused.status_code == 422
    issues = refused.json()["issues"]
    assert {i["question_id"] for i in issues} >= {"rdp_exposed", "beds_or_residents"}
    first = next(i for i in issues if i["question_id"] == "rdp_exposed")
    assert first["reason"] == "not_yes_no"
    assert first["value"] == "maybe"
    assert set(first) == {
        "reason",
        "message",
        "severity",
        "source",
        "row",
        "facility_id",
        "question_id",
        "value",
        "allowed",
    }


def test_a_submitted_assessment_never_changes_and_a_change_is_a_new_version(
    service: Service,
) -> None:
    facility, assessment = _submitted(service)
    stored = service.client.get(f"/v1/assessments/{assessment}", headers=service.mine)
    changed = service.client.put(
        f"/v1/assessments/{assessment}",
        json=_document(),
        headers={**service.mine, "If-Match": stored.headers["ETag"]},
    )
    assert changed.status_code == 409
    assert "never changes" in changed.json()["detail"]
    again = service.client.post(
        f"/v1/facilities/{facility}/assessments", json=_document(), headers=service.mine
    )
    assert again.json()["version"] == 2
    versions = service.client.get(f"/v1/facilities/{facility}/assessments", headers=service.mine)
    assert [(a["version"], a["status"]) for a in versions.json()] == [
        (1, "submitted"),
        (2, "draft"),
    ]
    assert versions.json()[0]["attested_name"] == ATTEST["attested_name"]


def test_a_write_must_quote_the_records_current_version(service: Service) -> None:
    facility = _facility(service)
    draft = service.client.post(
        f"/v1/facilities/{facility}/assessments", json=_document(), headers=service.mine
    )
    url = f"/v1/assessments/{draft.json()['id']}"
    unquoted = service.client.put(url, json=_document(), headers=service.mine)
    assert unquoted.status_code == 428
    first = service.client.put(url, json=_document(), headers={**service.mine, "If-Match": '"1"'})
    assert first.status_code == 200
    assert first.headers["ETag"] == '"2"'
    lost = service.client.put(url, json=_document(), headers={**service.mine, "If-Match": '"1"'})
    assert lost.status_code == 412
    assert "version 2, not 1" in lost.json()["detail"]


def _routes_with_ids(service: Service) -> list[APIRoute]:
    """The API's routes with an id in their path (the pages have their own test, in
    tests/test_web_assessment.py)."""
    return [
        route
        for route in service.client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, APIRoute) and "{" in route.path and route.path.startswith("/v1/")
    ]


def test_every_route_answers_404_to_another_organisations_ids(service: Service) -> None:
    facility, assessment = _submitted(service)
    scored = service.client.post(f"/v1/assessments/{assessment}/score", headers=service.mine)
    book = service.client.post(
        "/v1/books?filename=one.csv", content=b"facility_id\n", headers=service.mine
    )
    ids = {
        "facility_id": facility,
        "assessment_id": assessment,
        "score_id": scored.json()["id"],
        "book_id": book.json()["id"],
        "kind": "scored",
        "key_id": service.client.get("/v1/api-keys", headers=service.mine).json()[0]["id"],
        "user_id": service.client.post(
            "/v1/users",
            json={"email": "pat@maple.example", "name": "Pat", "role": "agent"},
            headers=service.mine,
        ).json()["id"],
    }
    routes = _routes_with_ids(service)
    assert len(routes) >= 8
    bodies = {"PATCH": {"name": "x"}, "PUT": _document(), "POST": ATTEST}
    for route in routes:
        path = re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), route.path)
        if route.path.endswith("/changes"):
            path += "?before=1&after=1"
        for method in route.methods:
            body = bodies.get(method)
            if route.path.endswith("/assessments") and method == "POST":
                body = _document()
            if route.path.endswith("/invitations"):
                body = {"email": "someone@example.org"}
            answer = service.client.request(
                method,
                path,
                json=None if route.path.endswith("/score") else body,
                headers={**service.theirs, "If-Match": '"1"'},
            )
            assert answer.status_code == 404, (method, route.path, answer.text)
    listed = service.client.get("/v1/facilities", headers=service.theirs)
    assert listed.json()["items"] == []


def test_a_request_without_a_valid_key_is_refused(service: Service) -> None:
    for headers in ({}, {"Authorization": "Bearer cs_nothing_here"}, {"Authorization": "x"}):
        refused = service.client.get("/v1/facilities", headers=headers)
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"


def test_a_key_is_kept_only_as_its_hash_and_a_revoked_key_is_refused(service: Service) -> None:
    key = service.mine["Authorization"].removeprefix("Bearer ")
    assert service.client.get("/v1/facilities", headers=service.mine).status_code == 200
    with Session(service.database) as session:
        rows = session.scalars(select(ApiKey)).all()
        dumped = " ".join(str(v) for row in rows for v in vars(row).values())
        assert key not in dumped
        secret = key.removeprefix("cs_").partition("_")[2]
        assert len(secret) >= 40
        assert secret not in dumped
        used = next(row for row in rows if key.startswith(f"cs_{row.prefix}_"))
        assert used.last_used_at is not None
        revoke_api_key(session, used.prefix, now=NOW)
        session.commit()
    assert service.client.get("/v1/facilities", headers=service.mine).status_code == 401


def test_every_read_and_write_of_an_assessment_is_in_the_audit_log(service: Service) -> None:
    facility, assessment = _submitted(service)
    service.client.get(f"/v1/assessments/{assessment}", headers=service.mine)
    service.client.post(f"/v1/assessments/{assessment}/score", headers=service.mine)
    service.client.get(f"/v1/facilities/{facility}/assessments", headers=service.mine)
    with Session(service.database) as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["create", "submit", "read", "score", "read", "list"]
    assert {e.assessment_id for e in events} == {assessment}
    assert all(e.actor.startswith("api_key:") for e in events)


def test_facilities_are_paged_by_id(service: Service) -> None:
    made = [_facility(service, f"F-{k}") for k in range(5)]
    first = service.client.get("/v1/facilities?size=2", headers=service.mine).json()
    assert [f["id"] for f in first["items"]] == made[:2]
    after = first["next_after"]
    rest = service.client.get(f"/v1/facilities?size=3&after={after}", headers=service.mine)
    assert [f["id"] for f in rest.json()["items"]] == made[2:]


def test_a_body_over_the_limit_is_refused_and_every_answer_carries_security_headers(
    service: Service,
) -> None:
    huge = b"{" + b" " * (MAX_BODY_BYTES + 1) + b"}"
    refused = service.client.post(
        "/v1/facilities",
        content=huge,
        headers={**service.mine, "Content-Type": "application/json"},
    )
    assert refused.status_code == 413
    for answer in (refused, service.client.get("/v1/facilities", headers=service.mine)):
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Cache-Control"] == "no-store"


def test_the_openapi_schema_is_3_1_and_lists_the_agent_api(service: Service) -> None:
    schema = service.client.get("/openapi.json").json()
    assert schema["openapi"].startswith("3.1")
    assert {"/v1/facilities", "/v1/assessments/{assessment_id}/score"} <= set(schema["paths"])


def test_the_migrations_build_the_schema_of_the_tables_from_an_empty_database(
    database_url: str,
) -> None:
    database = connect(database_url)
    assert current_revision(database) is None
    migrate(database)
    assert current_revision(database) == head_revision()
    with database.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        if database.dialect.name == "sqlite":
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    migrate(database)  # again: nothing to do
    assert set(inspect(database).get_table_names()) >= {"assessment", "score", "audit_event"}
    database.dispose()


runner = CliRunner()


def test_admin_creates_an_organisation_and_a_key_the_api_accepts(
    database_url: str, tmp_path: Path
) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    if not database_url.startswith("sqlite"):
        data += ["--database-url", database_url]
    organisation = runner.invoke(cli, ["admin", "create-org", "Oak Agency", *data])
    assert organisation.exit_code == 0, organisation.output
    key = runner.invoke(cli, ["admin", "create-api-key", organisation.output.strip(), *data])
    assert key.exit_code == 0, key.output
    assert key.output.startswith("cs_")
    url = database_url if "--database-url" in data else sqlite_url(tmp_path / "data")
    database = connect(url)
    client = TestClient(
        create_app(sessions(database), default_engine(), lambda: NOW, tmp_path, UNLIMITED)
    )
    answer = client.get("/v1/facilities", headers={"Authorization": f"Bearer {key.output.strip()}"})
    assert answer.status_code == 200
    client.close()
    database.dispose()
    bad = runner.invoke(cli, ["admin", "create-org", "X", "--kind", "hospital", *data])
    assert bad.exit_code == 1
    assert "'hospital' is not an organisation kind" in bad.output
    nobody = runner.invoke(cli, ["admin", "create-api-key", "99", *data])
    assert nobody.exit_code == 1
    assert "no organisation 99" in nobody.output
    revoked = runner.invoke(cli, ["admin", "revoke-api-key", key.output[3:15], *data])
    assert revoked.exit_code == 0, revoked.output
    unreachable = runner.invoke(
        cli, ["admin", "create-org", "Y", "--database-url", "postgresql+psycopg://x@127.0.0.1:1/x"]
    )
    assert unreachable.exit_code == 1
    assert "the database cannot be opened" in unreachable.output


def test_serve_refuses_to_start_without_a_secret_key_outside_dev(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    for secret in ("", "changeme", "short"):
        refused = runner.invoke(cli, ["serve", *data], env={"CARESCORE_SECRET_KEY": secret})
        assert refused.exit_code == 2
        assert "CARESCORE_SECRET_KEY" in refused.output
    assert not (tmp_path / "data").exists()  # nothing made before the refusal
    unreachable = runner.invoke(
        cli,
        ["serve", "--dev", "--database-url", "postgresql+psycopg://x@127.0.0.1:1/x", *data],
    )
    assert unreachable.exit_code == 1
    assert "the database cannot be opened" in unreachable.output


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_dev_starts_on_loopback_creates_its_database_and_answers(
    tmp_path: Path, workers: int
) -> None:
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    port = _free_port()
    data = tmp_path / "data"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scoring",
            "serve",
            "--dev",
            "--port",
            str(port),
            "--data-dir",
            str(data),
            "--workers",
            str(workers),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        schema = None
        while schema is None and time.monotonic() < deadline and process.poll() is None:
            try:
                url = f"http://127.0.0.1:{port}/openapi.json"
                with urllib.request.urlopen(url, timeout=2) as answer:
                    schema = json.loads(answer.read())
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        assert schema is not None, process.stdout.read() if process.poll() is not None else ""
        assert schema["info"]["title"] == "carescore"
        assert (data / "carescore.db").is_file()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/facilities")
        with pytest.raises(urllib.error.HTTPError, match="401"):
            urllib.request.urlopen(request, timeout=2)
    finally:
        process.terminate()
        process.wait(timeout=30)
        said = process.stdout.read() if process.stdout is not None else ""
        if process.stdout is not None:
            process.stdout.close()
    assert f"{workers} worker(s)" in said
    if workers > 1:  # a parent process and its workers, each serving the same database
        assert "Started parent process" in said
        assert said.count("Application startup complete") == workers


def test_parallel_writers_lose_nothing_and_one_of_two_racing_changes_wins(
    service: Service,
) -> None:
    app = service.client.app
    failures: list[str] = []

    def create(worker: int) -> None:
        client = TestClient(app)
        for k in range(10):
            made = client.post(
                "/v1/facilities",
                json={"reference": f"W{worker}-{k}", "name": "Parallel"},
                headers=service.mine,
            )
            if made.status_code != 201:
                failures.append(made.text)

    threads = [threading.Thread(target=create, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with Session(service.database) as session:
        assert session.scalar(select(func.count()).select_from(Facility)) == 80

    facility = _facility(service, "RACE")
    draft = service.client.post(
        f"/v1/facilities/{facility}/assessments", json=_document(), headers=service.mine
    )
    url = f"/v1/assessments/{draft.json()['id']}"
    codes: list[int] = []
    start = threading.Barrier(6)

    def change() -> None:
        client = TestClient(app)
        start.wait()
        answer = client.put(url, json=_document(), headers={**service.mine, "If-Match": '"1"'})
        codes.append(answer.status_code)

    racers = [threading.Thread(target=change) for _ in range(6)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert sorted(codes) == [200] + [412] * 5
    final = service.client.get(url, headers=service.mine)
    assert final.headers["ETag"] == '"2"'


def test_a_score_has_its_html_report_with_the_premium_and_a_policy_for_its_styles(
    service: Service,
) -> None:
    _, assessment = _submitted(service)
    scored = service.client.post(f"/v1/assessments/{assessment}/score", headers=service.mine)
    report = service.client.get(f"/v1/scores/{scored.json()['id']}/report", headers=service.mine)
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/html")
    assert f"${scored.json()['premium']:,.0f}" in report.text
    assert "style-src 'unsafe-inline'" in report.headers["Content-Security-Policy"]
    assert "script-src" not in report.headers["Content-Security-Policy"]
    again = service.client.get(f"/v1/scores/{scored.json()['id']}", headers=service.mine)
    assert again.json() == scored.json()


def test_what_changed_between_two_assessments_of_a_facility(service: Service) -> None:
    facility, first = _submitted(service)
    service.client.post(f"/v1/assessments/{first}/score", headers=service.mine)
    document = _document()
    document["answers"] = {
        **document["answers"],
        "rdp_exposed": "yes",
        "beds_or_residents": str(document["answers"]["beds_or_residents"]),  # same, as text
    }
    draft = service.client.post(
        f"/v1/facilities/{facility}/assessments", json=document, headers=service.mine
    )
    second = draft.json()["id"]
    service.client.post(
        f"/v1/assessments/{second}/submit",
        json=ATTEST,
        headers={**service.mine, "If-Match": draft.headers["ETag"]},
    )
    service.client.post(f"/v1/assessments/{second}/score", headers=service.mine)
    changes = service.client.get(
        f"/v1/facilities/{facility}/changes?before=1&after=2", headers=service.mine
    ).json()
    assert changes["answers"] == [{"question_id": "rdp_exposed", "before": "no", "after": "yes"}]
    assert "rdp_exposed" in changes["score"]["rules_added"]
    assert changes["score"]["rules_removed"] == []
    old, new = changes["score"]["premium"]
    assert new > old
    missing = service.client.get(
        f"/v1/facilities/{facility}/changes?before=1&after=3", headers=service.mine
    )
    assert missing.status_code == 404


def test_a_retried_post_with_an_idempotency_key_is_answered_once(service: Service) -> None:
    body = {"reference": "F-9", "name": "Retried"}
    headers = {**service.mine, "Idempotency-Key": "order-77"}
    first = service.client.post("/v1/facilities", json=body, headers=headers)
    again = service.client.post("/v1/facilities", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    listed = service.client.get("/v1/facilities", headers=service.mine).json()["items"]
    assert [f["reference"] for f in listed] == ["F-9"]
    other = service.client.post(
        "/v1/facilities", json={**body, "reference": "F-10"}, headers=headers
    )
    assert other.status_code == 422
    assert "used for another request" in other.json()["detail"]
    theirs = service.client.post(
        "/v1/facilities", json=body, headers={**service.theirs, "Idempotency-Key": "order-77"}
    )
    assert theirs.status_code == 201  # a key is the organisation's own
    assert theirs.json()["id"] != first.json()["id"]


def test_an_upgrade_from_the_previous_revisions_keeps_the_data(
    database_url: str, tmp_path: Path
) -> None:
    database, _, key = agency_at_revision(database_url, "0001", NOW)
    migrate(database)
    assert current_revision(database) == head_revision() != "0001"
    client = TestClient(
        create_app(sessions(database), default_engine(), lambda: NOW, tmp_path, UNLIMITED)
    )
    answer = client.post(
        "/v1/facilities",
        json={"reference": "E-1", "name": "Elm"},
        headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "k1"},
    )
    assert answer.status_code == 201
    client.close()
    database.dispose()


def test_an_upgrade_from_before_facility_accounts_keeps_facilities_and_invitations(
    database_url: str,
) -> None:
    from sqlalchemy import DateTime, bindparam

    database = connect(database_url)
    migrate(database, "0004")
    stamp = bindparam("t", NOW, type_=DateTime(timezone=True))
    with database.begin() as connection:
        for statement in (
            "INSERT INTO organisation (id, name, kind, created_at) VALUES (1, 'Elm', 'agency', :t)",
            "INSERT INTO facility (id, organisation_id, reference, name, created_at, row_version)"
            " VALUES (1, 1, 'E-1', 'Elm Court', :t, 1)",
            "INSERT INTO invitation (id, organisation_id, facility_id, prefix, secret_sha256,"
            " created_at, expires_at) VALUES (1, 1, 1, 'abc', 'x', :t, :t)",
        ):
            connection.execute(text(statement).bindparams(stamp))
    migrate(database)
    assert current_revision(database) == head_revision()
    with Session(database) as session:
        facility = session.get(Facility, 1)
        assert facility is not None
        assert (facility.name, facility.facility_organisation_id) == ("Elm Court", None)
        assert session.get(Invitation, 1) is not None
    database.dispose()


def _finished(service: Service, book: int) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = service.client.get(f"/v1/books/{book}", headers=service.mine).json()
        if job["status"] in ("done", "failed"):
            return dict(job)
        time.sleep(0.1)
    raise AssertionError(f"book {book} still {job['status']}")


def test_an_uploaded_book_is_scored_as_carescore_batch_scores_it(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scoring.portfolio.run import score_book

    source = EXAMPLES / "portfolio.csv"
    queued = service.client.post(
        "/v1/books?filename=portfolio.csv&as_of=2026-11-29",
        content=source.read_bytes(),
        headers=service.mine,
    )
    assert queued.status_code == 202, queued.text
    assert queued.json()["status"] in ("queued", "running", "done")
    job = _finished(service, queued.json()["id"])
    assert job["status"] == "done", job
    assert job["rows_read"] == job["rows_scored"] + job["rows_rejected"] == 240
    expected = service.folder / "cli" / "scored.csv"
    expected.parent.mkdir()
    monkeypatch.chdir(EXAMPLES)  # the CLI run names the book as the service does
    score_book(Path("portfolio.csv"), expected, default_engine(), as_of=dt.date(2026, 11, 29))
    for kind, name in (("scored", "scored.csv"), ("warnings", "scored.warnings.csv")):
        got = service.client.get(f"/v1/books/{job['id']}/files/{kind}", headers=service.mine)
        assert got.status_code == 200
        assert got.headers["content-type"].startswith("text/csv")
        assert got.content == (expected.parent / name).read_bytes()


def test_a_book_that_cannot_be_read_fails_with_the_readers_reasons(service: Service) -> None:
    queued = service.client.post(
        "/v1/books?filename=broken.xlsx", content=b"PK\x03\x04 not a workbook", headers=service.mine
    )
    job = _finished(service, queued.json()["id"])
    assert job["status"] == "failed"
    assert job["problem"]["issues"]
    assert job["problem"]["detail"].startswith("broken.xlsx")  # as uploaded, not where kept
    assert str(service.folder) not in json.dumps(job["problem"])
    early = service.client.get(f"/v1/books/{job['id']}/files/scored", headers=service.mine)
    assert early.status_code == 409
    wrong = service.client.post("/v1/books?filename=book.txt", content=b"x", headers=service.mine)
    assert wrong.status_code == 422
    offered = service.client.post(
        "/v1/books?filename=b.csv&limit=limit_9m", content=b"x", headers=service.mine
    )
    assert offered.status_code == 422
    assert offered.json()["issues"][0]["question_id"] == "requested_limit"


def test_a_key_beyond_its_rate_is_told_when_to_come_back(tmp_path: Path) -> None:
    database = connect(sqlite_url(tmp_path))
    migrate(database)
    with Session(database) as session:
        organisation = create_organisation(session, "Fir Agency", "agency", now=NOW)
        key = create_api_key(session, organisation, "busy", now=NOW)
        session.commit()
    clock = [NOW]
    rate = RateLimit(burst=3, per_second=0.5)
    app = create_app(sessions(database), default_engine(), lambda: clock[0], tmp_path, rate)
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as client:
        assert [client.get("/v1/facilities", headers=headers).status_code for _ in range(3)] == [
            200
        ] * 3
        refused = client.get("/v1/facilities", headers=headers)
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "2"
        clock[0] = NOW + dt.timedelta(seconds=2)
        assert client.get("/v1/facilities", headers=headers).status_code == 200
    database.dispose()


def test_an_invited_facility_answers_and_submits_its_own_assessment_and_nothing_else(
    service: Service,
) -> None:
    facility = _facility(service, "F-1")
    other = _facility(service, "F-2")
    invited = service.client.post(
        f"/v1/facilities/{facility}/invitations",
        json={"email": "it@maple.example"},
        headers=service.mine,
    )
    assert invited.status_code == 201, invited.text
    token = invited.json()["token"]
    assert token.startswith("ci_")
    assert invited.json()["expires_at"] == "2026-12-15T12:00:00Z"
    me = {"Authorization": f"Bearer {token}"}
    listed = service.client.get("/v1/facilities", headers=me).json()["items"]
    assert [f["id"] for f in listed] == [facility]
    draft = service.client.post(
        f"/v1/facilities/{facility}/assessments", json=_document(), headers=me
    )
    assert draft.status_code == 201
    assert draft.json()["answered_by"] == "IT Director"  # as the document says
    submitted = service.client.post(
        f"/v1/assessments/{draft.json()['id']}/submit",
        json=ATTEST,
        headers={**me, "If-Match": draft.headers["ETag"]},
    )
    assert submitted.status_code == 200
    assert service.client.get(f"/v1/facilities/{other}", headers=me).status_code == 404
    for refused in (
        service.client.post(f"/v1/assessments/{draft.json()['id']}/score", headers=me),
        service.client.get(f"/v1/facilities/{facility}/scores", headers=me),
        service.client.post("/v1/facilities", json={"reference": "X", "name": "X"}, headers=me),
        service.client.post(f"/v1/facilities/{facility}/invitations", json={}, headers=me),
    ):
        assert refused.status_code == 403, refused.text
    with Session(service.database) as session:
        actors = {e.actor.split(":")[0] for e in session.scalars(select(AuditEvent))}
    assert actors == {"invitation"}
    scored = service.client.post(
        f"/v1/assessments/{draft.json()['id']}/score", headers=service.mine
    )
    assert scored.status_code == 201  # the agency scores what the facility submitted


def test_an_invitation_expires(service: Service) -> None:
    facility = _facility(service)
    token = service.client.post(
        f"/v1/facilities/{facility}/invitations", json={}, headers=service.mine
    ).json()["token"]
    later = create_app(
        sessions(service.database),
        default_engine(),
        lambda: NOW + dt.timedelta(days=15),
        service.folder,
        UNLIMITED,
    )
    with TestClient(later) as client:
        answer = client.get("/v1/facilities", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401


def test_a_book_beyond_the_upload_limit_is_refused_as_it_arrives_and_nothing_is_kept(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scoring.service import books

    monkeypatch.setattr(books, "MAX_BOOK_BYTES", 1_000)

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(5):
            yield b"x" * 500

    refused = service.client.post(
        "/v1/books?filename=big.csv", content=chunked(), headers=service.mine
    )
    assert refused.status_code == 413
    assert "at most 1,000 bytes" in refused.json()["detail"]
    assert not list((service.folder / "books").glob("*/big.csv"))


def test_a_compressed_workbook_bomb_uploaded_fails_with_the_readers_reason(
    service: Service,
) -> None:
    from tests.test_budget import _shared_strings_bomb

    bomb = _shared_strings_bomb(service.folder / "bomb.xlsx", 20_000_000)
    queued = service.client.post(
        "/v1/books?filename=bomb.xlsx", content=bomb.read_bytes(), headers=service.mine
    )
    assert queued.status_code == 202
    job = _finished(service, queued.json()["id"])
    assert job["status"] == "failed"
    assert "more than 100 times its compressed size" in job["problem"]["detail"]
