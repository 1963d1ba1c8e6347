"""English leaves no string of the Chinese catalogue on any screen, and the incident room fits a phone."""

from __future__ import annotations

import re

import asyncpg

from tests.console_world import Console, World, add_where_it_went, expect

TABS = ["room", "map", "impacts", "sitreps", "imports", "field", "pledges", "donations", "disbursements", "stock",
        "shelters", "alerts", "activity"]
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")

# Everything a person can read or hear on the page: text (hidden parts included, since one click shows them),
# labels read aloud, placeholders, titles, option labels, and the window title. The language switch names
# the other language in that language (lang="zh"), as language pickers do; it alone is left out.
_PAGE_TEXT = """() => {
  const out = [document.title];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    if (!walker.currentNode.parentElement.closest('[lang^="zh"]')) out.push(walker.currentNode.data);
  }
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('[lang^="zh"]')) continue;
    for (const name of ['aria-label', 'placeholder', 'title', 'alt', 'label']) {
      if (el.hasAttribute(name)) out.push(el.getAttribute(name));
    }
  }
  return out.join('\\n');
}"""

_CATALOGUES = """async () => {
  const [zh, en] = await Promise.all([import('/static/js/i18n/zh.js'), import('/static/js/i18n/en.js')]);
  return [zh.default, en.default];
}"""


def _fragments(zh: dict, en: dict) -> set[str]:
    """Each Chinese catalogue string (split where placeholders go) that English does not share."""
    out: set[str] = set()
    for key, value in zh.items():
        other = en.get(key)
        if isinstance(value, dict):
            out |= _fragments(value, other if isinstance(other, dict) else {})
        elif value != other:
            out |= {part.strip() for part in re.split(r"\{\w+\}", value) if CJK.search(part)}
    return out


async def _check(console: Console, fragments: set[str], where: str) -> None:
    text = await console.page.evaluate(_PAGE_TEXT)
    found = sorted(f for f in fragments if f in text)
    assert not found, f"{where}: Chinese catalogue strings in English: {found}"
    assert not CJK.search(text), f"{where}: Chinese text in English: {CJK.findall(text)[:20]}"


async def test_english_leaves_no_chinese_string_on_any_screen(console: Console, lakeside: World,
                                                              conn: asyncpg.Connection):
    page = console.page
    await add_where_it_went(conn, lakeside)  # stock and money to show: their kinds, purposes and funds in words
    await console.sign_in(lakeside.dispatcher_key)
    zh, en = await page.evaluate(_CATALOGUES)
    fragments = _fragments(zh, en)
    assert len(fragments) > 300  # the catalogue itself, not an empty import

    await page.get_by_role("button", name="切换为英文界面").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Incidents")
    await _check(console, fragments, "incidents")
    incident = lakeside.incident["id"]
    for tab in TABS:
        await console.goto(f"#/incidents/{incident}/{tab}")
        await expect(page.locator("main nav a[aria-current=page]")).to_have_attribute("href", re.compile(f"/{tab}$"))
        await expect(page.locator(".live")).to_have_attribute("data-state", "live")
        await _check(console, fragments, tab)

    # A dialog, and the answer to a failed form, are in English too.
    await console.goto(f"#/incidents/{incident}/donations")
    await page.get_by_role("button", name=re.compile("^Reverse the donation of Ms Brown")).click()
    await expect(page.get_by_role("dialog")).to_be_visible()
    await _check(console, fragments, "reverse dialog")
    await page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    await console.goto(f"#/incidents/{incident}/stock")
    await page.get_by_role("button", name=re.compile("^Receive Drinking water 40 boxes")).click()
    await page.get_by_role("dialog").get_by_label("What arrived (boxes)").fill("39")
    await page.get_by_role("dialog").get_by_role("button", name="Receive").click()
    await expect(page.get_by_role("dialog").get_by_role("alert")).to_have_text("1 boxes did not arrive: say why.")
    await _check(console, fragments, "receive dialog")
    await page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    await console.goto(f"#/incidents/{incident}/donations")
    console.expects_failure(409, f"/v1/incidents/{incident}/donations")
    form = page.get_by_role("form", name="Record a donation")
    await form.get_by_label("Amount").fill("10.00")
    await form.get_by_label("Receipt no.").fill("LK-0001")  # already in the ledger: 409
    await form.get_by_role("button", name="Record").click()
    await expect(form.get_by_role("alert")).to_contain_text("This conflicts with the current state")
    await _check(console, fragments, "failed form")

    await console.open(f"/public/incidents/{incident}")
    await expect(page.get_by_role("heading", name="Relief calls")).to_be_visible()
    await expect(page.get_by_role("heading", name="How donations were used")).to_be_visible()
    await _check(console, fragments, "public page")

    await console.open("/")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_label("API key")).to_be_visible()
    await _check(console, fragments, "sign-in")


async def test_the_incident_room_fits_a_phone_screen(phone: Console, lakeside: World):
    page = phone.page
    await phone.sign_in(lakeside.dispatcher_key)
    for tab in TABS:
        await phone.goto(f"#/incidents/{lakeside.incident['id']}/{tab}")
        widths = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], f"{tab} scrolls sideways at 390 px: {widths}"
    await phone.goto(f"#/incidents/{lakeside.incident['id']}/room")
    await expect(page.get_by_role("article", name="Life jackets for the lake shore")).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
