"""/openapi.json is a valid OpenAPI 3.1 document describing exactly the routes the app serves."""

from __future__ import annotations

import re

from openapi_spec_validator import validate


async def test_document_is_valid_openapi(anonymous):
    response = await anonymous.get("/openapi.json")
    assert response.status == 200
    document = await response.json()
    assert document["openapi"].startswith("3.1")
    validate(document)


async def test_document_lists_every_served_route(anonymous, app):
    document = await (await anonymous.get("/openapi.json")).json()
    documented = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    served = set()
    for route in app.router.routes():
        info = route.resource.get_info()
        path = info.get("path") or info.get("formatter") or info.get("prefix")
        if route.method == "HEAD":
            continue
        served.add((route.method, path))
    # The console's pages and files are HTML for browsers, not API operations.
    pages = {("GET", "/"), ("GET", "/public/incidents/{id}"), ("GET", "/static")}
    assert pages <= served
    assert served - pages == documented
    assert len(served) > 20


async def test_every_protected_operation_declares_security_and_errors(anonymous):
    document = await (await anonymous.get("/openapi.json")).json()
    for path, item in document["paths"].items():
        for method, op in item.items():
            where = f"{method.upper()} {path}"
            if op["security"]:
                assert op["security"] == [{"bearerAuth": []}], where
                assert {"401", "503"} <= op["responses"].keys(), where
            if "requestBody" in op:
                assert {"400", "415", "422"} <= op["responses"].keys(), where
            for status, response in op["responses"].items():
                if status.startswith(("4", "5")):
                    assert "application/problem+json" in response["content"], where
            for name in re.findall(r"{(\w+)}", path):
                assert any(p["name"] == name and p["in"] == "path" for p in op["parameters"]), where
    patch = document["paths"]["/v1/incidents/{id}"]["patch"]
    assert any(p["name"] == "If-Match" and p["required"] for p in patch["parameters"])
    assert "428" in patch["responses"] and "412" in patch["responses"]
    assert document["paths"]["/healthz"]["get"]["security"] == []


async def test_docs_page_is_served_locally(anonymous):
    response = await anonymous.get("/docs")
    assert response.status == 200
    assert response.content_type == "text/html"
    page = await response.text()
    assert "/v1/incidents/{id}/close" in page
    assert 'id="problem-validation-failed"' in page
    assert "<script" not in page and "http://" not in page and "https://" not in page


def test_each_served_route_is_described_by_its_own_operation(app):
    from handlers.middleware import OPERATIONS

    for route, operation in app[OPERATIONS].items():
        expected = "GET" if route.method == "HEAD" else route.method
        assert operation.method == expected, (route.method, route.resource.canonical, operation.method)
