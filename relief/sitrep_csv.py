"""A frozen situation report as HXL-tagged CSV: one row per figure, from the frozen model alone.

The hashtag row lets humanitarian tools (HDX, libhxl, the Humanitarian Data Exchange's Quick Charts)
read the columns without knowing Relief; the values are decimal strings exactly as frozen.
"""

from __future__ import annotations

import csv as _csv
import io
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from models.sitreps import Sitrep
from relief.exports import safe_cell

COLUMNS = [
    ("Report", "#meta+report+num"), ("Kind", "#meta+report+type"), ("Issued at", "#date+reported"),
    ("Section", "#meta+section"), ("Region", "#adm3+code"), ("Figure", "#indicator+code"),
    ("Source", "#meta+source"), ("Organization", "#org+name"), ("Item", "#item+name"),
    ("Name", "#meta+name"), ("Unit", "#indicator+unit"), ("Value", "#indicator+num"), ("As of", "#date+observed"),
]

def _rows(sitrep: Sitrep) -> Iterator[dict[str, object]]:
    f, s = sitrep.figures, sitrep.figures.summary
    for i in f.impacts:
        yield {"Section": "impact", "Region": i.region, "Figure": i.figure, "Source": i.source,
               "Organization": i.organization_name, "Unit": i.unit, "Value": i.value, "As of": i.as_of}
    for m in s.money:
        for name in ("pledged", "received"):
            yield {"Section": "money", "Figure": name, "Unit": m.currency, "Value": getattr(m, name)}
    for u in s.use.money:
        for name in ("paid", "balance"):
            yield {"Section": "money", "Figure": name, "Unit": u.currency, "Value": getattr(u, name)}
        for purpose, amount in sorted(u.paid_by_purpose.items()):
            yield {"Section": "money", "Figure": "paid_by_purpose", "Name": purpose, "Unit": u.currency,
                   "Value": amount}
    yield {"Section": "goods", "Figure": "value_pledged", "Unit": "CNY", "Value": s.goods.value_pledged}
    for currency, value in sorted(s.goods.value_received.items()):
        yield {"Section": "goods", "Figure": "value_received", "Unit": currency, "Value": value}
    for g in s.goods.items:
        for name in ("pledged", "received"):
            yield {"Section": "goods", "Figure": name, "Item": g.item, "Unit": g.unit, "Value": getattr(g, name)}
    for gu in s.use.goods:
        for name in ("distributed", "written_off", "in_transit", "on_hand", "people_reached"):
            yield {"Section": "goods", "Figure": name, "Item": gu.item, "Unit": "people" if name == "people_reached"
                   else gu.unit, "Value": getattr(gu, name)}
    for name in ("pledged", "delivered"):
        yield {"Section": "personnel", "Figure": name, "Unit": "people", "Value": getattr(s.personnel, name)}
    for name in ("evacuated", "individual", "aggregate", "sheltered_now", "centralized", "dispersed", "returned"):
        yield {"Section": "residents", "Figure": name, "Unit": "people", "Value": getattr(s.residents, name)}
    for sh in s.shelters:
        for name in ("capacity", "occupancy"):
            yield {"Section": "residents", "Figure": f"shelter_{name}", "Name": sh.name, "Unit": "people",
                   "Value": Decimal(getattr(sh, name))}
    yield {"Section": "field", "Figure": "on_site", "Unit": "people", "Value": s.field.on_site}
    for name in ("person_hours", "person_hours_completed"):
        yield {"Section": "field", "Figure": name, "Unit": "hours", "Value": getattr(s.field, name)}
    for team in f.teams_on_site:
        yield {"Section": "field", "Figure": "on_site", "Organization": team.organization_name, "Unit": "people",
               "Value": Decimal(team.on_site)}
    for status, count in sorted(s.tasks.by_status.items()):
        yield {"Section": "tasks", "Figure": f"tasks_{status}", "Unit": "tasks", "Value": Decimal(count)}
    for name in ("people_rescued", "people_transferred"):
        yield {"Section": "tasks", "Figure": name, "Unit": "people", "Value": getattr(s.tasks, name)}
    for n in f.open_needs:
        unit = n.unit or n.currency or ("people" if n.kind == "personnel" else "")
        for name in ("requested", "committed", "delivered", "remaining"):
            yield {"Section": "need", "Figure": name, "Item": n.item or n.skill, "Name": n.title, "Unit": unit,
                   "Value": getattr(n, name)}


def csv(sitrep: Sitrep) -> str:
    zone = ZoneInfo(sitrep.figures.time_zone)

    def cell(value: object) -> str:
        if value is None:
            return ""
        if isinstance(value, Decimal):
            return format(value, "f")
        if isinstance(value, datetime):  # ISO 8601 with the bureau's offset: exact, and what HXL tools parse
            return value.astimezone(zone).isoformat(timespec="seconds")
        return safe_cell(str(value))  # the exports' rule: a formula is not run

    fixed = {"Report": sitrep.number, "Kind": sitrep.kind.value, "Issued at": sitrep.issued_at,
             "As of": sitrep.figures.as_of}
    out = io.StringIO()
    writer = _csv.writer(out)  # the csv module's "\r\n" line ends (RFC 4180)
    writer.writerow([name for name, _ in COLUMNS])
    writer.writerow([tag for _, tag in COLUMNS])
    for row in _rows(sitrep):
        merged = {**fixed, **{k: v for k, v in row.items() if not (k == "As of" and v is None)}}
        writer.writerow([cell(merged.get(name)) for name, _ in COLUMNS])
    return out.getvalue()
