"""The README's API tour, run as written: its shell blocks, top to bottom, against a `relief serve` of our own.

Every ```sh block between "## API tour" and the next top-level section is run by one bash (so the
variables one block sets are there for the next, as in a reader's terminal), under `set -Eeuo pipefail`:
the first command that fails fails the test, naming its block and README line. A block the tour cannot
run here (a second server, a stream that never ends) is marked right before it with
`<!-- tour: skip (why) -->`; a webhook or alert block may not be.

The server is what `make run` starts: development, the demo loaded. The tour picks its own address from
RELIEF_PORT and its receiver's port from RECEIVER_PORT, both of which the README defaults; here they are
free ports, so the run shares nothing with a `make run` on this machine. It runs in a folder of its own,
so the files the tour writes (receiver.py, residents.csv…) never land in the checkout.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import RELIEF_BIN, ROOT, relief_env
from tests.ports import free_port
from tests.test_serve import Served

README = ROOT / "README.md"
SKIP = re.compile(r"<!--\s*tour:\s*skip\s*\((?P<reason>[^)]+)\)\s*-->")
TOUR_SECONDS = 90  # the whole tour; it takes about half that


@dataclass(frozen=True)
class Block:
    line: int  # the README line of its first command
    text: str
    skip: str | None  # why the tour does not run it, when marked


def tour_blocks(readme: str) -> list[Block]:
    """The ```sh blocks of the API tour section, in order, each with its skip mark if it has one."""
    lines = readme.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "## API tour")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    blocks: list[Block] = []
    i = start
    while i < end:
        if lines[i].strip() == "```sh":
            before = next((lines[j] for j in range(i - 1, start, -1) if lines[j].strip()), "")
            mark = SKIP.search(before)
            close = next(j for j in range(i + 1, end) if lines[j].strip() == "```")
            blocks.append(Block(i + 2, "\n".join(lines[i + 1:close]), mark["reason"] if mark else None))
            i = close
        i += 1
    return blocks


def script(blocks: list[Block]) -> str:
    out = [
        "set -Eeuo pipefail",
        "shopt -s inherit_errexit",
        'trap \'echo "tour: block at README line $TOUR_LINE failed: $BASH_COMMAND (exit $?)" >&2\' ERR',
    ]
    for block in blocks:
        if block.skip is None:
            out += [f"TOUR_LINE={block.line}", f'echo "--- README line {block.line}" >&2', block.text]
    return "\n".join(out) + "\n"


def test_the_tour_has_blocks_and_skips_none_about_webhooks_or_alerts():
    blocks = tour_blocks(README.read_text())
    assert len(blocks) > 20, "the tour section was not found whole"
    skipped = [b for b in blocks if b.skip is not None]
    for block in skipped:
        if re.search(r"webhook|alert|receiver|/acks", block.text, re.IGNORECASE):
            pytest.fail(f"the block at README line {block.line} is about webhooks or alerts and may not be skipped")
    # Nothing in the tour may stand for a value the reader has to fill in by hand.
    for block in blocks:
        if block.skip is None and (hole := re.search(r"<[a-z][a-z ]* id>|…@", block.text)):
            pytest.fail(f"README line {block.line}: {hole[0]!r} is a placeholder bash cannot run")


async def test_the_readme_tour_runs_top_to_bottom(database_url: str, tmp_path: Path):
    blocks = tour_blocks(README.read_text())
    served = Served(database_url, RELIEF_DEMO="true", RELIEF_WEBHOOK_ALLOW_PRIVATE="true")
    port = served.port
    receiver_port = free_port()
    while receiver_port == port:
        receiver_port = free_port()
    await served.start()
    # The tour calls .venv/bin/relief and .venv/bin/python from where it runs, as from the checkout.
    (tmp_path / ".venv").symlink_to(Path(RELIEF_BIN).parent.parent)
    (tmp_path / "tour.sh").write_text(script(blocks))
    env = relief_env(database_url, RELIEF_PORT=str(port), RECEIVER_PORT=str(receiver_port))
    tour = None
    try:
        await served.wait_ready()
        tour = await asyncio.create_subprocess_exec(
            "bash", "tour.sh", cwd=tmp_path, env=env, start_new_session=True,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        try:
            async with asyncio.timeout(TOUR_SECONDS):
                output, _ = await tour.communicate()
        except TimeoutError:
            pytest.fail(f"the tour did not finish within {TOUR_SECONDS} s")
        text = output.decode(errors="replace")
        (tmp_path / "tour.log").write_text(text)  # what a reader would have seen, kept with the run's files
        if tour.returncode != 0:
            pytest.fail(f"the tour failed (exit {tour.returncode}):\n{text[-6000:]}\n"
                        f"--- server log (tail)\n{served.output[-3000:]}")
        # The receiver the tour started got the deliveries, each signature verified.
        received = (tmp_path / "receiver.log").read_text()
        assert "webhook.test" in received, received
        assert "alert.broadcast" in received, received
    finally:
        if tour is not None:
            # The tour's receiver runs in the background, in the tour's process group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(tour.pid, signal.SIGTERM)
        await served.kill()
