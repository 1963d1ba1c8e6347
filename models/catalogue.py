"""Built-in catalogues: common relief goods (with their usual unit), skills, and ISO 4217 currencies."""

from __future__ import annotations

from enum import StrEnum

# item → usual unit. Calls may name other goods in free text; these are the ones matching knows.
GOODS: dict[str, str] = {
    "drinking_water": "box",
    "instant_food": "box",
    "rice": "kg",
    "cooking_oil": "bottle",
    "tent": "piece",
    "quilt": "piece",
    "blanket": "piece",
    "folding_bed": "piece",
    "raincoat": "piece",
    "rubber_boots": "pair",
    "life_jacket": "piece",
    "rubber_boat": "piece",
    "sandbag": "piece",
    "generator": "piece",
    "pump": "piece",
    "flashlight": "piece",
    "medical_kit": "kit",
    "disinfectant": "bottle",
    "hygiene_kit": "kit",
    "clothing": "set",
}

# The goods' and units' names in Chinese, as the console shows them (handlers/static/js/i18n/zh.js): the
# printed reports use them, and an imported sheet may write them instead of the codes.
GOODS_ZH: dict[str, str] = {
    "drinking_water": "饮用水", "instant_food": "方便食品", "rice": "大米", "cooking_oil": "食用油", "tent": "帐篷",
    "quilt": "棉被", "blanket": "毛毯", "folding_bed": "折叠床", "raincoat": "雨衣", "rubber_boots": "雨靴",
    "life_jacket": "救生衣", "rubber_boat": "橡皮艇", "sandbag": "沙袋", "generator": "发电机", "pump": "抽水泵",
    "flashlight": "手电筒", "medical_kit": "急救包", "disinfectant": "消毒液", "hygiene_kit": "卫生用品包",
    "clothing": "衣物",
}
UNITS_ZH: dict[str, str] = {
    "box": "箱", "kg": "千克", "bottle": "瓶", "piece": "件", "pair": "双", "kit": "包", "set": "套",
}


class Skill(StrEnum):
    boat_rescue = "boat_rescue"
    search_and_rescue = "search_and_rescue"
    medical = "medical"
    psychological_support = "psychological_support"
    logistics = "logistics"
    cooking = "cooking"
    driving = "driving"
    electrical_repair = "electrical_repair"
    sanitation = "sanitation"
    shelter_management = "shelter_management"
    communications = "communications"
    translation = "translation"


# ISO 4217 active codes, with their minor-unit digits where not 2.
CURRENCIES: frozenset[str] = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD
    CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF
    GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP
    LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB
    PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL
    THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWG""".split()
)
MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split(), 0),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
}


def minor_units(currency: str) -> int:
    return MINOR_UNITS.get(currency, 2)
