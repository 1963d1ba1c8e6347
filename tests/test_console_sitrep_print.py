"""A situation report's printable page in Chromium: no error or CSP violation, and printed on A4 nothing
runs past the right margin, however long its text, names and region lists are."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from models.keys import Role
from tests.conftest import organization_body
from tests.console_world import Console, Http, make_key

A4_WIDTH = 794  # 210 mm at 96 CSS px per inch
A4_CONTENT = 680  # 210 mm − 2 × 15 mm of @page margin = 180 mm ≈ 680.3 px

# Text without a space to break at: Chinese prose, a name, an item code, a run of digits.
LONG_CHINESE = "受强降雨影响太湖水位持续上涨东山镇西山镇多个村庄出现内涝群众紧急转移安置工作正在有序进行" * 8
LONG_NAME = "苏州市吴中区东山镇太湖沿岸应急救援志愿者协会暨蓝天救援队水上搜救分队" * 2
LONG_ITEM = "waterproof_emergency_thermal_blanket_with_reflective_aluminium_coating_extra_large"
REGIONS = [f"3205{n:02d}" for n in range(1, 60)]

# Every element's right edge, and any cell whose content is wider than the cell itself (text overflowing
# a fixed-layout cell would not move the cell's edge, only spill over its neighbour).
OVERFLOW = """(limit) => {
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const right = el.getBoundingClientRect().right;
    if (right > limit + 0.5) out.push(`${el.tagName}.${el.className} right=${right}`);
  }
  for (const cell of document.querySelectorAll('td, th, dd')) {
    if (cell.scrollWidth > cell.clientWidth + 1) out.push(`${cell.tagName}: ${cell.textContent.slice(0, 40)}`);
  }
  return {scrollWidth: document.documentElement.scrollWidth, overflowing: out.slice(0, 10)};
}"""


async def long_report(conn: asyncpg.Connection, http) -> tuple[str, str]:
    """A report whose every part is long: returns (a viewer's key, the report's id)."""
    bureau = Http(http, await make_key(conn, Role.dispatcher, name="签发人" + "值班调度员" * 12))
    organization = await bureau.post("/v1/organizations", organization_body(0, name=LONG_NAME))
    await bureau.post(f"/v1/organizations/{organization['id']}/approve")
    team = Http(http, await make_key(conn, Role.organization, uuid.UUID(organization["id"])))
    incident = await bureau.post("/v1/incidents", {
        "code": "2023-DOKSURI-SUZHOU-TAIHU-EASTERN-SHORE-FLOOD-RESPONSE-LEVEL-II", "title": LONG_CHINESE[:300],
        "type": "typhoon", "severity": "II", "regions": REGIONS, "started_at": "2023-07-28T01:55:00Z"})
    base = f"/v1/incidents/{incident['id']}"
    for region in REGIONS[:12]:
        await bureau.post(f"{base}/impacts", {"region": region, "figure": "affected", "value": "123456789",
                                              "source": "organization", "organization_id": organization["id"]})
        await bureau.post(f"{base}/impacts", {"region": region, "figure": "direct_loss", "value": "98765432101.25",
                                              "source": "government"})
    goods = await bureau.post(f"{base}/calls", {
        "kind": "goods", "title": LONG_CHINESE[:300], "item": LONG_ITEM, "unit": "piece", "quantity": "99999999",
        "priority": "critical", "deadline": "2023-08-01T10:00:00Z", "status": "open"})
    money = await bureau.post(f"{base}/calls", {"kind": "money", "title": "善款" + LONG_NAME,
                                                "amount": "99999999999.99", "status": "open"})
    pledge = await team.post(f"/v1/calls/{goods['id']}/pledges", {"quantity": "40"}, idempotent=True)
    await bureau.post(f"/v1/pledges/{pledge['id']}/accept")
    await team.post(f"/v1/calls/{money['id']}/pledges", {"amount": "12345678901.23"}, idempotent=True)
    await bureau.post(f"{base}/donations", {"kind": "money", "amount": "98765432109.87", "donor": {"anonymous": True}},
                      idempotent=True)
    await bureau.post(f"{base}/shelters", {"name": LONG_NAME, "address": LONG_CHINESE[:200], "capacity": 100000})
    await bureau.post(f"{base}/sitreps", {"kind": "initial", "narrative": "初报"})
    narrative = "\n\n".join([LONG_CHINESE, "第二段：" + LONG_ITEM * 3, "x" * 600])
    report = await bureau.post(f"{base}/sitreps", {"kind": "update", "narrative": narrative})
    return await make_key(conn, Role.viewer, name="auditor"), report["id"]


async def fits_a4(console: Console, path: str) -> None:
    page = console.page
    await page.goto(console.url + path)
    assert await page.evaluate("getComputedStyle(document.body).maxWidth") != "none"  # the stylesheet loaded
    await page.emulate_media(media="print")
    for width in (A4_WIDTH, A4_CONTENT):
        await page.set_viewport_size({"width": width, "height": 1123})
        measured = await page.evaluate(OVERFLOW, width)
        assert measured["scrollWidth"] <= width and measured["overflowing"] == [], (path, width, measured)
    pdf = await page.pdf(format="A4", prefer_css_page_size=True)
    assert pdf.startswith(b"%PDF-") and pdf.count(b"/Type /Page") > 1
    await page.emulate_media(media="screen")


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_long_report_prints_on_a4_without_overflow(console: Console, conn: asyncpg.Connection, http,
                                                           lang: str):
    viewer_key, report_id = await long_report(conn, http)
    await console.page.context.set_extra_http_headers({"Authorization": f"Bearer {viewer_key}"})
    await fits_a4(console, f"/v1/sitreps/{report_id}.html?lang={lang}")
    heading = await console.page.locator("h1").inner_text()
    assert ("灾情报告（续报）第2期" if lang == "zh" else "Situation report no. 2 (update)") in heading
    await fits_a4(console, f"/v1/public/sitreps/{report_id}.html?lang={lang}")
    assert LONG_NAME in await console.page.locator("body").inner_text()  # the organization, as the source
