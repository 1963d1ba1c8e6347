"""Why an import row was refused, in the reader's language (issue 14): a township official reads Chinese.

The models, use cases and file reader all speak English; this module turns their reasons into Chinese
at the edge, so that none of them has to know about languages. Terms follow the console's Chinese
(handlers/static/js/i18n/zh.js) and the templates' column names (relief/import_columns.py).

No input value is ever echoed back here: a refused cell may be an ID number or a phone number, and the
reasons are stored and exported beside the masked cells.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from models.catalogue import GOODS_ZH, UNITS_ZH
from relief.import_columns import FIGURE_ZH

# zh.js's enum.impact_unit, enum.resident_status, enum.pledge_status, enum.call_kind, enum.incident_status.
_UNIT_ZH = {"people": "人", "houses": "间", "ha": "公顷", "CNY": "元"}
_RESIDENT_ZH = {"registered": "已登记", "sheltered": "已安置", "returned": "已返家"}
_PLEDGE_ZH = {"pledged": "待审核", "accepted": "已接受", "rejected": "已拒绝", "withdrawn": "已撤回",
              "dispatched": "运输中", "delivered": "已送达"}
_KIND_ZH = {"money": "资金", "goods": "物资", "personnel": "人员"}
_INCIDENT_ZH = {"closed": "已结束", "open": "响应中"}
_ACTION_ZH = {"check in": "办理入住", "move": "转移", "return": "登记返家"}


def _word(table: dict[str, str], code: str) -> str:
    # A code we have no word for is shown quoted, so it reads as a value rather than as broken Chinese.
    return table.get(code) or f"“{code}”"


# Exact English reasons: the models' own validator messages, the file reader's, and fixed domain details.
_FIXED: dict[str, str] = {
    # relief/import_files.py
    "more cells than the header has columns": "该行的单元格多于表头的列数",
    "a value in a column without a header": "该列没有表头，却填写了内容",
    # models/common.py
    "must be between the years 1900 and 2200": "年份应在 1900 至 2200 之间",
    "a time is an ISO 8601 string with its offset, e.g. 2023-07-29T08:00:00+08:00":
        "时间应写成带时区偏移的标准格式，如 2023-07-29 08:00:00+08:00",
    "must be a JSON number": "应为数字",
    "may not be null; leave the field out to keep its value": "不能为空值；不修改请不填此项",
    # models/residents.py
    "a resident ID is 17 digits and a check character (a digit or X)":
        "居民身份证号码应为 17 位数字加 1 位校验码（数字或“X”）",
    "the check character does not match (GB 11643)":
        "证件号码的校验码不符（按《公民身份号码》国家标准核验），请核对号码",
    "a centralized evacuation names the shelter": "集中安置须填写安置点",
    "a dispersed evacuation has no shelter": "分散安置不填安置点",
    # models/codes.py
    "a unified social credit code is 18 characters from 0-9 and A-Y without I, O, S, V, Z":
        "统一社会信用代码应为 18 位，由数字和除“I、O、S、V、Z”以外的大写字母组成",
    "a region is a 6-digit administrative division code, such as 320500": "应为 6 位行政区划代码，如 320500",
    "a donation cannot be received later than now (5 minutes of clock skew allowed)":
        "收到时间不能晚于现在（允许 5 分钟时钟误差）",
    "a region filter is a division code or its prefix: 2, 4 or 6 digits whose first two name a province-level "
    "division (11–82), e.g. 32 (Jiangsu), 3205 (Suzhou), 320505 (Huqiu)":
        "地区筛选应为行政区划代码或其前缀：2、4 或 6 位数字，前两位为省级代码（11–82），"
        "如 32（江苏）、3205（苏州）、320505（虎丘）",
    "the first two digits of a region code name a province-level division (11–82)":
        "区划代码的前两位应为省级行政区代码（11–82）",
    # models/amounts.py
    "send the number as a JSON number or a decimal string, not a float": "数字应填写为数值或十进制文本，不能是浮点数",
    "expected a number": "应为数字",
    'not a decimal number: write it with the ASCII digits 0-9 and at most one ".", e.g. "1000.50" '
    "(no separators or spaces)":
        "不是有效的数字：请用半角数字 0–9 和最多一个小数点书写，如 1000.50（不要用千分位分隔符或空格）",
    "must be a finite number": "应为有限的数值",
    "expected a whole number": "应为整数",
    "not a whole number: write it with the ASCII digits 0-9 (no separators or spaces)":
        "不是整数：请用半角数字 0–9 书写（不要用分隔符或空格）",
    "not an ISO 4217 currency code (e.g. CNY)": "不是有效的币种代码（三位字母代码，如“CNY”）",
    # models/donations.py
    'give exactly one of {"organization_id"}, {"name"} or {"anonymous": true}':
        "捐赠方须填且只填一项：捐赠组织、捐赠人或匿名",
    'name one location: {"site_id": …} or {"shelter_id": …}, not both': "仓储点和安置点只能填一个",
    # models/disbursements.py (an earmark's region)
    "an earmark's region is a division code or its prefix: 2, 4 or 6 digits whose first two name a province "
    "(11–82), e.g. 32 (Jiangsu), 3205 (Suzhou), 320505 (Huqiu)":
        "定向地区应为行政区划代码或其前缀：2、4 或 6 位数字，前两位为省级行政区代码（11–82），"
        "如 32（江苏）、3205（苏州）、320505（虎丘）",
    # models/impacts.py
    "source relief is computed from Relief's own evacuation records and is never posted":
        "来源“relief”由系统根据转移记录自动统计，不能填报",
    "a figure from an organization names that organization": "来源为社会组织时须填写报送组织",
    "only a figure of source organization names an organization": "只有来源为社会组织时才填写报送组织",
    "a region is a division code or its prefix: 2, 4 or 6 digits whose first two name a province (11–82), "
    "e.g. 32, 3205, 320505":
        "地区应为行政区划代码或其前缀：2、4 或 6 位数字，前两位为省级行政区代码（11–82），如 32、3205、320505",
    # relief/residents.py
    "the resident is already in this shelter": "该群众已在此安置点",
    # relief/donations.py, relief/impacts.py
    "no such organization": "没有这个组织",
    "no such call in this incident": "本事件中没有这项需求",
    "no such pledge in this incident": "本事件中没有这项认捐",
    "the pledge answers another call": "该认捐对应的是另一项需求",
    "a pledge is received from the organization that made it; leave donor out":
        "认捐的款物只能由认捐的组织捐赠，请不要填写捐赠方",
}

_ID = r"(?P<id>[0-9a-fA-F-]{36})"
_QUOTED = r"(?P<v>'.*'|\".*\")"  # repr() of the user's value: kept exactly as written

# Reasons with variable parts; the first pattern that matches the whole reason wins.
_PATTERNS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    # relief/import_runner.py: a database rule the models do not state (a bug to report, not the sheet's fault)
    (re.compile(r"the database refused the row \((?P<c>[\w.]+)\)"), lambda m: f"数据库拒绝了这一行（{m['c']}）"),
    # relief/import_apply.py _ref
    (re.compile(rf"no shelter {_QUOTED} in this incident"), lambda m: f"本事件中没有安置点 {m['v']}"),
    (re.compile(rf"no site {_QUOTED} in this incident"), lambda m: f"本事件中没有仓储点 {m['v']}"),
    (re.compile(rf"no approved organization with credit code {_QUOTED}"),
     lambda m: f"没有统一社会信用代码为 {m['v']} 的已审核组织"),
    # models/amounts.py check_money
    (re.compile(r"(?P<c>\S+) amounts have at most 0 decimal places"), lambda m: f"“{m['c']}”金额应为整数"),
    (re.compile(r"(?P<c>\S+) amounts have at most (?P<n>\d+) decimal places"),
     lambda m: f"“{m['c']}”金额最多 {m['n']} 位小数"),
    # models/impacts.py
    (re.compile(r"(?P<f>\w+) counts (?P<u>\w+): a whole number"),
     lambda m: f"{_word(FIGURE_ZH, m['f'])}以{_word(_UNIT_ZH, m['u'])}计，应为整数"),
    (re.compile(r"(?P<f>\w+) is in (?P<u>\w+): at most (?P<n>\d+) decimal places"),
     lambda m: f"{_word(FIGURE_ZH, m['f'])}以{_word(_UNIT_ZH, m['u'])}计，最多 {m['n']} 位小数"),
    (re.compile(r"(?P<f>\w+) is counted in (?P<u>\w+); leave unit out or send '(?P=u)'"),
     lambda m: f"{_word(FIGURE_ZH, m['f'])}以{_word(_UNIT_ZH, m['u'])}计：单位请留空或填写“{m['u']}”"),
    # models/codes.py
    (re.compile(r"check character does not match \(GB 32100-2015 gives '(?P<e>.)'\)"),
     lambda m: f"统一社会信用代码的校验码不符，应为“{m['e']}”"),
    # relief/incidents.py require_open and require
    (re.compile(rf"incident {_ID} does not exist"), lambda m: f"事件 {m['id']} 不存在"),
    (re.compile(rf"incident {_ID} is (?P<s>\w+); reopen it first"),
     lambda m: f"事件 {m['id']} {_word(_INCIDENT_ZH, m['s'])}，请先重新启动该事件"),
    # relief/residents.py
    (re.compile(rf"organization {_ID} does not exist"), lambda m: f"组织 {m['id']} 不存在"),
    (re.compile(rf"resident {_ID} does not exist"), lambda m: f"受灾群众 {m['id']} 不存在"),
    (re.compile(r"cannot (?P<a>check in|move|return) a resident who is (?P<s>\w+)"),
     lambda m: f"该群众{_word(_RESIDENT_ZH, m['s'])}，不能{_ACTION_ZH[m['a']]}"),
    # relief/shelters.py occupy
    (re.compile(rf"shelter {_ID} does not exist"), lambda m: f"安置点 {m['id']} 不存在"),
    (re.compile(rf"shelter {_ID} is not a shelter of this incident"), lambda m: f"安置点 {m['id']} 不属于本事件"),
    (re.compile(rf"shelter {_ID} is closed"), lambda m: f"安置点 {m['id']} 已关闭"),
    (re.compile(rf"shelter {_ID} holds (?P<o>\d+) of (?P<c>\d+): room for (?P<r>-?\d+), not (?P<d>-?\d+)"),
     lambda m: f"安置点 {m['id']} 已入住 {m['o']} / {m['c']} 人，只剩 {m['r']} 个床位，容纳不下 {m['d']} 人"),
    # relief/donations.py record
    (re.compile(r"that call asks for (?P<a>\w+), not (?P<b>\w+)"),
     lambda m: f"该需求征集的是{_word(_KIND_ZH, m['a'])}，不是{_word(_KIND_ZH, m['b'])}"),
    (re.compile(r"receipt (?P<r>.+) is already in this incident's ledger"),
     lambda m: f"收据编号“{m['r']}”已在本事件的捐赠台账中"),
    (re.compile(r"the pledge is of (?P<i>.+) in (?P<u>[^ ]+)"),
     lambda m: f"该认捐的物资是{_word(GOODS_ZH, m['i'])}，单位是{_word(UNITS_ZH, m['u'])}"),
    (re.compile(r"the pledge is of (?P<k>\w+)"), lambda m: f"该认捐是{_word(_KIND_ZH, m['k'])}认捐"),
    (re.compile(r"the pledge is in (?P<c>\S+)"), lambda m: f"该认捐的币种是“{m['c']}”"),
    (re.compile(r"the pledge is (?P<s>\w+); only accepted or dispatched pledges are received"),
     lambda m: f"该认捐{_word(_PLEDGE_ZH, m['s'])}，只有已接受或运输中的认捐才能接收"),
]


def _chinese(language: str) -> bool:
    # "zh", and its regional tags (zh-CN, zh-Hans) as a browser or a CLI flag may send them.
    return language.lower().split("-")[0] == "zh"


def translate(reason: str, language: str) -> str:
    """An English reason produced by our own code (fixed messages and domain-error details) in
    `language`; for "en", or for a reason it does not know, the reason unchanged."""
    if not _chinese(language):
        return reason
    if reason in _FIXED:
        return _FIXED[reason]
    for pattern, render in _PATTERNS:
        if match := pattern.fullmatch(reason):
            return render(match)
    return reason


def _choices(listed: Any) -> str:
    # pydantic lists the choices as "'a', 'b' or 'c'": keep each quoted code, drop the English "or".
    codes = re.findall(r"'[^']*'", str(listed))
    return "、".join(codes) if codes else str(listed)


# Known patterns said in words; a township official does not read regular expressions.
_PATTERN_ZH = {
    r"^\+?[0-9][0-9 -]{4,19}$": "应为电话号码：5 至 20 位数字，可含空格或横线",
    r"^[^|]+$": "不得含有“|”",
    r"\S": "不得为空",
}

_DATETIME = "应为日期时间，如 2023-08-01 10:00"

# pydantic v2 error types → Chinese, formatted with the error's ctx (plus "choices" and "tags").
_TYPES: dict[str, str] = {
    "missing": "必填",
    "extra_forbidden": "不应填写此项",
    "string_type": "应为文本",
    "string_too_long": "不得超过 {max_length} 个字符",
    "string_too_short": "至少 {min_length} 个字符",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数，不能有小数",
    "int_parsing_size": "数值过大",
    "greater_than": "应大于 {gt}",
    "greater_than_equal": "不得小于 {ge}",
    "less_than": "应小于 {lt}",
    "less_than_equal": "不得大于 {le}",
    "finite_number": "应为有限的数值",
    "decimal_type": "应为数字",
    "decimal_parsing": "应为数字",
    "decimal_max_digits": "最多 {max_digits} 位数字",
    "decimal_max_places": "最多 {decimal_places} 位小数",
    "decimal_whole_digits": "整数部分最多 {whole_digits} 位",
    "enum": "应为以下之一：{choices}",
    "literal_error": "应为以下之一：{choices}",
    "uuid_type": "应为有效的编号",
    "uuid_parsing": "应为有效的编号",
    "datetime_type": _DATETIME,
    "datetime_parsing": _DATETIME,
    "datetime_from_date_parsing": _DATETIME,
    "datetime_object_invalid": _DATETIME,
    "timezone_aware": "应注明时区，如 +08:00",
    "bool_type": "应为“是”或“否”",
    "bool_parsing": "应为“是”或“否”",
    "list_type": "应为多项列表",
    "too_long": "最多 {max_length} 项",
    "list_too_long": "最多 {max_length} 项",
    "too_short": "至少 {min_length} 项",
    "dict_type": "格式不正确",
    "model_type": "格式不正确",
    "model_attributes_type": "格式不正确",
    "union_tag_invalid": "类型应为以下之一：{tags}",
    "union_tag_not_found": "必填：类型",
}


def _english(error: dict[str, Any]) -> str:
    return str(error["msg"]).removeprefix("Value error, ")


def from_pydantic(error: dict[str, Any], language: str) -> str:
    """The reason for one pydantic v2 error dict (an element of ValidationError.errors()), in `language`
    ("zh" or "en"). For "en" return exactly what the code does today:
    str(error["msg"]).removeprefix("Value error, ")."""
    english = _english(error)
    if not _chinese(language):
        return english
    kind = error.get("type", "")
    ctx = dict(error.get("ctx") or {})
    if kind == "value_error":
        found = translate(english, language)
        return found if found != english else f"无效：{english}"
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return "不得为空"  # Text strips whitespace first, so a blank cell lands here
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        return _PATTERN_ZH.get(pattern) or f"格式不正确（应符合 '{pattern}'）"
    template = _TYPES.get(kind)
    if template is None:
        return f"无效：{english}"
    values = {**ctx, "choices": _choices(ctx.get("expected", "")), "tags": _choices(ctx.get("expected_tags", ""))}
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        # A pydantic release that renames a ctx key should degrade to the English, not fail the import.
        return f"无效：{english}"
