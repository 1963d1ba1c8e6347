"""/docs: the OpenAPI document rendered by Swagger UI, vendored under handlers/static/vendor/swagger-ui/.

The page holds no inline script or style (the server's CSP forbids both): the renderer, its stylesheet and
the script that starts it (handlers/static/js/docs.js) are static files, and /openapi.json is read from
this same server, so nothing leaves the machine. The problem types are written into the page itself,
because every problem's `type` is a link to its row here (`/docs#problem-<slug>`), script or none.
"""

from __future__ import annotations

from html import escape
from typing import Any

from handlers.problems import PROBLEM_TYPES

VENDOR = "/static/vendor/swagger-ui"


def _problems() -> str:
    rows = "".join(
        f'<tr id="problem-{escape(slug)}"><td><code>/docs#problem-{escape(slug)}</code></td><td>{status}</td>'
        f"<td>{escape(title)}</td><td>{escape(meaning)}</td></tr>"
        for slug, (status, title, meaning) in PROBLEM_TYPES.items()
    )
    return (
        '<section id="problems" class="problems"><h2>Problem types</h2>'
        "<p>Every error is an RFC 9457 <code>application/problem+json</code> body whose <code>type</code> "
        "links to its row below.</p>"
        "<table><thead><tr><th>type</th><th>status</th><th>title</th><th>meaning</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></section>"
    )


def render(spec: dict[str, Any]) -> str:
    """The page for `spec`: Swagger UI over /openapi.json, then the problem types."""
    title = f"{spec['info']['title']} {spec['info']['version']}"
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title>"
        '<link rel="icon" href="/static/img/icon.svg" type="image/svg+xml">'
        f'<link rel="stylesheet" href="{VENDOR}/swagger-ui.css">'
        '<link rel="stylesheet" href="/static/css/docs.css">'
        f'<script defer src="{VENDOR}/swagger-ui-bundle.js"></script>'
        '<script defer src="/static/js/docs.js"></script>'
        "</head><body>"
        '<div id="swagger-ui" data-url="/openapi.json"></div>'
        '<noscript><p class="noscript">This reference needs JavaScript; the document itself is '
        '<a href="/openapi.json">/openapi.json</a>.</p></noscript>'
        f"{_problems()}</body></html>"
    )
