"""The Doksuri demo's scenario as data: organizations, calls, pledges, donations, shelters, households.

Every name, code, ID number and phone number here is made up. ID numbers and credit codes carry valid
check characters only so that the service accepts them; phones are from the unassigned 1390000xxxx range.
relief/demo.py loads it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from models.codes import credit_code_check_character
from models.residents import resident_id_check_character


def at(day: int, hour: int) -> datetime:
    """A moment of July 2023 given in Beijing time."""
    return datetime(2023, 7, day, hour, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)


def received(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """When money or goods were received in the story (Beijing time), as the receipt number's date says."""
    return datetime(2023, month, day, hour, minute, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)


# --- identification codes ---------------------------------------------------------------------------------


def _organization_code(body8: str) -> str:
    """A GB 11714 organization code: 8 characters and their check character."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body8, weights, strict=True))
    check = 11 - total % 11
    return body8 + ("X" if check == 10 else "0" if check == 11 else str(check))


# Registration authority and category (GB 32100): 51 social group, 52 private non-enterprise unit,
# 53 foundation, 59 other civil-affairs registration, 91 enterprise.
_AUTHORITY = {
    "foundation": "53",
    "charity": "51",
    "association": "51",
    "social_service_agency": "52",
    "volunteer_team": "52",
    "enterprise": "91",
    "other": "59",
}


def credit_code(kind: str, region: str, serial: int) -> str:
    """A unified social credit code with valid check characters (GB 11714 inside, GB 32100 outside)."""
    first17 = _AUTHORITY[kind] + region + _organization_code(f"{(serial * 7_654_321 + 13_579_246) % 10**8:08d}")
    return first17 + credit_code_check_character(first17)


def resident_id(region: str, birth: str, sequence: int) -> str:
    """An 18-character resident ID (GB 11643): region, birth date, sequence (odd: male), check character."""
    first17 = f"{region}{birth}{sequence:03d}"
    return first17 + resident_id_check_character(first17)


# --- the scenario -----------------------------------------------------------------------------------------

# slug: (name, kind, region, contact, phone, skills, goods)
ORGANIZATIONS: dict[str, tuple[str, str, str, str, str, list[str], list[str]]] = {
    "sz_charity": ("苏州市慈善基金会", "foundation", "320500", "沈主任", "13900000101", [], []),
    "sz_rescue_assoc": ("苏州市应急救援志愿者协会", "association", "320500", "顾会长", "13900000102",
                        ["search_and_rescue", "cooking", "logistics"], []),
    "sip_social": ("苏州工业园区社工服务中心", "social_service_agency", "320500", "陆主任", "13900000103",
                   ["shelter_management", "psychological_support"], ["hygiene_kit"]),
    "sz_catering": ("苏州市餐饮行业协会", "association", "320500", "蒋秘书长", "13900000104",
                    ["cooking"], ["drinking_water", "instant_food"]),
    "sz_logistics_assoc": ("苏州市物流与采购行业协会", "association", "320500", "钱秘书长", "13900000105",
                           ["logistics", "driving"], ["life_jacket", "sandbag"]),
    "wz_bluesky": ("吴中区蓝天救援队", "volunteer_team", "320506", "王队长", "13900000106",
                   ["boat_rescue", "search_and_rescue"], ["life_jacket", "rubber_boat"]),
    "xc_rescue": ("相城区应急救援志愿服务队", "volunteer_team", "320507", "杨队长", "13900000107",
                  ["boat_rescue", "driving"], ["rubber_boat"]),
    "ks_charity": ("昆山市慈善总会", "charity", "320583", "邹秘书长", "13900000108", [], []),
    "tc_foundation": ("太仓市慈善基金会", "foundation", "320585", "浦主任", "13900000109", [], []),
    "gs_neighbours": ("姑苏区邻里互助社工服务社", "social_service_agency", "320508", "吴社工", "13900000110",
                      ["psychological_support", "shelter_management"], ["hygiene_kit"]),
    "snd_youth": ("苏州高新区青年志愿者协会", "association", "320505", "许会长", "13900000111",
                  ["logistics", "shelter_management"], ["flashlight"]),
    "ds_water": ("吴中区东山镇水上救援队", "volunteer_team", "320506", "金队长", "13900000112",
                 ["boat_rescue"], ["life_jacket"]),
    "ks_counsellors": ("昆山市心理咨询师协会", "association", "320583", "韦会长", "13900000113",
                       ["psychological_support"], []),
    "sz_medical": ("苏州市仁心医疗志愿服务中心", "social_service_agency", "320500", "冯医生", "13900000114",
                   ["medical"], ["medical_kit"]),
    "jjh_electronics": ("苏州金鸡湖电子科技有限公司", "enterprise", "320508", "曹经理", "13900000115",
                        [], ["folding_bed"]),
    "th_food": ("苏州太湖食品有限公司", "enterprise", "320506", "严经理", "13900000116",
                [], ["drinking_water", "instant_food"]),
    "ks_machinery": ("昆山华阳精密机械有限公司", "enterprise", "320583", "华经理", "13900000117",
                     [], ["generator", "instant_food"]),
    "ycl_logistics": ("苏州阳澄湖物流有限公司", "enterprise", "320507", "潘经理", "13900000118",
                      ["driving", "logistics"], ["drinking_water", "pump"]),
    "tc_supply": ("太仓港顺达供应链有限公司", "enterprise", "320585", "戴经理", "13900000119",
                  [], ["folding_bed"]),
    "gs_textiles": ("苏州姑苏家纺有限公司", "enterprise", "320508", "毛经理", "13900000120",
                    [], ["quilt", "blanket"]),
}
PENDING_ORGANIZATION = ("苏州市舟艇运动协会", "association", "320508", "邵会长", "13900000121",
                        ["boat_rescue"], ["rubber_boat"])
"""Registered, not yet approved: something for the dispatcher's queue."""

# slug: the call's body (all published at once, except the draft)
CALLS: dict[str, dict[str, Any]] = {
    "m_fund": {"kind": "money", "title": "防汛救灾专项资金", "amount": "3000000", "priority": "critical",
               "description": "用于转移安置、抢险排涝和灾后恢复。"},
    "m_relief": {"kind": "money", "title": "受灾群众临时生活救助金", "amount": "2000000", "priority": "high",
                 "description": "按户发放的临时生活救助。"},
    "m_shelters": {"kind": "money", "title": "安置点运转经费", "amount": "800000", "priority": "medium",
                   "description": "安置点水电、餐食、保洁等运转开支。"},
    "g_water": {"kind": "goods", "title": "瓶装饮用水", "item": "drinking_water", "unit": "box", "quantity": "5000",
                "priority": "critical",
                "deliver_to": {"address": "苏州市吴中区临湖镇中心小学安置点物资仓库", "lat": 31.187, "lon": 120.433}},
    "g_food": {"kind": "goods", "title": "方便食品", "item": "instant_food", "unit": "box", "quantity": "3000",
               "priority": "high",
               "deliver_to": {"address": "苏州市相城区望亭镇文体中心", "lat": 31.452, "lon": 120.447}},
    "g_beds": {"kind": "goods", "title": "折叠床", "item": "folding_bed", "unit": "piece", "quantity": "1500",
               "priority": "high"},
    "g_quilts": {"kind": "goods", "title": "棉被", "item": "quilt", "unit": "piece", "quantity": "2000",
                 "priority": "medium"},
    "g_jackets": {"kind": "goods", "title": "救生衣", "item": "life_jacket", "unit": "piece", "quantity": "600",
                  "priority": "critical"},
    "g_generators": {"kind": "goods", "title": "发电机", "item": "generator", "unit": "piece", "quantity": "20",
                     "priority": "high"},
    "g_pumps": {"kind": "goods", "title": "排涝水泵", "item": "pump", "unit": "piece", "quantity": "10",
                "priority": "high"},
    "g_hygiene": {"kind": "goods", "title": "卫生用品包", "item": "hygiene_kit", "unit": "kit", "quantity": "3000",
                  "priority": "medium"},
    "p_boats": {"kind": "personnel", "title": "水上转移救援队员", "skill": "boat_rescue", "headcount": 40,
                "priority": "critical",
                "deliver_to": {"address": "吴中区东山镇应急指挥点", "lat": 31.077, "lon": 120.402}},
    "p_counsel": {"kind": "personnel", "title": "安置点心理疏导志愿者", "skill": "psychological_support",
                  "headcount": 12, "priority": "medium"},
    "p_medical": {"kind": "personnel", "title": "安置点医疗志愿者", "skill": "medical", "headcount": 20,
                  "priority": "high"},
    "p_shelter": {"kind": "personnel", "title": "安置点管理志愿者", "skill": "shelter_management", "headcount": 40,
                  "priority": "high"},
    "p_cooking": {"kind": "personnel", "title": "安置点炊事志愿者", "skill": "cooking", "headcount": 16,
                  "priority": "medium"},
}
DRAFT_CALL = {"kind": "goods", "title": "灾后环境消杀用品", "item": "disinfectant", "unit": "bottle",
              "quantity": "2000", "priority": "low", "status": "draft"}

# (call, organization, pledge body, [(action, extra)…]); actions in order, after every pledge is made.
# Goods delivered or received with "site" land at that site (relief/demo_use.py), else at the intake site.
PLEDGES: list[tuple[str, str, dict[str, Any], list[tuple[str, dict[str, Any]]]]] = [
    ("m_fund", "sz_charity", {"amount": "2000000"},
     [("accept", {}), ("receive", {"channel": "bank_transfer", "receipt_no": "SZCS-20230729-001",
                                   "received_at": received(7, 29, 10, 20)})]),
    ("m_fund", "jjh_electronics", {"amount": "500000"},
     [("accept", {}), ("receive", {"channel": "bank_transfer", "receipt_no": "SZCS-20230729-002",
                                   "received_at": received(7, 29, 15, 45)})]),
    ("m_fund", "ks_machinery", {"amount": "300000"},
     [("accept", {}), ("dispatch", {}), ("deliver", {"channel": "bank_transfer", "receipt_no": "SZCS-20230730-003",
                                                        "received_at": received(7, 30, 9, 30)})]),
    ("m_fund", "tc_supply", {"amount": "200000"},
     [("accept", {}), ("deliver", {"channel": "bank_transfer", "receipt_no": "SZCS-20230730-004",
                                    "received_at": received(7, 30, 11, 5)})]),
    ("m_relief", "ks_charity", {"amount": "600000"},
     [("accept", {}), ("receive", {"channel": "bank_transfer", "receipt_no": "SZCS-20230730-005",
                                   "received_at": received(7, 30, 16, 40)})]),
    ("m_relief", "tc_foundation", {"amount": "400000"},
     [("accept", {}), ("receive", {"channel": "bank_transfer", "receipt_no": "SZCS-20230731-006",
                                   "earmark": {"purpose": "emergency_living_aid", "region": "3205"},
                                   "received_at": received(7, 31, 10, 15)})]),
    ("m_relief", "th_food", {"amount": "150000"}, [("accept", {}), ("dispatch", {})]),
    ("m_relief", "sip_social", {"amount": "50000", "note": "园区企业定向捐赠，汇总后转入"}, []),
    ("m_relief", "gs_textiles", {"amount": "100000"},
     [("withdraw", {"reason": "改为捐赠棉被，见棉被认捐"})]),
    ("m_shelters", "ycl_logistics", {"amount": "120000"}, [("accept", {})]),
    ("m_shelters", "sz_catering", {"amount": "80000"},
     [("reject", {"reason": "与协会另一笔认捐重复登记，请以物资认捐为准"})]),
    ("g_water", "th_food", {"quantity": "3000", "estimated_value": "108000"},
     [("accept", {}), ("dispatch", {}), ("deliver", {"site": "wz_depot", "received_at": received(7, 29, 18)})]),
    ("g_water", "sz_catering", {"quantity": "1200", "estimated_value": "43200"},
     [("accept", {}), ("deliver", {"delivered": "1000", "reason": "实到1000箱，200箱包装破损退回",
                                 "received_at": received(7, 30, 14, 30)})]),
    ("g_water", "ycl_logistics", {"quantity": "800", "estimated_value": "28800"}, [("accept", {}), ("dispatch", {})]),
    ("g_food", "th_food", {"quantity": "1500", "estimated_value": "97500"},
     [("accept", {}), ("receive", {"quantity": "1500", "receipt_no": "WZ-WZ-0729-011", "site": "wz_depot",
                                   "received_at": received(7, 29, 21)})]),
    ("g_food", "ks_machinery", {"quantity": "1000", "estimated_value": "65000"}, [("accept", {})]),
    ("g_beds", "jjh_electronics", {"quantity": "800", "estimated_value": "128000"},
     [("accept", {}), ("dispatch", {}), ("deliver", {"site": "gs_depot", "received_at": received(7, 30, 20)})]),
    ("g_beds", "tc_supply", {"quantity": "400", "estimated_value": "64000"}, []),
    ("g_quilts", "gs_textiles", {"quantity": "2000", "estimated_value": "260000"},
     [("accept", {}), ("dispatch", {}), ("deliver", {"site": "gs_depot", "received_at": received(7, 31, 9)})]),
    ("g_jackets", "sz_logistics_assoc", {"quantity": "500", "estimated_value": "42500"},
     [("accept", {}), ("deliver", {"site": "wz_depot", "received_at": received(7, 30, 8, 30)})]),
    ("g_generators", "ks_machinery", {"quantity": "12", "estimated_value": "96000"},
     [("accept", {}), ("dispatch", {}), ("deliver", {"received_at": received(7, 29, 16)})]),
    ("g_pumps", "ycl_logistics", {"quantity": "6", "estimated_value": "72000"},
     [("accept", {}), ("deliver", {"received_at": received(7, 29, 13, 30)})]),
    ("g_hygiene", "gs_neighbours", {"quantity": "600", "estimated_value": "22800"},
     [("withdraw", {"reason": "供货商无法按期供货"})]),
    ("g_hygiene", "sip_social", {"quantity": "1000", "estimated_value": "38000"}, [("accept", {})]),
    ("p_boats", "wz_bluesky", {"headcount": 16, "lead": {"name": "王永军", "phone": "13900001001"}},
     [("accept", {}), ("dispatch", {}), ("deliver", {})]),
    ("p_boats", "ds_water", {"headcount": 12, "lead": {"name": "金海林", "phone": "13900001002"}},
     [("accept", {}), ("dispatch", {})]),
    ("p_boats", "xc_rescue", {"headcount": 10, "lead": {"name": "杨建华", "phone": "13900001003"}}, [("accept", {})]),
    ("p_counsel", "ks_counsellors", {"headcount": 8, "lead": {"name": "韦晓琳", "phone": "13900001004"}},
     [("accept", {})]),
    ("p_counsel", "gs_neighbours", {"headcount": 4, "lead": {"name": "吴佳怡", "phone": "13900001005"}}, []),
    ("p_medical", "sz_medical", {"headcount": 10, "lead": {"name": "冯立群", "phone": "13900001006"}},
     [("accept", {}), ("deliver", {})]),
    ("p_shelter", "sip_social", {"headcount": 12, "lead": {"name": "陆文静", "phone": "13900001007"}},
     [("accept", {}), ("dispatch", {}), ("deliver", {})]),
    ("p_shelter", "sz_rescue_assoc", {"headcount": 18, "lead": {"name": "顾国平", "phone": "13900001008"}}, []),
    ("p_shelter", "wz_bluesky", {"headcount": 6, "lead": {"name": "王永军", "phone": "13900001001"}}, []),
    ("p_cooking", "sz_catering", {"headcount": 8, "lead": {"name": "蒋国华", "phone": "13900001009"}},
     [("accept", {})]),
    ("p_cooking", "sz_rescue_assoc", {"headcount": 6, "lead": {"name": "顾国平", "phone": "13900001008"}},
     [("reject", {"reason": "炊事需持健康证，请改派物资分发志愿者"})]),
]

# Donations received outside any pledge. "donor": an organization slug, a name, or None (anonymous);
# "site": where goods were received (else the intake site).
DONATIONS: list[dict[str, Any]] = [
    {"kind": "money", "amount": "623418.60", "channel": "online_platform", "donor": None, "call": "m_relief",
     "receipt_no": "NET-20230730-01", "note": "网络募捐平台个人捐款汇总（第一批）",
     "received_at": received(7, 30, 18)},
    {"kind": "money", "amount": "412905.30", "channel": "online_platform", "donor": None, "call": "m_relief",
     "receipt_no": "NET-20230802-02", "note": "网络募捐平台个人捐款汇总（第二批）",
     "received_at": received(8, 2, 18)},
    {"kind": "money", "amount": "260000", "channel": "bank_transfer", "donor": "sz_logistics_assoc",
     "call": "m_shelters", "receipt_no": "SZCS-20230731-101", "received_at": received(7, 31, 9, 40)},
    {"kind": "money", "amount": "120000", "channel": "bank_transfer", "donor": "陈建华", "call": "m_fund",
     "receipt_no": "SZCS-20230731-102", "received_at": received(7, 31, 14, 10)},
    {"kind": "money", "amount": "95000", "channel": "bank_transfer", "donor": "sip_social", "call": "m_shelters",
     "receipt_no": "SZCS-20230801-103", "note": "园区企业员工捐款", "received_at": received(8, 1, 10)},
    {"kind": "money", "amount": "88000", "channel": "bank_transfer", "donor": "sz_catering", "call": "m_shelters",
     "receipt_no": "SZCS-20230801-104", "received_at": received(8, 1, 11, 30)},
    {"kind": "money", "amount": "50000", "channel": "bank_transfer", "donor": "周女士",
     "receipt_no": "SZCS-20230801-105", "received_at": received(8, 1, 15, 20)},
    {"kind": "money", "amount": "36800", "channel": "bank_transfer", "donor": "snd_youth",
     "receipt_no": "SZCS-20230802-106", "note": "会员爱心捐款", "received_at": received(8, 2, 10, 30)},
    {"kind": "money", "amount": "18652", "channel": "cash", "donor": None, "receipt_no": "GS-CASH-0730-01",
     "note": "姑苏区沧浪新城社区募捐箱", "received_at": received(7, 30, 19)},
    {"kind": "money", "amount": "12600", "channel": "bank_transfer", "donor": "ks_counsellors",
     "receipt_no": "SZCS-20230802-107", "received_at": received(8, 2, 16)},
    {"kind": "goods", "item": "drinking_water", "unit": "box", "quantity": "500", "estimated_value": "18000",
     "donor": "snd_youth", "call": "g_water", "receipt_no": "WZ-GD-0729-201", "received_at": received(7, 29, 11)},
    {"kind": "goods", "item": "sandbag", "unit": "piece", "quantity": "10000", "estimated_value": "35000",
     "donor": "sz_logistics_assoc", "receipt_no": "WZ-GD-0728-202", "site": "wz_depot",
     "received_at": received(7, 28, 20)},
    {"kind": "goods", "item": "raincoat", "unit": "piece", "quantity": "1000", "estimated_value": "15000",
     "donor": None, "receipt_no": "XC-GD-0729-203", "site": "xc_point",
     "received_at": received(7, 29, 9)},
    {"kind": "goods", "item": "flashlight", "unit": "piece", "quantity": "300", "estimated_value": "9600",
     "donor": "snd_youth", "receipt_no": "SND-GD-0729-204", "received_at": received(7, 29, 14)},
]
# Entered twice by mistake, then reversed: the ledger shows the correction, the totals do not count it.
DUPLICATE = {"kind": "money", "amount": "260000", "channel": "bank_transfer", "donor": "sz_logistics_assoc",
             "call": "m_shelters", "receipt_no": "SZCS-20230731-101-DUP",
             "received_at": received(7, 31, 9, 40)}

# slug: (name, address, capacity, lat, lon)
SHELTERS: dict[str, tuple[str, str, int, float, float]] = {
    "wz_linhu": ("吴中区临湖镇中心小学安置点", "苏州市吴中区临湖镇东山大道", 800, 31.1386, 120.4350),
    "xc_wangting": ("相城区望亭镇文体中心安置点", "苏州市相城区望亭镇鹤溪路", 600, 31.4417, 120.4480),
    "gs_canglang": ("姑苏区沧浪新城社区服务中心安置点", "苏州市姑苏区沧浪新城南环西路", 300, 31.2820, 120.6010),
    "ks_jinxi": ("昆山市锦溪镇中学安置点", "昆山市锦溪镇长寿路", 700, 31.1820, 120.9140),
    "tc_liuhe": ("太仓市浏河镇敬老院临时安置点", "太仓市浏河镇新闸路", 120, 31.5060, 121.2890),
    "snd_tongan": ("高新区通安镇体育馆安置点", "苏州高新区通安镇华金路", 500, 31.3830, 120.4270),
}

# Aggregate evacuations (names not taken): (count, from region, shelter slug or None for dispersed,
# assisting organization or None, day, hour, note)
EVACUATIONS: list[tuple[int, str, str | None, str | None, int, int, str]] = [
    (520, "320506", "wz_linhu", "wz_bluesky", 28, 16, "临湖镇浦庄、灵湖村沿太湖低洼片区"),
    (180, "320506", "wz_linhu", "ds_water", 28, 21, "东山镇环太湖圩区"),
    (260, "320507", "xc_wangting", "xc_rescue", 28, 18, "望亭镇沿河住户"),
    (150, "320507", "xc_wangting", None, 29, 9, "黄桥街道组织转移"),
    (140, "320508", "gs_canglang", "gs_neighbours", 29, 10, "老旧小区危房住户"),
    (380, "320583", "ks_jinxi", None, 28, 20, "锦溪镇镇区组织转移"),
    (120, "320583", "ks_jinxi", "ks_charity", 29, 8, "周庄镇低洼村落"),
    (100, "320585", "tc_liuhe", None, 28, 19, "浏河镇沿江高龄独居老人"),
    (230, "320505", "snd_tongan", "snd_youth", 28, 22, "通安镇工地临时工棚人员"),
    (620, "320506", None, "wz_bluesky", 28, 17, "投亲靠友"),
    (410, "320507", None, "xc_rescue", 28, 19, "投亲靠友"),
    (180, "320508", None, None, 29, 11, "投亲靠友"),
    (330, "320583", None, "ks_charity", 29, 9, "投亲靠友"),
    (160, "320585", None, None, 29, 10, "投亲靠友"),
    (110, "320505", None, "snd_youth", 29, 12, "投亲靠友"),
]

# Households registered one by one: (region, address, shelter slug or None, assisting org, phone,
# [(name, birth date yyyymmdd, male, vulnerabilities)], then: None, "return" (all go home), "return_last"
# (the last member goes home), or ("move", shelter slug))
HOUSEHOLDS: list[tuple[str, str, str | None, str | None, str, list[tuple[str, str, bool, list[str]]], Any]] = [
    ("320506", "临湖镇浦庄村", "wz_linhu", "wz_bluesky", "13900002001",
     [("张建国", "19580314", True, ["elderly"]), ("李秀英", "19600822", False, []),
      ("张伟", "19850107", True, []), ("张子涵", "20160519", False, ["child"])], None),
    ("320506", "东山镇陆巷村", "wz_linhu", "ds_water", "13900002002",
     [("王桂兰", "19410203", False, ["elderly", "needs_medical_care"])], None),
    ("320506", "金庭镇石公村", "wz_linhu", "wz_bluesky", "13900002003",
     [("陈志强", "19790916", True, []), ("刘芳", "19820411", False, ["pregnant"]),
      ("陈一诺", "20190628", False, ["child"])], None),
    ("320507", "望亭镇迎湖村", "xc_wangting", "xc_rescue", "13900002004",
     [("周文华", "19500730", True, ["elderly"]), ("周明", "19761012", True, []),
      ("吴丽", "19780305", False, []), ("周浩然", "20081120", True, ["child"])], None),
    ("320507", "黄桥街道胡巷社区", "xc_wangting", None, "13900002005",
     [("徐海波", "19900218", True, [])], "return"),
    ("320508", "沧浪街道南园社区", "gs_canglang", "gs_neighbours", "13900002006",
     [("孙玉珍", "19380915", False, ["elderly", "disabled"]), ("钱国强", "19650602", True, [])],
     ("move", "wz_linhu")),
    ("320508", "双塔街道新造桥社区", "gs_canglang", "gs_neighbours", "13900002007",
     [("朱晓燕", "19870524", False, []), ("朱一鸣", "20140309", True, ["child"])], None),
    ("320583", "锦溪镇计家墩村", "ks_jinxi", None, "13900002008",
     [("马俊", "19720417", True, []), ("胡美玲", "19741108", False, []), ("马欣怡", "20030226", False, [])],
     "return_last"),
    ("320583", "周庄镇祁浜村", "ks_jinxi", "ks_charity", "13900002009",
     [("郭德胜", "19450801", True, ["elderly"]), ("郭爱华", "19481223", False, ["elderly"])], None),
    ("320585", "浏河镇闸北村", "tc_liuhe", None, "13900002010",
     [("何永福", "19360110", True, ["elderly", "needs_medical_care"]), ("林秀珍", "19390707", False, ["elderly"]),
      ("何建平", "19660321", True, []), ("高小红", "19680914", False, [])], None),
    ("320585", "浏河镇东仓村", "tc_liuhe", None, "13900002011",
     [("罗志刚", "19550505", True, ["elderly"]), ("梁淑芬", "19570818", False, ["elderly"]),
      ("罗晨", "19831127", True, []), ("谢静", "19850630", False, [])], None),
    ("320505", "通安镇树山村", "snd_tongan", "snd_youth", "13900002012",
     [("宋立新", "19700412", True, []), ("唐慧", "19720129", False, []), ("宋佳琪", "20120915", False, ["child"])],
     "return"),
    ("320505", "浒墅关镇青灯村", None, "snd_youth", "13900002013", [("韩雪", "19950803", False, [])], None),
    ("320506", "越溪街道吴山村", None, "wz_bluesky", "13900002014", [("冯国庆", "19491001", True, ["elderly"])], None),
]
# A foreign national working in the district, registered with a passport and sheltered.
PASSPORT_HOLDER = ("金敏俊 (Kim Min-jun)", "M48213657", "320505", "通安镇华通花园", "snd_tongan", "snd_youth")
