"""A frozen report's renderings: HXL CSV of every figure, the bureau's printable page in zh and en, the public page."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from html.parser import HTMLParser

import hxl
import hxl.validation
import pytest

from models.sitreps import PublicSitrep, Sitrep, public_version
from relief import sitrep_pages
from tests.conftest import Api
from tests.test_shelters import new_shelter
from tests.test_sitreps import impact, issue
from tests.test_summary import post, scenario

# A zone whose offset is not whole hours: a time shown in UTC or Shanghai time cannot pass for it.
ZONE = {"timezone": "Asia/Kathmandu"}
NARRATIVE = "7月29日，暴雨持续。\n太湖水位超警戒。\n\n<script>alert('x')</script> & 续报"
COLUMNS = ["#meta+report+num", "#meta+report+type", "#date+reported", "#meta+section", "#adm3+code",
           "#indicator+code", "#meta+source", "#org+name", "#item+name", "#meta+name", "#indicator+unit",
           "#indicator+num", "#date+observed"]


async def reports(dispatcher: Api, organization, conn) -> tuple[dict, dict]:
    """An initial report and an update, with impact figures (two sources), money, goods and a shelter."""
    incident = await scenario(dispatcher, organization, conn)
    await new_shelter(dispatcher, incident, name="东山中学体育馆", capacity=100)
    await impact(dispatcher, incident, "12000", as_of="2023-07-29T06:00:00Z")
    first = await issue(dispatcher, incident, "initial", narrative="初报")
    await impact(dispatcher, incident, "15000", as_of="2023-07-30T06:00:00Z")
    await impact(dispatcher, incident, "9000", source="organization", organization_id=organization.id,
                 as_of="2023-07-30T07:30:00Z")
    await post(dispatcher, f"/v1/incidents/{incident}/impacts", {
        "region": "320506", "figure": "direct_loss", "value": "1250000.00", "source": "government",
        "as_of": "2023-07-30T06:00:00Z"})
    second = await issue(dispatcher, incident, "update", narrative=NARRATIVE)
    return first, second


async def text(api: Api, path: str) -> str:
    response = await api.get(path)
    assert response.status == 200, (path, await response.text())
    return await response.text()


class _Checked(HTMLParser):
    """Collects what the CSP would refuse: inline style attributes, style blocks, scripts, event handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.refused: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in ("script", "style") or any(name == "style" or name.startswith("on") for name, _ in attrs):
            self.refused.append(tag)


def checked(page: str) -> _Checked:
    parser = _Checked()
    parser.feed(page)
    assert page.startswith("<!DOCTYPE html>") and parser.refused == []
    assert '<meta charset="utf-8">' in page
    assert '<link rel="stylesheet" href="/static/css/report.css">' in page
    return parser


@pytest.mark.parametrize("settings", [ZONE], indirect=True)
async def test_the_csv_is_hxl_with_every_figure_of_the_report(dispatcher, viewer, organization, conn):
    _first, report = await reports(dispatcher, organization, conn)
    response = await viewer.get(f"/v1/sitreps/{report['id']}.csv")
    raw = await response.read()
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert b"\r\n" in raw and raw.decode("utf-8") == sitrep_pages.csv(Sitrep.model_validate(report))
    dataset = hxl.data(io.BytesIO(raw))
    assert [c.display_tag for c in dataset.columns] == COLUMNS
    assert hxl.validation.schema().validate(hxl.data(io.BytesIO(raw)))
    rows = list(hxl.data(io.BytesIO(raw)))
    assert {r.get("#meta+report+num") for r in rows} == {"2"} and {r.get("#meta+report+type") for r in rows} == {
        "update"}
    assert {r.get("#meta+section") for r in rows} <= {"impact", "money", "goods", "personnel", "residents",
                                                      "field", "tasks", "need"}

    def values(section: str) -> dict[tuple, str]:
        tags = ("#adm3+code", "#indicator+code", "#meta+source", "#org+name", "#item+name", "#indicator+unit")
        return {tuple(r.get(tag) or "" for tag in tags): r.get("#indicator+num")
                for r in rows if r.get("#meta+section") == section}

    impacts = values("impact")
    assert len(impacts) == len(report["figures"]["impacts"])
    for i in report["figures"]["impacts"]:
        key = (i["region"], i["figure"], i["source"], i["organization_name"] or "", "", i["unit"])
        assert impacts[key] == i["value"]
    assert impacts[("320506", "direct_loss", "government", "", "", "CNY")] == "1250000.00"
    money = values("money")
    for m in report["figures"]["summary"]["money"]:
        assert money[("", "received", "", "", "", m["currency"])] == m["received"]
        assert money[("", "pledged", "", "", "", m["currency"])] == m["pledged"]
    goods = values("goods")
    for g in report["figures"]["summary"]["goods"]["items"]:
        assert goods[("", "received", "", "", g["item"], g["unit"])] == g["received"]
    residents = values("residents")
    assert residents[("", "evacuated", "", "", "", "people")] == report["figures"]["summary"]["residents"]["evacuated"]
    needs = [r for r in rows if r.get("#meta+section") == "need" and r.get("#indicator+code") == "remaining"]
    assert sorted(r.get("#indicator+num") for r in needs) == sorted(
        n["remaining"] for n in report["figures"]["open_needs"])
    for row in rows:  # every value is a plain decimal string, never an exponent or a float's digits
        assert re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", row.get("#indicator+num")), row.values
    # Times are ISO 8601 in the frozen zone, with its offset.
    government = next(r for r in rows if r.get("#meta+source") == "government"
                      and r.get("#indicator+code") == "affected")
    assert government.get("#date+observed") == "2023-07-30T11:45:00+05:45"
    assert all(r.get("#date+reported").endswith("+05:45") for r in rows)


@pytest.mark.parametrize("settings", [ZONE], indirect=True)
async def test_the_bureau_page_in_both_languages(dispatcher, viewer, organization, conn):
    first, report = await reports(dispatcher, organization, conn)
    zh = await text(viewer, f"/v1/sitreps/{report['id']}.html?lang=zh")
    assert "html" in checked(zh).tags and '<html lang="zh-CN">' in zh
    assert "<title>台风杜苏芮 苏州响应灾情报告（续报）第2期</title>" in zh
    for words in ("受灾人口", "续报", "直接经济损失", "¥1,250,000.00", "15,000 人", "政府部门",
                  organization.body["name"], report["issued_by"]["name"], report["figures"]["bureau"],
                  "东山中学体育馆", "本报告于签发时冻结，内容不再更改", report["id"], report["position"],
                  "Asia/Kathmandu", "2023-07-30 11:45", "2023-07-30 13:15", "+3,000"):
        assert words in zh, words
    # The narrative is text: escaped, its paragraphs and line breaks kept.
    assert "<script>" not in zh and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; 续报" in zh
    assert "<p>7月29日，暴雨持续。<br>太湖水位超警戒。</p>" in zh

    en = await text(viewer, f"/v1/sitreps/{report['id']}.html?lang=en")
    checked(en)
    assert '<html lang="en">' in en and "<title>Situation report no. 2 (update) — 台风杜苏芮 苏州响应</title>" in en
    for words in ("Update", "People affected", "Direct economic loss", "Issued by", "15,000 people",
                  "Frozen at issue; never changes", "2023-07-30 11:45"):
        assert words in en, words
    assert "受灾人口" not in en and "<script>" not in en

    initial = await text(viewer, f"/v1/sitreps/{first['id']}.html")  # zh by default
    assert "（初报）第1期" in initial and "首期报告" in initial
    assert "first report" in await text(viewer, f"/v1/sitreps/{first['id']}.html?lang=en")


@pytest.mark.parametrize("settings", [ZONE], indirect=True)
async def test_the_public_page_has_no_narrative_and_no_issuer(dispatcher, organization, anonymous, conn):
    _first, report = await reports(dispatcher, organization, conn)
    for lang, words in (("zh", ("公开版", "受灾人口", "续报", "2023-07-30 11:45")),
                        ("en", ("Public version", "People affected", "Update", "2023-07-30 11:45"))):
        page = await text(anonymous, f"/v1/public/sitreps/{report['id']}.html?lang={lang}")
        checked(page)
        for word in words:
            assert word in page, word
        for secret in ("暴雨持续", "script", report["issued_by"]["name"], report["position"]):
            assert secret not in page, secret


def test_renderings_are_made_from_the_model_alone():
    """The same frozen document gives the same bytes: nothing from the clock, the database or settings."""
    document = {
        "id": "00000000-0000-4000-8000-000000000001", "incident_id": "00000000-0000-4000-8000-000000000002",
        "number": 3, "kind": "verified", "narrative": "=cmd|' /C calc'!A0", "position": "17-0",
        "issued_by": {"key_id": None, "name": "张三"}, "issued_at": "2023-07-31T16:30:00Z", "version": 1,
        "figures": {
            "incident": {"id": "00000000-0000-4000-8000-000000000002", "code": "=HYPERLINK(1)", "title": "洪涝",
                         "type": "flood", "severity": "I", "status": "open", "regions": ["320506"],
                         "started_at": "2023-07-28T01:55:00Z"},
            "as_of": "2023-07-31T16:29:59.123456Z", "time_zone": "Asia/Shanghai", "bureau": "苏州市应急管理局",
            "summary": {
                "incident_id": "00000000-0000-4000-8000-000000000002", "code": "X", "title": "洪涝",
                "status": "open", "as_of": "2023-07-31T16:29:59Z", "organizations_participating": 0,
                "money": [{"currency": "USD", "pledged": "0", "received": "1234567.5"}],
                "goods": {"value_pledged": "0", "value_received": {}, "items": []},
                "personnel": {"pledged": "0", "delivered": "0"},
                "residents": {k: "0" for k in ("evacuated", "individual", "aggregate", "sheltered_now",
                                               "centralized", "dispersed", "returned")},
                "shelters": [], "calls_by_status": {}, "calls": [],
                "use": {"money": [{"currency": "USD", "received": "1234567.5", "paid": "-0.5", "balance": "1234568",
                                   "paid_by_purpose": {"=1+1": "-0.5"}, "funds": []}],
                        "goods": [], "people_reached": "0"},
                "field": {"on_site": "0", "person_hours": "0", "person_hours_completed": "0"},
                "tasks": {"by_status": {}, "people_rescued": "0", "people_transferred": "0"},
            },
            "impacts": [], "open_needs": [], "teams_on_site": [], "previous": None, "changes": [],
        },
    }
    sitrep = Sitrep.model_validate(document)
    again = Sitrep.model_validate_json(sitrep.model_dump_json())
    for render in (lambda s: sitrep_pages.html(s, "zh"), lambda s: sitrep_pages.html(s, "en"), sitrep_pages.csv):
        assert render(sitrep) == render(again)
    page = sitrep_pages.html(sitrep, "zh")
    assert "USD 1,234,567.50" in page and "-USD 0.50" in page and "2023-08-01 00:30 (Asia/Shanghai)" in page
    assert "<p>=cmd|&#x27; /C calc&#x27;!A0</p>" in page
    public = PublicSitrep.model_validate(public_version(sitrep.model_dump(mode="json")))
    assert sitrep_pages.public_html(public, "en") == sitrep_pages.public_html(public, "en")
    rows = list(hxl.data(io.BytesIO(sitrep_pages.csv(sitrep).encode())))
    purpose = next(r for r in rows if r.get("#indicator+code") == "paid_by_purpose")
    assert purpose.get("#meta+name") == "'=1+1" and purpose.get("#indicator+num") == "-0.5"  # a number stays one
    assert Decimal(next(r for r in rows if r.get("#indicator+code") == "balance").get("#indicator+num")) == 1234568
    assert rows[0].get("#date+reported") == "2023-08-01T00:30:00+08:00"
