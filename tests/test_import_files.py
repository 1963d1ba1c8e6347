"""The import file layer (issue 14): no database, just bytes and workbooks in, rows and bodies out."""

from __future__ import annotations

import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from pydantic import TypeAdapter

from models.donations import Channel, DonationCreate
from models.impacts import Figure, ImpactCreate, Source
from models.residents import EvacuationCreate, IdType, Placement, ResidentCreate, Vulnerability
from relief.import_files import (
    CHANNEL_ZH,
    COLUMNS,
    FIGURE_ZH,
    ID_TYPE_ZH,
    NO_HEADER,
    PLACEMENT_ZH,
    REF_FIELDS,
    SOURCE_ZH,
    TOO_MANY_CELLS,
    VULNERABILITY_ZH,
    CharsetSniffer,
    HeaderMismatch,
    Unreadable,
    Unsupported,
    csv_rows,
    detect,
    map_header,
    normalized_key,
    row_body,
    xlsx_rows,
)
from relief.import_templates import CODES_SHEET, DATA_SHEET, template_csv, template_xlsx

MODELS: dict[str, Any] = {
    "residents": ResidentCreate, "evacuations": EvacuationCreate,
    "donations": TypeAdapter(DonationCreate), "impacts": ImpactCreate,
}
RESIDENT_CSV = (
    "姓名 (name),证件号码,origin_region,特殊需要,联系电话\r\n"
    "张三,11010519491231002X,130681,老人、儿童,13912345678\r\n"
    '"李四",11010519491231002X,130681,"disabled，pregnant",\r\n'
)


def model_body(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """What the runner does: drop _key, resolve each reference to an id where the model takes it."""
    out = {k: v for k, v in body.items() if not k.startswith("_")}
    for ref in body.get("_refs", {}):
        target = REF_FIELDS[kind][ref]
        if target == "donor.organization_id":
            out["donor"] = {**out.get("donor", {}), "organization_id": str(uuid.uuid4())}
        elif target is not None:
            out[target] = str(uuid.uuid4())
    return out


def validate(kind: str, body: dict[str, Any]) -> Any:
    model = MODELS[kind]
    return (model.validate_python if isinstance(model, TypeAdapter) else model.model_validate)(model_body(kind, body))


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]


def test_the_chinese_tables_name_every_code_of_the_models() -> None:
    assert set(VULNERABILITY_ZH) == set(Vulnerability)
    assert set(ID_TYPE_ZH) == set(IdType)
    assert set(PLACEMENT_ZH) == set(Placement)
    assert set(CHANNEL_ZH) == set(Channel)
    assert set(SOURCE_ZH) == set(Source)
    assert set(FIGURE_ZH) == set(Figure)


def test_detect() -> None:
    assert detect("text/csv") == ("csv", None)
    assert detect("Text/CSV; charset=UTF8") == ("csv", "utf-8")
    assert detect('text/csv; charset="GBK"') == ("csv", "gb18030")
    assert detect("text/csv;charset=gb2312") == ("csv", "gb18030")
    assert detect("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet") == ("xlsx", None)
    with pytest.raises(Unsupported, match="big5"):
        detect("text/csv; charset=big5")
    for other in ("application/json", "application/vnd.ms-excel", ""):
        with pytest.raises(Unsupported):
            detect(other)


def test_header_matches_chinese_english_and_combined_names() -> None:
    header = ["姓名", "ID_Number", " 原住地区划代码 / origin_region ", "特殊需要（vulnerabilities）", "Phone", ""]
    mapping = map_header("residents", header)
    assert [c.field if c else None for c in mapping] == [
        "name", "id_number", "origin_region", "vulnerabilities", "phone", None]


def test_an_unknown_header_refuses_the_file_and_says_what_was_expected() -> None:
    with pytest.raises(HeaderMismatch) as caught:
        map_header("residents", ["姓名", "证件号码", "原住地区划代码", "身高"])
    assert caught.value.unknown == ["身高"]
    assert caught.value.missing == []
    assert "姓名 (name)" in caught.value.expected and "安置点 (shelter)" in caught.value.expected
    assert "身高" in str(caught.value)


def test_missing_required_and_repeated_columns_refuse_the_file() -> None:
    with pytest.raises(HeaderMismatch) as caught:
        map_header("impacts", ["区划代码", "指标", "数值"])
    assert caught.value.missing == ["来源 (source)"]
    with pytest.raises(HeaderMismatch) as caught:
        map_header("impacts", ["区划代码", "指标", "数值", "来源", "source (来源)"])
    assert caught.value.duplicated == ["来源 (source)"]
    with pytest.raises(HeaderMismatch):  # the two halves of a combined name must be one column
        map_header("impacts", ["区划代码", "指标 (value)", "数值", "来源"])


def test_utf8_with_bom_and_gb18030_give_the_same_rows() -> None:
    utf8 = list(csv_rows(chunks("\ufeff".encode() + RESIDENT_CSV.encode(), 7), "utf-8"))
    gb = list(csv_rows(chunks(RESIDENT_CSV.encode("gb18030"), 5), "gb18030"))
    assert utf8 == gb
    assert utf8[0] == (1, ["姓名 (name)", "证件号码", "origin_region", "特殊需要", "联系电话"])
    assert utf8[2] == (3, ["李四", "11010519491231002X", "130681", "disabled，pregnant"])


def test_a_quoted_multiline_cell_is_one_row() -> None:
    text = 'a,b\n1,"first line\nsecond line\r\nthird"\n\n2,x\n'
    rows = list(csv_rows([text.encode()], "utf-8"))
    # As a spreadsheet shows it: the record is row 2, the blank line row 3 (skipped), the next row 4.
    assert rows == [(1, ["a", "b"]), (2, ["1", "first line\nsecond line\r\nthird"]), (4, ["2", "x"])]


def test_bytes_not_in_the_charset_are_unreadable() -> None:
    with pytest.raises(Unreadable, match="row 2"):
        list(csv_rows([b"a\n", "张三\n".encode("gb18030")], "utf-8"))


@pytest.mark.parametrize("size", [1, 2, 3, 1000])
def test_the_sniffer_tells_utf8_from_gb18030_across_chunk_boundaries(size: int) -> None:
    text = "姓名,地址\n张三,涿州市码头镇\n"
    for encoded, expected in ((text.encode(), "utf-8"), (b"\xef\xbb\xbf" + text.encode(), "utf-8"),
                              (text.encode("gb18030"), "gb18030"), (b"name\n", "utf-8")):
        sniffer = CharsetSniffer()
        for chunk in chunks(encoded, size):
            sniffer.feed(chunk)
        assert sniffer.result() == expected
    cut = CharsetSniffer()
    cut.feed("abc张".encode()[:-1])  # a sequence cut off at the end of the file is not UTF-8
    assert cut.result() == "gb18030"


def test_xlsx_cells_come_back_as_text(tmp_path: Any) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["姓名", "人数", "金额", "时间", "日期", "空", "是否"])
    sheet.append(["张三", 120, 12.5, datetime(2023, 8, 1, 10, 0), date(2023, 8, 1), None, True])
    sheet.append([None, 3.0, 0.1 + 0.2, datetime(2023, 8, 1, 9, 59, 59, 999_800), None, None, None])
    sheet.append([])
    sheet.append(["王五", 1e20, 0.00001])
    sheet.append([None, None])
    sheet.append([None])
    path = tmp_path / "rows.xlsx"
    workbook.save(path)
    rows = list(xlsx_rows(str(path)))
    assert rows == [
        (1, ["姓名", "人数", "金额", "时间", "日期", "空", "是否"]),
        (2, ["张三", "120", "12.5", "2023-08-01T10:00:00", "2023-08-01T00:00:00", "", "true"]),
        (3, ["", "3", "0.3", "2023-08-01T10:00:00"]),
        (5, ["王五", "100000000000000000000", "0.00001"]),
    ]


def test_a_file_that_is_not_a_workbook_is_unreadable(tmp_path: Any) -> None:
    path = tmp_path / "not.xlsx"
    path.write_bytes(b"name,id\n")
    with pytest.raises(Unreadable):
        list(xlsx_rows(str(path)))


@pytest.mark.parametrize("kind", list(COLUMNS))
def test_the_csv_template_is_accepted_and_its_example_validates(kind: str) -> None:
    content = template_csv(kind)
    assert content.startswith(b"\xef\xbb\xbf")
    rows = list(csv_rows([content], "utf-8"))
    assert [n for n, _ in rows] == [1, 2]
    assert rows[0][1][0].startswith(COLUMNS[kind][0].zh + " (")
    mapping = map_header(kind, rows[0][1])
    validate(kind, row_body(kind, mapping, rows[1][1]))


@pytest.mark.parametrize("kind", list(COLUMNS))
def test_the_xlsx_template_is_accepted_and_its_example_validates(kind: str, tmp_path: Any) -> None:
    content = template_xlsx(kind, regions=[("130681", "涿州市")], items=[("drinking_water", "饮用水")],
                            flags=list(VULNERABILITY_ZH.items()))
    path = tmp_path / f"{kind}.xlsx"
    path.write_bytes(content)
    rows = list(xlsx_rows(str(path)))
    assert [n for n, _ in rows] == [1, 2]
    mapping = map_header(kind, rows[0][1])
    validate(kind, row_body(kind, mapping, rows[1][1]))
    workbook = load_workbook(path)
    assert workbook.sheetnames == [DATA_SHEET, CODES_SHEET]
    data = workbook[DATA_SHEET]
    assert data["A1"].font.bold and data["A1"].comment is not None
    assert COLUMNS[kind][0].hint[0] in data["A1"].comment.text
    codes = [c for row in workbook[CODES_SHEET].iter_rows(values_only=True) for c in row if c]
    if kind in ("residents", "evacuations", "impacts"):
        assert "130681" in codes and "涿州市" in codes
    expected = {"residents": "needs_medical_care", "evacuations": "dispersed", "donations": "drinking_water",
                "impacts": "houses_collapsed"}
    assert expected[kind] in codes


def body(kind: str, row: dict[str, str]) -> dict[str, Any]:
    return row_body(kind, map_header(kind, list(row)), list(row.values()))


def test_row_body_converts_words_flags_and_booleans() -> None:
    resident = body("residents", {"姓名": " 张三 ", "证件类型": "护照", "证件号码": "E12345678",
                                  "原住地区划代码": "130681", "特殊需要": "老人, 儿童；disabled 、孕妇",
                                  "家庭人数": "", "安置点": "一中", "协助组织": "91130681MA0C12345W"})
    assert resident == {"name": "张三", "id_type": "passport", "id_number": "E12345678", "origin_region": "130681",
                        "vulnerabilities": ["elderly", "child", "disabled", "pregnant"],
                        "_refs": {"shelter": "一中", "assisted_by": "91130681MA0C12345W"}}
    assert body("residents", {"姓名": "x", "证件号码": "1", "原住地区划代码": "1"})["id_type"] == "resident_id"
    donation = body("donations", {"类型": "资金", "金额": "100.50", "渠道": "银行转账", "捐赠人": "", "匿名": "是",
                                  "捐赠组织": "", "行键": "D-1"})
    assert donation == {"_key": "D-1", "kind": "money", "amount": "100.50", "channel": "bank_transfer",
                        "donor": {"anonymous": True}}
    validate("donations", donation)
    assert body("donations", {"类型": "goods", "匿名": "否"})["donor"] == {"anonymous": False}
    assert body("donations", {"类型": "goods", "匿名": "maybe"})["donor"] == {"anonymous": "maybe"}
    impact = body("impacts", {"区划代码": "130681", "指标": "倒塌房屋", "数值": "12", "来源": "社会组织",
                              "报送组织": "91130681MA0C12345W", "统计时间": "2023/8/1 18:00"})
    assert impact["figure"] == "houses_collapsed" and impact["source"] == "organization"
    assert impact["as_of"] == "2023-08-01T10:00:00+00:00"  # local time (Asia/Shanghai) in UTC
    assert impact["_refs"] == {"organization": "91130681MA0C12345W"}
    validate("impacts", impact)
    # Bad values pass through for the model to report.
    evacuation = body("evacuations", {"人数": "很多", "转出地区划代码": "130681", "安置方式": "投亲靠友",
                                      "转移时间": "昨天"})
    assert evacuation == {"count": "很多", "from_region": "130681", "placement": "投亲靠友", "occurred_at": "昨天"}


def test_a_row_longer_than_the_header_is_marked() -> None:
    mapping = map_header("impacts", ["区划代码", "", "指标", "数值", "来源"])
    assert row_body("impacts", mapping, ["130681", "", "dead", "1", "政府", "", ""]) == {
        "region": "130681", "figure": "dead", "value": "1", "source": "government"}
    assert row_body("impacts", mapping, ["130681", "", "dead", "1", "政府", "", "x"]) == {
        "_error": {"column": "G", "reason": TOO_MANY_CELLS}}
    assert row_body("impacts", mapping, ["130681", "y", "dead", "1", "政府"]) == {
        "_error": {"column": "B", "reason": NO_HEADER}}


def test_normalized_key_is_stable_under_column_order_and_whitespace() -> None:
    first = body("evacuations", {"人数": "120", "转出地区划代码": "130681", "安置方式": "分散安置",
                                 "备注": "村委会  组织"})
    second = body("evacuations", {"note": " 村委会 组织 ", "placement": "dispersed", "from_region": " 130681",
                                  "count": "120.0", "key": "ignored"})
    assert normalized_key("evacuations", first) == normalized_key("evacuations", second)
    assert len(normalized_key("evacuations", first)) == 64
    other = body("evacuations", {"人数": "121", "转出地区划代码": "130681", "安置方式": "分散安置",
                                 "备注": "村委会 组织"})
    assert normalized_key("evacuations", other) != normalized_key("evacuations", first)
    assert normalized_key("impacts", first) != normalized_key("evacuations", first)


def test_memory_stays_flat_for_200000_rows() -> None:
    def generate() -> Iterator[bytes]:
        yield "\ufeff姓名,证件号码,原住地区划代码,原住地址\n".encode()
        for start in range(0, 200_000, 1000):
            yield "".join(f'张{i},1101051949123{i:05d},130681,"涿州市某村{i}号"\n'
                          for i in range(start, start + 1000)).encode()

    tracemalloc.start()
    try:
        count = last = 0
        for number, _cells in csv_rows(generate(), "utf-8"):
            count, last = count + 1, number
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (count, last) == (200_001, 200_001)
    assert peak < 20 * 1024 * 1024


def test_the_goods_names_are_the_consoles():
    """models/catalogue.py's Chinese names of goods and units are the console's (one wording everywhere)."""
    from pathlib import Path

    from models.catalogue import GOODS_ZH, UNITS_ZH

    console = (Path(__file__).parent.parent / "handlers/static/js/i18n/zh.js").read_text()
    for code, name in {**GOODS_ZH, **UNITS_ZH}.items():
        assert f"{code}: '{name}'" in console, code
