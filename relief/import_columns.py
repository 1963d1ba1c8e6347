"""The columns of each import kind (issue 14), and the Chinese words a township's sheet may use for codes.

A template writes these headers; an upload's header is matched against them (relief/import_files.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from models.catalogue import GOODS_ZH, UNITS_ZH

# The console's Chinese names (goods and units: models/catalogue.py), so that a township's sheet may
# write 饮用水 or 集中安置 instead of the codes.
ITEM_ZH, UNIT_ZH = GOODS_ZH, UNITS_ZH
VULNERABILITY_ZH = {
    "elderly": "老人", "child": "儿童", "disabled": "残障人士", "pregnant": "孕妇", "needs_medical_care": "需医疗照护",
}
ID_TYPE_ZH = {"resident_id": "居民身份证", "passport": "护照", "other": "其他证件"}
PLACEMENT_ZH = {"centralized": "集中安置", "dispersed": "分散安置"}
KIND_ZH = {"money": "资金", "goods": "物资"}
CHANNEL_ZH = {
    "bank_transfer": "银行转账", "online_platform": "网络平台", "cash": "现金", "in_kind": "实物", "other": "其他",
}
SOURCE_ZH = {"government": "政府", "organization": "社会组织", "media": "媒体", "other": "其他"}
# 自然灾害情况统计调查制度's names.
FIGURE_ZH = {
    "affected": "受灾人口", "dead": "因灾死亡人口", "missing": "因灾失踪人口", "injured": "受伤人口",
    "emergency_relocated": "紧急转移安置人口", "needs_living_aid": "需紧急生活救助人口", "houses_collapsed": "倒塌房屋",
    "houses_severely_damaged": "严重损坏房屋", "houses_damaged": "一般损坏房屋", "crops_affected_ha": "农作物受灾面积",
    "direct_loss": "直接经济损失",
}

# Reference columns (names and credit codes) the runner resolves to ids, and where each id goes in the
# model's body. A resident's shelter is a check-in after registration, not a field of ResidentCreate.
REF_FIELDS = {
    "residents": {"shelter": None, "assisted_by": "assisted_by"},
    "evacuations": {"shelter": "shelter_id", "assisted_by": "assisted_by"},
    "donations": {"donor.organization": "donor.organization_id", "site": "site_id", "shelter": "shelter_id"},
    "impacts": {"organization": "organization_id"},
}


@dataclass(frozen=True, slots=True)
class Column:
    field: str  # the API field, donor.name for the nested donor, or a reference the runner resolves
    zh: str
    en: str
    required: bool
    example: str
    hint: tuple[str, str]  # (zh, en)
    shape: str = "text"  # text | number | time | bool | flags | code
    codes: tuple[tuple[str, str], ...] = ()  # (code, Chinese word) accepted for a code or flags column
    default: str | None = None

    @property
    def header(self) -> str:
        return f"{self.zh} ({self.en})"


def _col(field: str, zh: str, required: bool, example: str, hint_zh: str, hint_en: str, shape: str = "text",
         codes: dict[str, str] | tuple[tuple[str, str], ...] = (), default: str | None = None) -> Column:
    pairs = tuple(codes.items()) if isinstance(codes, dict) else codes
    return Column(field, zh, field, required, example, (hint_zh, hint_en), shape, pairs, default)


_KEY = _col("key", "行键", False, "ZZ-0001", "同一行的唯一编号；重复上传不会重复计数",
            "a unique id for the row, so an upload repeated adds nothing")
_NOTE = _col("note", "备注", False, "", "备注", "a note")
_ASSISTED = _col("assisted_by", "协助组织", False, "", "协助组织的统一社会信用代码（18位）",
                 "the helping organization's unified social credit code (18 characters)")
_SHELTER = _col("shelter", "安置点", False, "涿州市第一中学安置点", "安置点名称或编号", "a shelter's name or id")

COLUMNS: dict[str, tuple[Column, ...]] = {
    "residents": (
        _col("name", "姓名", True, "张三", "姓名", "full name"),
        _col("id_type", "证件类型", False, "居民身份证", "居民身份证、护照或其他证件；空：居民身份证",
             "resident_id, passport or other; empty: resident_id", "code",
             (*ID_TYPE_ZH.items(), ("resident_id", "身份证"), ("other", "其他")), default="resident_id"),
        _col("id_number", "证件号码", True, "11010519491231002X", "证件号码（只保存其哈希与后4位）",
             "the ID number (kept only as a keyed hash and its last 4)"),
        _col("phone", "联系电话", False, "13912345678", "联系电话", "phone number"),
        _col("household_id", "户编号", False, "ZZ-H-0001", "同户成员填写相同编号", "the same for one household"),
        _col("household_size", "家庭人数", False, "3", "家庭人数；空：1", "people in the household; empty: 1",
             "number"),
        _col("origin_region", "原住地区划代码", True, "130681", "6位行政区划代码", "a 6-digit division code"),
        _col("origin_address", "原住地址", False, "涿州市某村", "原住地址", "home address"),
        _col("vulnerabilities", "特殊需要", False, "老人、需医疗照护", "可填多项，以顿号、逗号或空格分隔",
             "several flags, separated by 、 , ; or spaces", "flags", VULNERABILITY_ZH),
        _SHELTER,
        _ASSISTED,
    ),
    "evacuations": (
        _KEY,
        _col("count", "人数", True, "120", "转移人数", "people moved", "number"),
        _col("from_region", "转出地区划代码", True, "130681", "6位行政区划代码", "a 6-digit division code"),
        _col("placement", "安置方式", True, "集中安置", "集中安置或分散安置", "centralized or dispersed", "code",
             PLACEMENT_ZH),
        _SHELTER,
        _ASSISTED,
        _col("occurred_at", "转移时间", False, "2023-08-01 10:00", "如 2023-08-01 10:00；空：现在",
             "e.g. 2023-08-01 10:00; empty: now", "time"),
        _NOTE,
    ),
    "donations": (
        _col("key", "行键", False, "", "无收据编号时用于去重的唯一编号", "a unique id when there is no receipt number"),
        _col("kind", "类型", True, "物资", "资金或物资", "money or goods", "code", KIND_ZH),
        _col("amount", "金额", False, "", "资金：金额", "money: the amount", "number"),
        _col("currency", "币种", False, "CNY", "ISO 4217 代码；空：CNY", "ISO 4217 code; empty: CNY"),
        _col("item", "物资", False, "饮用水", "物资代码或名称（见代码表）", "a catalogue item (see codes) or free text",
             "code", ITEM_ZH),
        _col("unit", "单位", False, "箱", "物资单位", "goods: the unit", "code", UNIT_ZH),
        _col("quantity", "数量", False, "200", "物资数量", "goods: the quantity", "number"),
        _col("estimated_value", "估值", False, "6000", "物资估值", "goods: the estimated value", "number"),
        _col("channel", "渠道", False, "实物", "银行转账、网络平台、现金、实物或其他", "how it was received", "code",
             CHANNEL_ZH),
        _col("receipt_no", "收据编号", False, "ZZ-R-0001", "在本事件内唯一", "unique within the incident"),
        _col("donor.name", "捐赠人", False, "李四", "捐赠人姓名或名称", "the donor's name"),
        _col("donor.organization", "捐赠组织", False, "", "捐赠组织的统一社会信用代码",
             "the donor organization's credit code"),
        _col("donor.anonymous", "匿名", False, "", "是或否", "yes or no", "bool"),
        _col("site", "仓储点", False, "涿州市救灾物资仓库", "接收物资的仓储点名称或编号",
             "the receiving site's name or id"),
        _col("shelter", "安置点", False, "", "或接收物资的安置点名称或编号", "or the receiving shelter's name or id"),
        _col("received_at", "收到时间", False, "2023-08-01 10:00", "如 2023-08-01 10:00；空：登记时间",
             "e.g. 2023-08-01 10:00; empty: when it is recorded", "time"),
        _NOTE,
    ),
    "impacts": (
        _KEY,
        _col("region", "区划代码", True, "130681", "6位行政区划代码", "a 6-digit division code"),
        _col("figure", "指标", True, "受灾人口", "统计指标（见代码表）", "a figure (see codes)", "code", FIGURE_ZH),
        _col("value", "数值", True, "125000", "人口、房屋为整数；面积（公顷）、损失（元）最多2位小数",
             "whole for people and houses; at most 2 decimals for ha and CNY", "number"),
        _col("source", "来源", True, "政府", "政府、社会组织、媒体或其他", "government, organization, media or other",
             "code", SOURCE_ZH),
        _col("organization", "报送组织", False, "", "来源为社会组织时填其统一社会信用代码",
             "for source organization: its credit code"),
        _col("as_of", "统计时间", False, "2023-08-01 18:00", "数据截至时间；空：现在",
             "when the count holds; empty: now", "time"),
        _NOTE,
    ),
}
