"""Import templates (issue 14): a CSV and an .xlsx per kind, with the header import accepts and an example row."""

from __future__ import annotations

import csv
import io

from relief.import_files import (
    CHANNEL_ZH,
    COLUMNS,
    FIGURE_ZH,
    ID_TYPE_ZH,
    KIND_ZH,
    PLACEMENT_ZH,
    SOURCE_ZH,
    UNIT_ZH,
)

DATA_SHEET = "数据 data"
CODES_SHEET = "代码表 codes"
# Codes that look like numbers (division codes, ID numbers, phones) are text, or Excel drops leading
# zeros and rounds 18-digit ID numbers to 15 significant digits.
_TEXT_FIELDS = {"id_number", "phone", "household_id", "origin_region", "from_region", "region", "receipt_no",
                "key", "assisted_by", "organization", "donor.organization"}


def template_csv(kind: str) -> bytes:
    """The kind's CSV template: UTF-8 with a BOM (so Excel reads it as UTF-8), the header and one example row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.header for c in COLUMNS[kind]])
    writer.writerow([c.example for c in COLUMNS[kind]])
    return out.getvalue().encode("utf-8-sig")


def _code_lists(kind: str, regions: list[tuple[str, str]], items: list[tuple[str, str]],
                flags: list[tuple[str, str]]) -> list[tuple[str, list[tuple[str, str]]]]:
    def pairs(words: dict[str, str]) -> list[tuple[str, str]]:
        return list(words.items())

    lists = {
        "residents": [("证件类型 id_type", pairs(ID_TYPE_ZH)), ("特殊需要 vulnerabilities", flags),
                      ("区划 regions", regions)],
        "evacuations": [("安置方式 placement", pairs(PLACEMENT_ZH)), ("区划 regions", regions)],
        "donations": [("类型 kind", pairs(KIND_ZH)), ("物资 item", items), ("单位 unit", pairs(UNIT_ZH)),
                      ("渠道 channel", pairs(CHANNEL_ZH))],
        "impacts": [("指标 figure", pairs(FIGURE_ZH)), ("来源 source", pairs(SOURCE_ZH)), ("区划 regions", regions)],
    }
    return lists[kind]


def template_xlsx(kind: str, *, regions: list[tuple[str, str]], items: list[tuple[str, str]],
                  flags: list[tuple[str, str]]) -> bytes:
    """The kind's .xlsx template: the header (bold, with a hint per cell) and an example row, then the codes."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    data = workbook.active
    data.title = DATA_SHEET
    bold = Font(bold=True)
    for index, column in enumerate(COLUMNS[kind], 1):
        head = data.cell(row=1, column=index, value=column.header)
        head.font = bold
        required = "必填 required" if column.required else "选填 optional"
        head.comment = Comment(f"{column.hint[0]}\n{column.hint[1]}\n({required})", "Relief", width=240, height=90)
        example = data.cell(row=2, column=index, value=column.example or None)
        letter = get_column_letter(index)
        if column.field in _TEXT_FIELDS:
            example.number_format = "@"
            data.column_dimensions[letter].number_format = "@"
        # Two units per CJK character, one per other: roughly what Excel shows.
        width = max(sum(2 if ord(ch) > 0x2E80 else 1 for ch in text) for text in (column.header, column.example))
        data.column_dimensions[letter].width = min(max(width + 2, 10), 40)
    data.freeze_panes = "A2"

    codes = workbook.create_sheet(CODES_SHEET)
    for block, (title, pairs) in enumerate(_code_lists(kind, regions, items, flags)):
        first = block * 3 + 1  # two columns per list and an empty one between lists
        codes.cell(row=1, column=first, value=title).font = bold
        codes.cell(row=2, column=first, value="代码 code").font = bold
        codes.cell(row=2, column=first + 1, value="名称 name").font = bold
        for row, (code, name) in enumerate(pairs, 3):
            codes.cell(row=row, column=first, value=code).number_format = "@"
            codes.cell(row=row, column=first + 1, value=name)
        codes.column_dimensions[get_column_letter(first)].width = 26
        codes.column_dimensions[get_column_letter(first + 1)].width = 22

    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
