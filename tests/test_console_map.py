"""The incident map in a real browser, with every request to another host than the test server refused: the
Doksuri demo's six districts are outlined and each shelter and site is a marker with its occupancy on hover; a
call's delivery point and a task's area appear once they have coordinates; a tile server is asked only when
RELIEF_MAP_TILES names one, and the CSP lets exactly that host in."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

import pytest
from pydantic import ValidationError

from relief.settings import Settings
from tests.console_world import Console, DemoWorld, Http, World, expect

# A 1×1 transparent PNG: what the pretend tile server answers.
PIXEL = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")
TILES = "https://t{s}.tiles.example/{z}/{x}/{y}.png"


async def _only_this_host(console: Console, *, tiles_host: str | None = None) -> list[str]:
    """Refuse (and record) every request to a host other than the test server; answer tiles_host's with a pixel."""
    own = urlsplit(console.url).netloc
    elsewhere: list[str] = []

    async def handle(route: Any) -> None:
        url = urlsplit(route.request.url)
        if url.scheme in ("data", "blob") or url.netloc == own:
            await route.continue_()
        elif tiles_host and url.hostname and url.hostname.endswith(tiles_host):
            elsewhere.append(route.request.url)
            await route.fulfill(status=200, content_type="image/png", body=PIXEL)
        else:
            elsewhere.append(route.request.url)
            await route.abort()

    await console.page.context.route("**/*", handle)
    return elsewhere


async def _open_map(console: Console, incident_id: str) -> None:
    await console.goto(f"#/incidents/{incident_id}/map")
    await console.page.locator(".map-canvas[data-drawn=true]").wait_for()


async def test_the_demo_map_draws_offline_its_districts_and_a_marker_per_shelter(
    console: Console, doksuri: DemoWorld, http: Any
):
    page = console.page
    elsewhere = await _only_this_host(console)
    bureau = Http(http, doksuri.dispatcher_key)
    incident = await bureau.get(f"/v1/incidents/{doksuri.incident_id}")
    shelters = (await bureau.get(f"/v1/incidents/{doksuri.incident_id}/shelters?limit=200"))["items"]
    sites = (await bureau.get(f"/v1/incidents/{doksuri.incident_id}/sites?limit=200"))["items"]
    assert len(incident["regions"]) == 6 and shelters and all(s["location"] for s in shelters)

    await console.sign_in(doksuri.dispatcher_key)
    await _open_map(console, doksuri.incident_id)
    await expect(page.get_by_role("heading", name="事件地图")).to_be_visible()
    canvas = page.locator(".map-canvas")
    await expect(canvas).to_have_attribute("data-tiles", "off")
    await expect(page.get_by_text("未设置底图服务")).to_be_visible()
    for code in incident["regions"]:  # every affected district has its outline, drawn as an SVG path
        await expect(canvas.locator(f"svg path.map-region.region-{code}")).to_have_count(1)
    await expect(canvas.locator("svg path.map-context").first).to_be_attached()  # the rest of Jiangsu, faintly
    await expect(canvas.locator("path.map-shelter")).to_have_count(len(shelters))
    await expect(canvas.locator("path.map-site")).to_have_count(sum(1 for s in sites if s["location"]))
    await expect(canvas.locator(".leaflet-tile")).to_have_count(0)

    # Hovering a shelter shows its occupancy against its capacity.
    await canvas.locator("path.map-shelter").first.hover()
    tooltip = page.locator(".leaflet-tooltip")
    await expect(tooltip).to_contain_text("已安置")
    await expect(tooltip).to_contain_text("容量")
    # The demo's calls with a delivery point give its coordinates: each is a marker (none is guessed).
    calls = (await bureau.get(f"/v1/incidents/{doksuri.incident_id}/calls?limit=200"))["items"]
    delivering = [c for c in calls if c["deliver_to"] and c["deliver_to"]["lat"] is not None]
    assert len(delivering) == 3
    await expect(canvas.locator("path.map-call")).to_have_count(len(delivering))
    await console.screenshot("map-zh")
    assert elsewhere == [], f"the map asked another host: {elsewhere}"


async def test_a_delivery_point_and_a_task_with_coordinates_appear_with_their_need(console: Console, lakeside: World):
    page = console.page
    elsewhere = await _only_this_host(console)
    base = f"/v1/incidents/{lakeside.incident['id']}"
    bureau = lakeside.dispatcher_api
    await bureau.post(f"{base}/calls", {
        "kind": "goods", "title": "Sandbags for the dyke", "item": "sandbag", "unit": "piece", "quantity": "800",
        "deliver_to": {"address": "Dyke road", "lat": 31.21, "lon": 120.42}, "status": "open"})
    await bureau.post(f"{base}/tasks", {"title": "Search the north shore", "headcount": 4,
                                        "area": {"description": "North shore", "circle": "31.25,120.45 2"}})
    await bureau.post(f"{base}/tasks", {"title": "Check the pump", "headcount": 2,
                                        "area": {"description": "Pump house", "point": "31.2,120.5"}})

    await console.sign_in(lakeside.dispatcher_key)
    await _open_map(console, lakeside.incident["id"])
    canvas = page.locator(".map-canvas")
    await expect(canvas.locator("svg path.map-region.region-320506")).to_have_count(1)
    await expect(canvas.locator("path.map-call")).to_have_count(1)
    await expect(canvas.locator("path.map-task")).to_have_count(2)
    await expect(canvas.locator("path.map-shelter")).to_have_count(0)  # Lakeside's shelters have no coordinates
    await expect(page.locator(".map-notes")).to_contain_text("2 个安置点没有填写坐标")
    await canvas.locator("path.map-call").hover()
    await expect(page.locator(".leaflet-tooltip")).to_contain_text("尚缺 800")
    await expect(page.locator(".leaflet-tooltip")).to_contain_text("需求 800")
    assert elsewhere == [], f"the map asked another host: {elsewhere}"


@pytest.mark.parametrize("settings", [{"map_tiles": TILES, "map_tiles_attribution": "© Tiles Example",
                                       "map_tiles_subdomains": "0123"}], indirect=True)
async def test_a_named_tile_server_is_the_one_other_host_asked_and_the_csp_lets_it_in(
    console: Console, lakeside: World, http: Any
):
    page = console.page
    async with http.get("/") as response:
        policy = response.headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://*.tiles.example;" in policy
    async with http.get("/console/config") as response:
        config = await response.json()
    assert config["map_tiles"] == {"url": TILES, "attribution": "© Tiles Example", "subdomains": "0123"}

    asked = await _only_this_host(console, tiles_host=".tiles.example")
    await console.sign_in(lakeside.dispatcher_key)
    await _open_map(console, lakeside.incident["id"])
    canvas = page.locator(".map-canvas")
    await expect(canvas).to_have_attribute("data-tiles", "on")
    await expect(canvas.locator("img.leaflet-tile-loaded").first).to_be_attached()
    await expect(page.locator(".map-attribution")).to_contain_text("© Tiles Example")
    assert asked and all(urlsplit(url).hostname.endswith(".tiles.example") for url in asked), asked
    # (a CSP violation would have failed the test through the console fixture)


async def test_without_a_tile_server_the_csp_allows_no_other_image_host(http: Any):
    async with http.get("/") as response:
        policy = response.headers["Content-Security-Policy"]
    assert "img-src 'self' data:;" in policy
    async with http.get("/console/config") as response:
        assert (await response.json())["map_tiles"] is None


@pytest.mark.parametrize("template", [
    "https://tiles.example/{z}/{x}/{y}.png; script-src *",  # would add a directive to the CSP
    "https://tiles.example/{z}/{x}/{y}.png 'unsafe-inline'",
    "ftp://tiles.example/{z}/{x}/{y}.png",
    "https://tiles.example/{z}/{x}.png",  # no {y}
    "https://a.{s}.tiles.example/{z}/{x}/{y}.png",  # {s} past the first label: no CSP wildcard for it
    "https://{s}/{z}/{x}/{y}.png",
])
def test_a_tile_template_that_is_not_a_plain_url_is_refused_at_start(template: str):
    with pytest.raises(ValidationError, match="RELIEF_MAP_TILES"):
        Settings(map_tiles=template)


def test_the_csp_source_of_a_tile_server_covers_its_subdomains_and_port():
    assert Settings(map_tiles=TILES).map_tiles_source == "https://*.tiles.example"
    assert Settings(map_tiles="http://10.0.0.5:8080/t/{z}/{x}/{y}.png").map_tiles_source == "http://10.0.0.5:8080"
    assert Settings(map_tiles="").map_tiles is None
