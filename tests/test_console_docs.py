"""/docs in a browser: Swagger UI (vendored) renders the served /openapi.json styled, lists every operation,
asks no other host for anything, and breaks no rule of the server's Content-Security-Policy."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from tests.console_world import TIMEOUT_MS, Console, expect


async def _open_docs(console: Console) -> tuple[dict[str, Any], list[str]]:
    """/docs, rendered; the document it shows, and every request the page made to another host."""
    page = console.page
    own = urlsplit(console.url).netloc
    elsewhere: list[str] = []

    async def refuse_other_hosts(route: Any) -> None:
        if urlsplit(route.request.url).netloc != own:
            elsewhere.append(route.request.url)
            await route.abort()
        else:
            await route.continue_()

    await page.route("**/*", refuse_other_hosts)
    document = await (await page.request.get(console.url + "/openapi.json")).json()
    await page.goto(console.url + "/docs")
    # Swagger UI parses the whole document (some 350 schemas) first: 2-4 s here, more on a loaded machine.
    await page.locator(".swagger-ui .opblock").first.wait_for(timeout=3 * TIMEOUT_MS)
    return document, elsewhere


async def test_docs_render_styled_with_every_operation_and_no_csp_violation(console: Console):
    page = console.page
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text
            or "CSP violation" in m.text else None)
    document, elsewhere = await _open_docs(console)

    await expect(page.locator(".swagger-ui .info .title")).to_contain_text(document["info"]["title"])
    # Styled: the renderer's stylesheet applies (a GET block's method badge is its green, not the browser's
    # transparent default; the title is Swagger UI's size, not an h2's 24 px in Times).
    badge = page.locator(".opblock-get .opblock-summary-method").first
    background = await badge.evaluate("(el) => getComputedStyle(el).backgroundColor")
    assert background == "rgb(97, 175, 254)", f"the GET badge is {background}: swagger-ui.css did not apply"
    family = await page.locator(".swagger-ui .info .title").evaluate("(el) => getComputedStyle(el).fontFamily")
    assert family == "sans-serif", f"the title's font is {family!r}, the browser's default, not the renderer's"

    # Every operation of the document is on the page, by its id, with its summary.
    expected = {(op["operationId"], op["summary"]) for item in document["paths"].values() for op in item.values()}
    shown = await page.locator(".opblock").evaluate_all(
        """(blocks) => blocks.map((b) => [
             b.querySelector('.opblock-summary-operation-id')?.textContent.trim() ?? '',
             b.querySelector('.opblock-summary-description')?.textContent.trim() ?? ''])""")
    shown_ops = {tuple(pair) for pair in shown}
    missing = expected - shown_ops
    assert not missing, f"{len(missing)} of {len(expected)} operations are not listed, e.g. {sorted(missing)[:5]}"
    webhooks = await page.locator(".opblock-post .opblock-summary-operation-id").all_inner_texts()
    assert sum(text.startswith("webhook_") for text in webhooks) == len(document["webhooks"])

    # The problem types every problem's `type` links to are on the page, and #problem-… lands on its row.
    await page.goto(console.url + "/docs#problem-validation-failed")
    await expect(page.locator("#problem-validation-failed")).to_be_in_viewport()
    await page.locator(".swagger-ui .opblock").first.wait_for(timeout=TIMEOUT_MS)

    assert not elsewhere, f"/docs asked other hosts: {elsewhere}"
    assert not violations, "CSP violations:\n" + "\n".join(violations)
    await console.screenshot("docs")


async def test_an_operation_opens_with_its_examples(console: Console):
    page = console.page
    await _open_docs(console)
    block = page.locator("#operations-incidents-create_incident")
    await block.locator(".opblock-summary-control").click()
    await expect(block.locator(".opblock-body")).to_be_visible()
    # The request body's example is the Doksuri one from /openapi.json.
    await expect(block.locator(".opblock-body pre").filter(has_text="2023-DOKSURI-SZ").first).to_be_visible()
