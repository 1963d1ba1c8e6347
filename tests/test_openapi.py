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
    pages = {("GET", "/"), ("GET", "/public/incidents/{id}"), ("GET", "/public"), ("GET", "/static")}
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
    # Swagger UI, vendored, renders /openapi.json (tests/test_console_docs.py opens it in a browser); the
    # page itself holds no inline script or style and names no other host.
    vendor = "/static/vendor/swagger-ui"
    assert re.findall(r"<script[^>]*>", page) == [
        f'<script defer src="{vendor}/swagger-ui-bundle.js">', '<script defer src="/static/js/docs.js">']
    assert "<style" not in page and " style=" not in page
    assert 'id="problem-validation-failed"' in page
    assert "http://" not in page and "https://" not in page
    for asset in ("/static/vendor/swagger-ui/swagger-ui-bundle.js", "/static/vendor/swagger-ui/swagger-ui.css",
                  "/static/js/docs.js", "/static/css/docs.css"):
        assert (await anonymous.get(asset)).status == 200, asset


def test_each_served_route_is_described_by_its_own_operation(app):
    from handlers.middleware import OPERATIONS

    for route, operation in app[OPERATIONS].items():
        expected = "GET" if route.method == "HEAD" else route.method
        assert operation.method == expected, (route.method, route.resource.canonical, operation.method)


async def _operations(anonymous):
    document = await (await anonymous.get("/openapi.json")).json()
    for path, item in document["paths"].items():
        for method, op in item.items():
            yield f"{method.upper()} {path}", op, document


async def test_every_operation_documents_rate_limits_and_outages(anonymous):
    async for where, op, _ in _operations(anonymous):
        limited = op["responses"]["429"]
        assert {"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= limited["headers"].keys()
        assert limited["headers"]["Retry-After"]["required"], where
        # The ledger's public key is in the process, not the database: it cannot be unavailable.
        database = op["security"] or where.startswith(("GET /v1/public", "GET /readyz"))
        if database and where != "GET /v1/public/ledger-key":
            assert op["responses"]["503"]["headers"]["Retry-After"]["required"], where
        if "requestBody" in op:
            assert "408" in op["responses"], where


async def test_every_created_resource_is_located_and_every_versioned_one_tagged(anonymous):
    located = 0
    async for where, op, document in _operations(anonymous):
        # Offers and aggregate evacuations have no URL of their own (read back through the incident's lists).
        if "201" in op["responses"] and where not in ("POST /v1/incidents/{id}/offers",
                                                      "POST /v1/incidents/{id}/evacuations"):
            assert op["responses"]["201"]["headers"]["Location"]["required"], where
            located += 1
        for status in ("200", "201"):
            ref = op["responses"].get(status, {}).get("content", {}).get("application/json", {}).get("schema", {})
            name = ref.get("$ref", "").rsplit("/", 1)[-1]
            properties = document["components"]["schemas"].get(name, {}).get("properties", {})
            if properties.get("version", {}).get("type") == "integer":
                assert op["responses"][status]["headers"]["ETag"]["required"], where
    assert located > 10


async def test_success_statuses_include_what_the_server_also_answers(anonymous):
    document = await (await anonymous.get("/openapi.json")).json()
    register = document["paths"]["/v1/incidents/{id}/residents"]["post"]
    assert {"200", "201"} <= register["responses"].keys()
    pledge = document["paths"]["/v1/calls/{id}/pledges"]["post"]
    assert {"Idempotent-Replayed", "Location", "ETag"} <= pledge["responses"]["201"]["headers"].keys()


async def test_patterns_and_bounds_the_server_enforces_are_in_the_schema(anonymous):
    document = await (await anonymous.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    region = schemas["IncidentCreate"]["properties"]["regions"]["items"]
    assert re.fullmatch(region["pattern"], "320500") and not re.search(region["pattern"], "100000")
    listing = document["paths"]["/v1/incidents"]["get"]
    cursor = next(p for p in listing["parameters"] if p["name"] == "cursor")["schema"]
    cursor = next(b for b in cursor.get("anyOf", [cursor]) if b.get("type") == "string")
    assert cursor["maxLength"] == 500 and not re.search(cursor["pattern"], "a b")
    personnel = schemas["PersonnelCallCreate"]["properties"]["headcount"]
    assert personnel["minimum"] == 1
    quantity = schemas["GoodsCallCreate"]["properties"]["quantity"]["anyOf"]
    number, text = (next(b for b in quantity if b["type"] == kind) for kind in ("number", "string"))
    assert number["exclusiveMinimum"] == 0
    for refused in ("", "0", "0.00", "1_000", "١٢٣", "１２３", "-1"):
        assert not re.search(text["pattern"], refused), refused
    assert re.search(text["pattern"], "0.5") and re.search(text["pattern"], "500")


async def test_patch_fields_are_nullable_only_where_null_clears_them(anonymous):
    from models.calls import CallUpdate
    from models.incidents import IncidentUpdate
    from models.organizations import OrganizationUpdate
    from models.shelters import ShelterUpdate
    from models.webhooks import WebhookUpdate

    schemas = (await (await anonymous.get("/openapi.json")).json())["components"]["schemas"]
    for model in (CallUpdate, IncidentUpdate, OrganizationUpdate, ShelterUpdate, WebhookUpdate):
        for name, prop in schemas[model.__name__]["properties"].items():
            nullable = {"type": "null"} in prop.get("anyOf", []) or prop.get("type") == "null"
            assert nullable == (name in model.nullable), (model.__name__, name)
