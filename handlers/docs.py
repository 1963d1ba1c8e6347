"""/docs: the OpenAPI document rendered as one plain page (no scripts, nothing from the internet)."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from handlers.problems import PROBLEM_TYPES

_STYLE = """
body{font:15px/1.5 system-ui,-apple-system,"Noto Sans CJK SC",sans-serif;max-width:70rem;margin:2rem auto;
padding:0 1rem;color:#1b1f24;background:#fff}
h1{font-size:1.6rem}h2{margin-top:2.5rem;border-bottom:2px solid #d0d7de}h3{font-size:1rem;margin:1.5rem 0 .3rem}
code,pre{font:13px ui-monospace,monospace;background:#f4f6f8;border-radius:4px}pre{padding:.6rem;overflow:auto}
.m{display:inline-block;min-width:4.5rem;font-weight:700}.get{color:#0a6b2c}.post{color:#0b4fa8}
.patch{color:#8a5300}.delete{color:#a40e26}table{border-collapse:collapse;margin:.3rem 0}
td,th{border:1px solid #d0d7de;padding:.2rem .5rem;text-align:left;vertical-align:top}
nav a{margin-right:1rem}details{margin:.3rem 0}
"""


def _schema_name(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref else json.dumps(schema)


def _operation(method: str, path: str, op: dict[str, Any]) -> str:
    parts = [
        f'<h3 id="{escape(op["operationId"])}"><span class="m {method}">{method.upper()}</span>'
        f"<code>{escape(path)}</code></h3>",
        f"<p>{escape(op.get('summary', ''))}",
    ]
    if op.get("description"):
        parts.append(f"<br><small>{escape(op['description'])}</small>")
    parts.append("</p>")
    params = op.get("parameters", [])
    if params:
        rows = "".join(
            f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td>"
            f"<td>{'required' if p.get('required') else ''}</td>"
            f"<td>{escape(p.get('description', ''))}</td></tr>"
            for p in params
        )
        parts.append(f"<table><tr><th>parameter</th><th>in</th><th></th><th></th></tr>{rows}</table>")
    body = op.get("requestBody")
    if body and "application/json" in body["content"]:
        name = _schema_name(body["content"]["application/json"]["schema"])
        parts.append(f'<p>Body: <a href="#schema-{escape(name)}">{escape(name)}</a></p>')
    elif body:  # a file upload
        parts.append(f"<p>Body: a file, as {escape(' or '.join(body['content']))}</p>")
    responses = []
    for status, response in op["responses"].items():
        content = response.get("content", {})
        target = ""
        for media, spec in content.items():
            name = _schema_name(spec["schema"])
            target = f' — <code>{escape(media)}</code> <a href="#schema-{escape(name)}">{escape(name)}</a>'
        responses.append(f"<li><b>{status}</b> {escape(response['description'])}{target}</li>")
    parts.append(f"<ul>{''.join(responses)}</ul>")
    return "".join(parts)


def render(spec: dict[str, Any]) -> str:
    """The page for `spec`: operations by tag, problem types, then every schema."""
    by_tag: dict[str, list[str]] = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            by_tag.setdefault(op["tags"][0], []).append(_operation(method, path, op))
    sections = [
        f'<h2 id="tag-{escape(tag)}">{escape(tag)}</h2>{"".join(ops)}' for tag, ops in by_tag.items()
    ]
    problems = "".join(
        f'<tr id="problem-{slug}"><td><code>/docs#problem-{slug}</code></td><td>{status}</td>'
        f"<td>{escape(title)}</td><td>{escape(meaning)}</td></tr>"
        for slug, (status, title, meaning) in PROBLEM_TYPES.items()
    )
    schemas = "".join(
        f'<details id="schema-{escape(name)}"><summary><code>{escape(name)}</code></summary>'
        f"<pre>{escape(json.dumps(schema, indent=2, ensure_ascii=False))}</pre></details>"
        for name, schema in spec["components"]["schemas"].items()
    )
    nav = "".join(f'<a href="#tag-{escape(tag)}">{escape(tag)}</a>' for tag in by_tag)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{escape(spec['info']['title'])} {escape(spec['info']['version'])}</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>{escape(spec['info']['title'])} <small>{escape(spec['info']['version'])}</small></h1>"
        "<p>Authenticate with <code>Authorization: Bearer rk_…</code>. Lists take <code>?limit=</code> and "
        "<code>?cursor=</code>; updates take <code>If-Match</code>. The machine-readable document is "
        '<a href="/openapi.json">/openapi.json</a>.</p>'
        f"<nav>{nav}<a href='#problems'>problems</a><a href='#schemas'>schemas</a></nav>"
        f"{''.join(sections)}"
        f'<h2 id="problems">Problem types</h2><table><tr><th>type</th><th>status</th><th>title</th>'
        f"<th>meaning</th></tr>{problems}</table>"
        f'<h2 id="schemas">Schemas</h2>{schemas}</body></html>'
    )
