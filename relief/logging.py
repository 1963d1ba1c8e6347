"""structlog set-up: JSON in production or when not on a terminal, readable colours on a terminal."""

from __future__ import annotations

import logging
import sys

import structlog

from relief.settings import Settings

# Never let these reach a log line, whatever a caller binds by mistake.
_SECRET_FIELDS = {"authorization", "key", "secret", "password", "api_key", "token", "cookie"}


def _redact(_: object, __: str, event_dict: dict) -> dict:
    for field in _SECRET_FIELDS & event_dict.keys():
        event_dict[field] = "***"
    return event_dict


def configure(settings: Settings) -> None:
    """Configure structlog and the stdlib root logger (aiohttp, asyncpg) to write one format."""
    use_json = settings.log_format == "json" or (
        settings.log_format == "auto" and (settings.production or not sys.stderr.isatty())
    )
    level = getattr(logging, settings.log_level.upper())
    shared: list = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    renderer = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info if use_json else (lambda _, __, d: d),
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp's access log duplicates our canonical request line.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # httpx logs every request with its full URL at INFO: a webhook URL may carry a token, and the
    # worker logs what matters about deliveries itself.
    logging.getLogger("httpx").setLevel(logging.WARNING)
