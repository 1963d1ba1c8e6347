"""Printable pages of a frozen situation report (zh / en), and its HXL CSV (relief/sitrep_csv.py).

Everything here reads the frozen model and nothing else — no clock, database or settings — so that a
report fetched years later renders to the same bytes it did on the day it was issued. The pages carry
no inline style or script (the CSP forbids both); their look is handlers/static/css/report.css.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from models.catalogue import GOODS_ZH, UNITS_ZH, minor_units
from models.sitreps import PublicSitrep, Sitrep
from relief.sitrep_csv import csv

__all__ = ["csv", "html", "public_html"]

# The zh figure names are the statistics system's own (自然灾害情况统计调查制度): a report read next to
# the official forms must use the same words.
FIGURES = {
    "affected": ("受灾人口", "People affected"), "dead": ("因灾死亡人口", "Dead"),
    "missing": ("因灾失踪人口", "Missing"), "injured": ("受伤人口", "Injured"),
    "emergency_relocated": ("紧急转移安置人口", "Emergency relocated"),
    "needs_living_aid": ("需紧急生活救助人口", "Needing emergency living aid"),
    "houses_collapsed": ("倒塌房屋", "Houses collapsed"),
    "houses_severely_damaged": ("严重损坏房屋", "Houses severely damaged"),
    "houses_damaged": ("一般损坏房屋", "Houses damaged"), "crops_affected_ha": ("农作物受灾面积", "Crops affected"),
    "direct_loss": ("直接经济损失", "Direct economic loss"),
}
UNITS = {"people": ("人", "people"), "houses": ("间", "houses"), "ha": ("公顷", "ha"), "CNY": ("元", "CNY")}
ITEMS_ZH = {**GOODS_ZH, **UNITS_ZH}
GOODS_UNITS_EN = {"box": "boxes", "bottle": "bottles", "piece": "pcs", "pair": "pairs", "kit": "kits", "set": "sets"}

L: dict[str, dict[str, Any]] = {
    "zh": {
        "kind": {"initial": "初报", "update": "续报", "verified": "核报"},
        "type": {"typhoon": "台风", "flood": "洪涝", "earthquake": "地震", "fire": "火灾", "epidemic": "疫情",
                 "other": "其他"},
        "severity": {"I": "Ⅰ级", "II": "Ⅱ级", "III": "Ⅲ级", "IV": "Ⅳ级"},
        "source": {"government": "政府部门", "media": "媒体", "other": "其他", "relief": "Relief 统计"},
        "title": "{title}灾情报告（{kind}）第{n}期", "number": "第{n}期", "sep": "、", "none": "无",
        "code": "事件编号", "incident_type": "灾害类型", "severity_l": "响应级别", "regions": "涉及地区",
        "report_kind": "报告类型", "report_no": "期数", "started": "灾害发生", "issued_at": "签发时间",
        "issued_by": "签发人", "as_of": "数据截至", "zone": "时区", "position": "事件流位置",
        "narrative": "情况综述", "impact": "灾情统计", "region": "地区", "figure": "指标", "source_l": "来源",
        "value": "数值", "money": "资金", "currency": "币种", "pledged": "认捐", "received": "到账",
        "paid": "已拨付", "balance": "结余", "goods": "物资", "item": "物资", "distributed": "已发放",
        "on_hand": "库存", "people": "人员与群众", "personnel_pledged": "承诺派出人员",
        "personnel_delivered": "已到岗人员",
        "evacuated": "转移群众", "sheltered_now": "在安置点", "returned": "已返家", "shelters": "安置点",
        "shelter": "名称", "capacity": "容量", "occupancy": "在住", "field": "现场救援力量",
        "on_site": "在场人数", "person_hours": "工时（人·小时）", "organization": "组织", "tasks": "任务",
        "status": {"open": "待指派", "assigned": "已指派", "in_progress": "进行中", "done": "已完成",
                   "cancelled": "已取消"},
        "people_rescued": "营救人数", "people_transferred": "转移人数", "needs": "尚未满足的需求",
        "need": "需求", "requested": "需求量", "remaining": "尚缺", "deadline": "截止时间",
        "changes": "与上期相比的变化", "previous": "上期", "current": "本期", "delta": "变化",
        "first": "首期报告", "gone": "本期无", "frozen": "本报告于签发时冻结，内容不再更改",
        "report_id": "报告编号", "public": "公开版：仅含汇总数字，不含综述、签发人及任何联系人信息",
        "unit_people": "人", "unit_hours": "小时", "figure_col": "项目",
    },
    "en": {
        "kind": {"initial": "Initial", "update": "Update", "verified": "Verified"},
        "type": {"typhoon": "Typhoon", "flood": "Flood", "earthquake": "Earthquake", "fire": "Fire",
                 "epidemic": "Epidemic", "other": "Other"},
        "severity": {"I": "Level I", "II": "Level II", "III": "Level III", "IV": "Level IV"},
        "source": {"government": "Government", "media": "Media", "other": "Other", "relief": "Relief count"},
        "title": "Situation report no. {n} ({kind_lower}) — {title}", "number": "No. {n}", "sep": ", ",
        "none": "None", "code": "Incident code", "incident_type": "Type", "severity_l": "Response level",
        "regions": "Regions", "report_kind": "Report", "report_no": "Number", "started": "Started",
        "issued_at": "Issued at", "issued_by": "Issued by", "as_of": "Figures as of", "zone": "Time zone",
        "position": "Event-stream position", "narrative": "Narrative", "impact": "Impact", "region": "Region",
        "figure": "Figure", "source_l": "Source", "value": "Value", "money": "Money", "currency": "Currency",
        "pledged": "Pledged", "received": "Received", "paid": "Paid", "balance": "Balance", "goods": "Goods",
        "item": "Item", "distributed": "Distributed", "on_hand": "On hand", "people": "People",
        "personnel_pledged": "Personnel pledged", "personnel_delivered": "Personnel on duty", "evacuated": "Evacuated",
        "sheltered_now": "Sheltered now", "returned": "Returned", "shelters": "Shelters", "shelter": "Name",
        "capacity": "Capacity", "occupancy": "Occupancy", "field": "Rescuers on site", "on_site": "On site",
        "person_hours": "Person-hours", "organization": "Organization", "tasks": "Tasks",
        "status": {"open": "Open", "assigned": "Assigned", "in_progress": "In progress", "done": "Done",
                   "cancelled": "Cancelled"},
        "people_rescued": "People rescued", "people_transferred": "People transferred", "needs": "Open needs",
        "need": "Need", "requested": "Requested", "remaining": "Remaining", "deadline": "Deadline",
        "changes": "Changes since the previous report", "previous": "Previous", "current": "Current",
        "delta": "Change", "first": "first report", "gone": "not in this report",
        "frozen": "Frozen at issue; never changes", "report_id": "Report ID",
        "public": "Public version: aggregates only — no narrative, issuer or contacts",
        "unit_people": "people", "unit_hours": "h", "figure_col": "Figure",
    },
}


def _lang(lang: str) -> dict[str, Any]:
    return L["en" if lang == "en" else "zh"]


def _time(value: datetime | None, zone: str) -> str:
    return "" if value is None else value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def _number(value: Decimal) -> str:
    return format(value, ",f")  # Decimal formats exactly; a float would round a large ledger total


def _money(amount: Decimal, currency: str) -> str:
    digits = format(abs(amount).quantize(Decimal(1).scaleb(-minor_units(currency))), ",f")
    sign = "-" if amount < 0 else ""
    return f"{sign}¥{digits}" if currency == "CNY" else f"{sign}{currency} {digits}"


def _item(code: str | None, t: dict[str, Any]) -> str:
    if code is None:
        return ""
    return ITEMS_ZH.get(code, code) if t is L["zh"] else GOODS_UNITS_EN.get(code, code.replace("_", " "))


def _quantity(value: Decimal, unit: str | None, t: dict[str, Any]) -> str:
    if unit in UNITS:
        unit = UNITS[unit][0 if t is L["zh"] else 1]
    if unit == "元" or unit == "CNY":
        return _money(value, "CNY")
    return f"{_number(value)} {_item(unit, t)}".rstrip()


def _figure(code: str, t: dict[str, Any]) -> str:
    return FIGURES.get(code, (code, code))[0 if t is L["zh"] else 1]


def _source(row: Any, t: dict[str, Any]) -> str:
    if row.source == "organization":
        return row.organization_name or t["organization"]
    return t["source"].get(row.source, row.source)


def _table(name: str, head: Sequence[str], rows: Iterable[Sequence[str]], numeric: Iterable[int] = ()) -> str:
    right = set(numeric)
    cls = [' class="num"' if i in right else "" for i in range(len(head))]
    out = [f'<table class="{name}"><thead><tr>']
    out += [f'<th scope="col"{cls[i]}>{escape(h)}</th>' for i, h in enumerate(head)]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td{cls[i]}>{escape(c)}</td>" for i, c in enumerate(row)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _section(name: str, title: str, body: str, t: dict[str, Any], empty: bool = False) -> str:
    content = f'<p class="empty">{escape(t["none"])}</p>' if empty else body
    heading = f'<h2 id="s-{name}">{escape(title)}</h2>'
    return f'<section class="{name}" aria-labelledby="s-{name}">{heading}{content}</section>'


def _facts(pairs: Iterable[tuple[str, str]], cls: str = "facts") -> str:
    items = "".join(f"<div><dt>{escape(k)}</dt><dd>{escape(v)}</dd></div>" for k, v in pairs)
    return f'<dl class="{cls}">{items}</dl>'


def _paragraphs(text: str) -> str:
    # Blank lines part paragraphs; a single line break stays one, as the author wrote it.
    blocks = [b.strip("\n") for b in text.replace("\r\n", "\n").replace("\r", "\n").split("\n\n")]
    return "".join("<p>" + "<br>".join(escape(line) for line in b.split("\n")) + "</p>" for b in blocks if b.strip())


def _impacts(rows: Sequence[Any], zone: str, t: dict[str, Any]) -> str:
    body = _table("impacts", [t["region"], t["figure"], t["source_l"], t["value"], t["as_of"]], (
        [r.region, _figure(r.figure, t), _source(r, t), _quantity(r.value, r.unit, t), _time(r.as_of, zone)]
        for r in rows), numeric=[3])
    return _section("impact", t["impact"], body, t, empty=not rows)


def _money_section(rows: list[tuple[str, list[Decimal]]], columns: list[str], t: dict[str, Any]) -> str:
    body = _table("money", [t["currency"], *(t[c] for c in columns)],
                  ([currency, *(_money(v, currency) for v in values)] for currency, values in rows),
                  numeric=range(1, len(columns) + 1))
    return _section("money", t["money"], body, t, empty=not rows)


def _goods_section(rows: list[tuple[str, str, list[Decimal]]], columns: list[str], t: dict[str, Any]) -> str:
    body = _table("goods", [t["item"], *(t[c] for c in columns)],
                  ([_item(item, t), *(_quantity(v, unit, t) for v in values)] for item, unit, values in rows),
                  numeric=range(1, len(columns) + 1))
    return _section("goods", t["goods"], body, t, empty=not rows)


def _people(residents: Any, t: dict[str, Any], personnel: Any = None) -> str:
    pairs = [(t[k], _quantity(getattr(residents, k), "people", t)) for k in ("evacuated", "sheltered_now", "returned")]
    if personnel is not None:
        pairs += [(t[f"personnel_{k}"], _quantity(getattr(personnel, k), "people", t))
                  for k in ("pledged", "delivered")]
    return _section("people", t["people"], _facts(pairs), t)


def _needs(rows: Sequence[Any], zone: str, t: dict[str, Any], deadline: bool) -> str:
    def unit(n: Any) -> str | None:
        return n.unit or n.currency or ("people" if n.kind == "personnel" else None)

    def remaining(n: Any) -> str:
        return _money(n.remaining, n.currency) if n.currency else _quantity(n.remaining, unit(n), t)

    head = [t["need"], t["item"], t["remaining"]] + ([t["deadline"]] if deadline else [])
    body = _table("needs", head, ([n.title, _item(n.item or getattr(n, "skill", None), t), remaining(n)]
                                  + ([_time(n.deadline, zone)] if deadline else []) for n in rows), numeric=[2])
    return _section("needs", t["needs"], body, t, empty=not rows)


def _document(lang: str, title: str, masthead: str, sections: list[str], footer: str) -> str:
    return "".join([
        f'<!DOCTYPE html>\n<html lang="{"en" if lang == "en" else "zh-CN"}">\n<head>\n<meta charset="utf-8">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        f"<title>{escape(title)}</title>\n",
        # The icon is named so that the browser does not ask for /favicon.ico (a 404 in every console).
        '<link rel="icon" href="/static/img/icon.svg" type="image/svg+xml">\n',
        '<link rel="stylesheet" href="/static/css/report.css">\n</head>\n<body class="report">\n',
        f"<header>{masthead}</header>\n<main>\n", "\n".join(sections),
        f"\n</main>\n<footer>{footer}</footer>\n</body>\n</html>\n",
    ])


def _title(incident_title: str, kind: str, number: int, t: dict[str, Any]) -> str:
    return t["title"].format(title=incident_title, kind=t["kind"][kind], kind_lower=t["kind"][kind].lower(), n=number)


def _footer(report_id: Any, t: dict[str, Any]) -> str:
    return f'<p>{escape(t["frozen"])} · {escape(t["report_id"])} <code>{escape(str(report_id))}</code></p>'


def html(sitrep: Sitrep, lang: str) -> str:
    t, f = _lang(lang), sitrep.figures
    zone, s, incident = f.time_zone, sitrep.figures.summary, sitrep.figures.incident
    title = _title(incident.title, sitrep.kind, sitrep.number, t)
    masthead = "".join([
        f'<p class="bureau">{escape(f.bureau)}</p><h1>{escape(title)}</h1>',
        _facts([(t["code"], incident.code), (t["incident_type"], t["type"].get(incident.type, incident.type)),
                (t["severity_l"], t["severity"].get(incident.severity, incident.severity)),
                (t["regions"], t["sep"].join(incident.regions)), (t["started"], _time(incident.started_at, zone)),
                (t["report_kind"], t["kind"][sitrep.kind]), (t["report_no"], t["number"].format(n=sitrep.number)),
                (t["issued_at"], f"{_time(sitrep.issued_at, zone)} ({zone})"),
                (t["issued_by"], sitrep.issued_by.name)]),
        _facts([(t["as_of"], f"{_time(f.as_of, zone)} ({zone})"), (t["position"], sitrep.position)], "small"),
    ])
    use_money = {m.currency: m for m in s.use.money}
    currencies = sorted({m.currency for m in s.money} | use_money.keys())
    pledged = {m.currency: m for m in s.money}
    zero = Decimal(0)
    money = [(c, [pledged[c].pledged if c in pledged else zero, pledged[c].received if c in pledged else zero,
                  use_money[c].paid if c in use_money else zero, use_money[c].balance if c in use_money else zero])
             for c in currencies]
    use_goods = {(g.item, g.unit): g for g in s.use.goods}
    goods_in = {(g.item, g.unit): g for g in s.goods.items}
    goods = [(item, unit, [goods_in[(item, unit)].pledged if (item, unit) in goods_in else zero,
                           goods_in[(item, unit)].received if (item, unit) in goods_in else zero,
                           use_goods[(item, unit)].distributed if (item, unit) in use_goods else zero,
                           use_goods[(item, unit)].on_hand if (item, unit) in use_goods else zero])
             for item, unit in sorted(goods_in.keys() | use_goods.keys())]
    shelters = _table("shelters", [t["shelter"], t["capacity"], t["occupancy"]],
                      ([sh.name, _number(Decimal(sh.capacity)), _number(Decimal(sh.occupancy))] for sh in s.shelters),
                      numeric=[1, 2])
    field = _facts([(t["on_site"], _quantity(s.field.on_site, "people", t)),
                    (t["person_hours"], _number(s.field.person_hours))])
    if f.teams_on_site:
        field += _table("teams", [t["organization"], t["on_site"]],
                        ([team.organization_name, _number(Decimal(team.on_site))] for team in f.teams_on_site), [1])
    # In the order a task moves through, not alphabetical; a status unknown here still shows, last.
    order = [*t["status"], *sorted(s.tasks.by_status.keys() - t["status"].keys())]
    tasks = _facts([(t["status"].get(k, k), str(s.tasks.by_status[k])) for k in order if k in s.tasks.by_status]
                   + [(t[k], _quantity(getattr(s.tasks, k), "people", t))
                      for k in ("people_rescued", "people_transferred")])

    def shown(value: Decimal | None, fallback: str) -> str:
        return fallback if value is None else _number(value)

    changes = _table("changes", [t["figure_col"], t["previous"], t["current"], t["delta"]], (
        [c.figure, shown(c.previous, t["first"] if f.previous is None else "—"), shown(c.current, t["gone"]),
         "—" if c.delta is None else ("+" if c.delta > 0 else "") + _number(c.delta)] for c in f.changes),
        numeric=[1, 2, 3])
    sections = [
        _section("narrative", t["narrative"], _paragraphs(sitrep.narrative), t, empty=not sitrep.narrative.strip()),
        _impacts(f.impacts, zone, t),
        _money_section(money, ["pledged", "received", "paid", "balance"], t),
        _goods_section(goods, ["pledged", "received", "distributed", "on_hand"], t),
        _people(s.residents, t, s.personnel),
        _section("shelters", t["shelters"], shelters, t, empty=not s.shelters),
        _section("field", t["field"], field, t),
        _section("tasks", t["tasks"], tasks, t),
        _needs(f.open_needs, zone, t, deadline=True),
        _section("changes", t["changes"], changes, t, empty=not f.changes),
    ]
    return _document(lang, title, masthead, sections, _footer(sitrep.id, t))


def public_html(report: PublicSitrep, lang: str) -> str:
    t, zone = _lang(lang), report.time_zone
    title = _title(report.incident_title, report.kind, report.number, t)
    masthead = "".join([
        f'<p class="bureau">{escape(report.bureau)}</p><h1>{escape(title)}</h1>',
        f'<p class="public-note">{escape(t["public"])}</p>',
        _facts([(t["code"], report.incident_code), (t["report_kind"], t["kind"][report.kind]),
                (t["report_no"], t["number"].format(n=report.number)),
                (t["issued_at"], f"{_time(report.issued_at, zone)} ({zone})"),
                (t["as_of"], f"{_time(report.as_of, zone)} ({zone})")]),
    ])
    field = _facts([(t["on_site"], _quantity(report.field.on_site, "people", t)),
                    (t["person_hours"], _number(report.field.person_hours))])
    sections = [
        _impacts(report.impacts, zone, t),
        _money_section([(m.currency, [m.pledged, m.received]) for m in report.money], ["pledged", "received"], t),
        _goods_section([(g.item, g.unit, [g.pledged, g.received]) for g in report.goods], ["pledged", "received"], t),
        _people(report.residents, t),
        _section("field", t["field"], field, t),
        _needs(report.open_needs, zone, t, deadline=False),
    ]
    return _document(lang, title, masthead, sections, _footer(report.id, t))
