"""A message from its template: the subject, a plain-text body and the same body as HTML.

One template per rule and language (templates/<language>/<rule>.txt, jinja2): its first line is the
subject, the rest the plain text. The HTML part is the text laid out by templates/layout.html, escaped
there, so the two parts never say different things and no value can inject markup. Values come from
the rule's context, which never holds a resident's or a member's personal data (rules.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).parent / "templates"
LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    html: str


@cache
def _text_env() -> jinja2.Environment:
    # Plain text: nothing to escape; StrictUndefined so a missing value fails the test, not a reader.
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=False,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=False)


@cache
def _html_env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              undefined=jinja2.StrictUndefined)


def has_template(rule: str, language: str) -> bool:
    return (TEMPLATES / language / f"{rule}.txt").is_file()


def render(rule: str, language: str, context: dict[str, Any]) -> Message:
    language = language if language in LANGUAGES else "zh"
    rendered = _text_env().get_template(f"{language}/{rule}.txt").render(**context)
    subject, _, body = rendered.strip().partition("\n")
    subject = " ".join(subject.split())[:200]  # one header line
    body = "\n".join(line.rstrip() for line in body.strip("\n").splitlines()).strip() + "\n"
    paragraphs = [block.splitlines() for block in body.split("\n\n") if block.strip()]
    html = _html_env().get_template("layout.html").render(
        language=language, subject=subject, paragraphs=paragraphs, link=context.get("link"),
        link_label=context.get("link_label") or ("打开 Relief" if language == "zh" else "Open Relief"),
        footer=FOOTER[language],
    )
    return Message(subject, body, html)


FOOTER = {
    "zh": "这封邮件由 Relief 救灾协同平台按通知规则自动发送，请勿直接回复。",
    "en": "Relief sent this message by one of its notification rules; replies are not read.",
}
