"""The event catalog says what the code emits, and the README lists the catalog."""

from __future__ import annotations

import re
from pathlib import Path

from models.events import EVENT_TYPES

ROOT = Path(__file__).parent.parent
FAMILIES = "|".join(sorted({t.split(".")[0] for t in EVENT_TYPES}))
LITERAL = re.compile(rf"""["']({FAMILIES})\.([a-z_]+)["']""")
NOT_EVENTS = {"shelter.occupancy"}  # a reconcile counter's name, not an event


def emitted_in_source() -> set[str]:
    found: set[str] = set()
    for folder in ("relief", "notifications", "handlers"):
        for path in (ROOT / folder).glob("*.py"):
            found |= {f"{a}.{b}" for a, b in LITERAL.findall(path.read_text())}
    # Built from the action's name: relief/webhooks.py emits webhook.{pause,resume}d.
    return (found | {"webhook.paused", "webhook.resumed"}) - NOT_EVENTS


def test_every_event_type_in_the_code_is_in_the_catalog_and_back():
    emitted = emitted_in_source()
    assert sorted(emitted - EVENT_TYPES.keys()) == []
    assert sorted(EVENT_TYPES.keys() - emitted) == []


def test_the_readme_lists_every_event_type():
    readme = (ROOT / "README.md").read_text()
    assert [t for t in EVENT_TYPES if f"`{t}`" not in readme] == []


def test_the_console_names_every_event_type():
    for language in ("zh", "en"):
        catalogue = (ROOT / "handlers" / "static" / "js" / "i18n" / f"{language}.js").read_text()
        assert [t for t in EVENT_TYPES if f"'{t}'" not in catalogue] == [], language


async def test_the_catalog_is_served_to_anyone(anonymous):
    response = await anonymous.get("/v1/event-types")
    assert response.status == 200
    served = {item["type"]: item["description"] for item in (await response.json())["items"]}
    assert served == EVENT_TYPES
