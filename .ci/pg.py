"""CI helper for the shared PostgreSQL: `pg.py URL sql "…"` or `pg.py URL drop-run RUN_ID`."""

import asyncio
import sys

import asyncpg


async def main(url: str, command: str, argument: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        if command == "sql":
            await conn.execute(argument)
        elif command == "drop-run":
            # Databases the suite made in this run: relief_tmpl_<run>, relief_t_<run>_…, relief_e_<run>_…
            names = await conn.fetch(
                "select datname from pg_database where datname like $1", f"relief\\_%\\_{argument}%"
            )
            for (name,) in names:
                await conn.execute(f'drop database if exists "{name}" with (force)')
        else:
            raise SystemExit(f"unknown command {command}")
    finally:
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
