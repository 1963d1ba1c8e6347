"""HTTP behaviour: problem+json for every error, request ids, the canonical log line."""

from __future__ import annotations

import base64
import io
import json
import logging

import pytest

from tests.conftest import incident_body

PROBLEM_MEMBERS = {"type", "title", "status", "detail"}


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    """No error records and no exception attached, in either of the ways structlog or logging attach one."""
    for record in caplog.records:
        assert record.levelno < logging.ERROR, record.getMessage()
        assert record.exc_info is None, record.getMessage()
        if isinstance(record.msg, dict):
            assert not {"exc_info", "exception"} & record.msg.keys(), record.msg
    assert "Traceback" not in caplog.text


async def test_no_tracebacks_sees_a_logged_exception(caplog):
    """The checker itself can fail: an exception logged through structlog is caught by it."""
    import structlog

    try:
        raise RuntimeError("boom")
    except RuntimeError:
        structlog.get_logger("relief.http").exception("unhandled_error")
    with pytest.raises(AssertionError):
        no_tracebacks(caplog)


async def assert_problem(response, status: int) -> dict:
    assert response.status == status
    assert response.content_type == "application/problem+json"
    body = await response.json()
    assert PROBLEM_MEMBERS <= body.keys()
    assert body["status"] == status
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


@pytest.mark.parametrize(
    ("payload", "content_type", "status"),
    [
        (b'{"code": "x",', "application/json", 400),
        (b'{"code": NaN}', "application/json", 400),
        (b"\xff\xfe", "application/json", 400),
        (b"code=x", "application/x-www-form-urlencoded", 415),
        (b'{"code": "x"}', "text/plain", 415),
        (b"[1, 2]", "application/json", 422),
        (b"[" * 200_000 + b"]" * 200_000, "application/json", 400),
        (b'{"code": "X", "title": "a\\u0000b"}', "application/json", 422),
        (b'{"title": "x", "code": "NUL", "type": "flood", "severity": "II", "regions": ["320500"],'
         b' "started_at": "9999-12-31T23:00:00-05:00"}', "application/json", 422),
    ],
)
async def test_bad_bodies_get_problems(dispatcher, caplog, payload, content_type, status):
    response = await dispatcher.post(
        "/v1/incidents", data=payload, headers={"Content-Type": content_type}
    )
    await assert_problem(response, status)
    no_tracebacks(caplog)


async def test_two_mebibyte_body_is_413(dispatcher, caplog):
    payload = json.dumps(incident_body(description="x" * (2 * 1024 * 1024))).encode()
    response = await dispatcher.post(
        "/v1/incidents", data=io.BytesIO(payload), headers={"Content-Type": "application/json"}
    )
    await assert_problem(response, 413)
    no_tracebacks(caplog)


def _cursor(value: object) -> str:
    """A cursor forged the way this service encodes its own."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "path",
    [
        "/v1/events?cursor=" + _cursor(99999999999999999999),
        "/v1/incidents?cursor=" + _cursor(["9999-12-31T23:59:59-10:00", "00000000-0000-0000-0000-000000000000"]),
        "/v1/incidents?severity=%00",
    ],
)
async def test_forged_queries_get_422(dispatcher, caplog, path):
    await assert_problem(await dispatcher.get(path), 422)
    no_tracebacks(caplog)


async def test_actions_refuse_bodies_that_are_not_empty_json(dispatcher, caplog):
    incident = await (await dispatcher.post("/v1/incidents", json=incident_body())).json()
    path = f"/v1/incidents/{incident['id']}/close"
    await assert_problem(await dispatcher.post(path, data=b"x" * 10, headers={"Content-Type": "text/plain"}), 415)
    await assert_problem(await dispatcher.post(path, data=b"{", headers={"Content-Type": "application/json"}), 400)
    await assert_problem(await dispatcher.post(path, json={"why": "x"}), 422)
    big = io.BytesIO(b" " * (2 * 1024 * 1024))
    await assert_problem(await dispatcher.post(path, data=big, headers={"Content-Type": "application/json"}), 413)
    assert (await dispatcher.post(path, json={})).status == 200
    no_tracebacks(caplog)


async def test_odd_authorization_bytes_get_401(client, caplog):
    response = await client.get("/v1/incidents", headers={"Authorization": "Bearer rk_\u00ff\u00fe"})
    await assert_problem(response, 401)
    no_tracebacks(caplog)


async def test_head_is_answered_where_get_is(anonymous, dispatcher):
    assert (await anonymous.call("HEAD", "/healthz")).status == 200
    assert (await anonymous.call("HEAD", "/v1/incidents")).status == 401
    assert (await dispatcher.call("HEAD", "/v1/incidents")).status == 200


async def test_unknown_route_and_method(anonymous, dispatcher, caplog):
    body = await assert_problem(await anonymous.get("/v1/nothing-here"), 404)
    assert body["instance"] == "/v1/nothing-here"
    response = await dispatcher.delete("/v1/incidents")
    await assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]
    no_tracebacks(caplog)


async def test_request_id_is_taken_or_made_and_logged(anonymous, caplog):
    caplog.set_level(logging.INFO, logger="relief.http")
    response = await anonymous.get("/healthz", headers={"X-Request-ID": "trace-42"})
    assert response.headers["X-Request-ID"] == "trace-42"
    made = (await anonymous.get("/healthz")).headers["X-Request-ID"]
    assert len(made) == 32
    bogus = await anonymous.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert bogus.headers["X-Request-ID"] != "bad id\twith spaces"

    lines = [r.msg for r in caplog.records if r.name == "relief.http" and isinstance(r.msg, dict)]
    line = next(entry for entry in lines if entry.get("request_id") == "trace-42")
    assert line["event"] == "request"
    assert line["method"] == "GET"
    assert line["route"] == "/healthz"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)


async def test_canonical_line_names_principal_but_never_the_key(dispatcher, caplog):
    caplog.set_level(logging.INFO, logger="relief.http")
    response = await dispatcher.get("/v1/incidents")
    assert response.status == 200
    entries = [r.msg for r in caplog.records if r.name == "relief.http" and isinstance(r.msg, dict)]
    entry = next(e for e in entries if e.get("route") == "/v1/incidents")
    assert entry["role"] == "dispatcher"
    assert entry["principal"]
    assert dispatcher.key not in caplog.text


async def test_json_numbers_are_never_floats(dispatcher):
    """A JSON number where a string is expected is refused rather than silently converted."""
    response = await dispatcher.post("/v1/incidents", json=incident_body(title=0.1))
    body = await assert_problem(response, 422)
    assert body["errors"][0]["pointer"] == "/title"


async def test_metrics_count_requests_by_route(anonymous, dispatcher):
    await dispatcher.get("/v1/incidents")
    await anonymous.get("/v1/nope")
    text = await (await anonymous.get("/metrics")).text()
    assert 'relief_http_requests_total{method="GET",route="/v1/incidents",status="200"} 1.0' in text
    assert 'route="unmatched",status="404"' in text
    assert "relief_http_request_duration_seconds_bucket" in text
    assert "relief_db_pool_connections" in text
