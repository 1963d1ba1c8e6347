"""Sending the stored messages over SMTP, at least once, on the webhooks' retry schedule.

The delivery workers send email too (Worker owns a Mailer): they claim due messages as they claim
deliveries — FOR UPDATE SKIP LOCKED, stamped with the worker's number and a lease, taken over when
the worker's advisory lock is gone — so a worker killed mid-send has its messages sent again by
another (same Message-ID: a mail client shows one). Each attempt is logged with the SMTP reply code;
after the last of schedule.ATTEMPTS the message is failed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

import aiosmtplib
import asyncpg
import structlog

from notifications import schedule
from relief.settings import Settings

log = structlog.get_logger("relief.email")

BATCH = 50  # messages one round claims; sent over one SMTP connection

_CLAIM = """
with live as (
    select objid::bigint as worker from pg_locks
     where locktype = 'advisory' and classid = $1 and objsubid = 2 and granted
       and database = (select oid from pg_database where datname = current_database())
), due as (
    select id from notifications
     where status = 'pending' and next_attempt_at <= $2
       and (claimed_by is null or claimed_until < $2 or claimed_by not in (select worker from live))
     order by next_attempt_at, id
     limit $4
     for update skip locked
)
update notifications n set claimed_by = $3, claimed_until = $2 + $5::interval
  from due where n.id = due.id
returning n.id, n.attempts, n.recipient, n.subject, n.body_text, n.body_html, n.language
"""

_RECORD = """
with r as (
    select * from unnest($2::uuid[], $3::int[], $4::timestamptz[], $5::int[], $6::text[], $7::int[], $8::text[],
                         $9::timestamptz[])
             as r(id, number, attempted_at, smtp_code, error, latency_ms, outcome, next_at)
), logged as (
    insert into notification_attempts (notification_id, number, attempted_at, worker, smtp_code, error, latency_ms)
    select id, number, attempted_at, $1, smtp_code, error, latency_ms from r
    on conflict do nothing
)
update notifications n
   set attempts = r.number, status = r.outcome, next_attempt_at = coalesce(r.next_at, n.next_attempt_at),
       delivered_at = case when r.outcome = 'delivered' then r.attempted_at end,
       last_error = r.error, claimed_by = null, claimed_until = null, updated_at = now()
  from r
 where n.id = r.id and n.claimed_by = any($10::bigint[])
"""


@dataclass(frozen=True)
class Sent:
    id: Any
    number: int
    attempted_at: datetime
    smtp_code: int | None
    error: str | None
    latency_ms: int

    @property
    def ok(self) -> bool:
        return self.error is None


class Mailer:
    """One worker's email sender; `round()` claims, sends and records one batch."""

    def __init__(self, settings: Settings, *, lock_class: int, clock: Callable[[], datetime],
                 rng: random.Random) -> None:
        self.settings = settings
        self.lock_class = lock_class
        self.clock = clock
        self.rng = rng
        self.sent = 0
        self.failed_attempts = 0
        _, address = parseaddr(settings.smtp_sender)
        self.domain = address.rpartition("@")[2] or "relief.localhost"

    @property
    def on(self) -> bool:
        return self.settings.email_on

    def message(self, row: asyncpg.Record) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.settings.smtp_sender
        msg["To"] = row["recipient"]
        msg["Subject"] = row["subject"]
        msg["Date"] = format_datetime(datetime.now(UTC))
        # The same on every attempt: a message sent twice (a crash after the server took it) is one
        # message to a mail client that deduplicates.
        msg["Message-ID"] = f"<{row['id']}@{self.domain}>"
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to the bureau
        msg["Content-Language"] = "zh-CN" if row["language"] == "zh" else "en"
        msg.set_content(row["body_text"])
        msg.add_alternative(row["body_html"], subtype="html")
        return msg

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.smtp_host, port=s.smtp_port, use_tls=s.smtp_tls == "tls",
            start_tls=True if s.smtp_tls == "starttls" else False, timeout=s.smtp_timeout,
            username=s.smtp_user, password=s.smtp_password.get_secret_value() if s.smtp_password else None,
        )

    async def _send(self, rows: list[asyncpg.Record]) -> list[Sent]:
        results: list[Sent] = []
        started = time.perf_counter()

        def sent(row: asyncpg.Record, code: int | None, error: str | None) -> Sent:
            return Sent(row["id"], row["attempts"] + 1, datetime.now(UTC), code, error,
                        int((time.perf_counter() - started) * 1000))

        client = self._client()
        try:
            await client.connect()
        except Exception as exc:  # the server is down: every message of the batch waits for the next attempt
            error = _describe(exc)
            return [sent(row, getattr(exc, "code", None), error) for row in rows]
        try:
            for row in rows:
                started = time.perf_counter()
                try:
                    refused, _reply = await client.send_message(self.message(row))
                    if refused:
                        code, text = next(iter(refused.values()))
                        results.append(sent(row, code, f"refused: {code} {text}"[:500]))
                    else:
                        results.append(sent(row, 250, None))
                except aiosmtplib.SMTPRecipientsRefused as exc:  # the one recipient refused: the server's word
                    first = exc.recipients[0] if exc.recipients else None
                    code = first.code if first else None
                    text = f"{first.code} {first.message}" if first else str(exc)
                    results.append(sent(row, code, f"refused: {text}"[:500]))
                except aiosmtplib.SMTPResponseException as exc:
                    results.append(sent(row, exc.code, f"{exc.code} {exc.message}"[:500]))
                except Exception as exc:  # the connection dropped: this one and the rest wait
                    error = _describe(exc)
                    done = {r.id for r in results}
                    results.extend(sent(r, None, error) for r in rows if r["id"] not in done)
                    break
        finally:
            try:
                await client.quit()
            except Exception:  # already gone; what was sent is on record
                client.close()
        return results

    async def round(self, pool: asyncpg.Pool, *, number: int, owned: list[int]) -> int:
        """Claim, send and record one batch; the number of messages tried."""
        if not self.on:
            return 0
        now = self.clock()
        lease = timedelta(seconds=self.settings.smtp_timeout * 2 + 10)
        async with pool.acquire() as conn:
            rows = await conn.fetch(_CLAIM, self.lock_class, now, number, BATCH, lease)
        if not rows:
            return 0
        results = await self._send(rows)
        now = self.clock()
        columns: list[list[Any]] = [[] for _ in range(8)]
        for r in results:
            if r.ok:
                outcome, next_at = "delivered", None
            else:
                # 5xx is the server's final word on this message (a bad address): no retry. 4xx and no
                # answer at all are temporary: the schedule's next attempt.
                permanent = r.smtp_code is not None and 500 <= r.smtp_code < 600
                next_at = None if permanent else schedule.next_attempt(r.number, now, rng=self.rng)
                outcome = "pending" if next_at is not None else "failed"
            for column, value in zip(columns, (r.id, r.number, r.attempted_at, r.smtp_code, r.error, r.latency_ms,
                                               outcome, next_at), strict=True):
                column.append(value)
        async with pool.acquire() as conn:
            await conn.execute(_RECORD, number, *columns, owned)
        ok = sum(1 for r in results if r.ok)
        self.sent += ok
        self.failed_attempts += len(results) - ok
        if ok < len(results):
            # The codes, not the errors: a server's refusal names the address, which stays out of logs
            # (the notification log keeps the whole answer for those who may read it).
            log.warning("email_attempts_failed", failed=len(results) - ok,
                        smtp_codes=sorted({r.smtp_code for r in results if not r.ok and r.smtp_code}))
        return len(results)


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:500]
