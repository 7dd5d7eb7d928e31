"""Identities for simulated department feeds: USCCs, enterprise and shop names, person names.

Everything here is deterministic given a `random.Random`, so a feed seeded from (seed, logical
date) produces the same subjects on every run. Nothing here touches a database.

USCC layout (GB 32100-2015) [rules §2]: char 1 registering-department code (9 = market
regulation), char 2 subject kind (1 enterprise, 2 individual business), chars 3-8 the division
code of the registering authority, chars 9-17 the organisation code (GB 11714, its own check
character last), char 18 the mod-31 check character. The alphabet and both check characters
come from `credit_dw.reference.identifiers` (python-stdnum underneath).
Organisations coded since the 2015 reform get organisation codes beginning with "MA"; older
ones keep their 8-digit organisation code.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path

from credit_dw.config import settings
from credit_dw.reference.identifiers import (
    CITIZEN_ID_CHECK_CHARACTERS,
    USCC_ALPHABET,
    citizen_id_check_character,
    organisation_code_check,
    with_uscc_check_character,
)

_LETTERS = USCC_ALPHABET[10:]
#: Date from which new subjects got "MA…" organisation codes (USCC reform, 2015).
USCC_REFORM_DATE = date(2015, 10, 1)

# Rough resident population (millions) of each reporting unit [rules §3], used to weight where
# subjects register. 保定 excludes the 雄安 counties; 石家庄 excludes 辛集, 保定 excludes 定州.
UNIT_WEIGHTS: dict[str, float] = {
    "130100": 10.6, "130181": 0.6, "130200": 7.7, "130300": 3.1, "130400": 9.4, "130500": 7.1,
    "130600": 8.1, "130682": 1.1, "130700": 4.1, "130800": 3.4, "130900": 7.3, "131000": 5.5,
    "131100": 4.2, "133100": 1.2,
}


@dataclass(frozen=True)
class RegistrationDivision:
    """A current county-level division where subjects register (市辖区 placeholders excluded)."""

    code: str
    name: str
    city_code: str
    city_name: str
    reporting_unit_code: str

    @property
    def place(self) -> str:
        """The place name used in subject names: districts carry their city ("石家庄市长安区")."""
        if self.name.endswith("区") and self.city_name != self.name:
            return self.city_name + self.name
        return self.name


def read_seed_divisions(path: Path | None = None) -> list[dict[str, str]]:
    """All rows of `seeds/hebei_divisions.csv`."""
    path = path or settings.SEEDS_DIR / "hebei_divisions.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def registration_divisions(path: Path | None = None) -> list[RegistrationDivision]:
    """Current county-level divisions, sorted by code (stable order for deterministic draws)."""
    rows = read_seed_divisions(path)
    out = [
        RegistrationDivision(r["division_code"], r["division_name"], r["city_code"], r["city_name"],
                             r["reporting_unit_code"])
        for r in rows
        if r["is_current"] == "true" and r["division_level"] == "county" and r["division_name"] != "市辖区"
    ]
    return sorted(out, key=lambda d: d.code)


def division_weights(divisions: list[RegistrationDivision]) -> list[float]:
    """Each reporting unit's population weight shared equally among its divisions."""
    per_unit: dict[str, int] = {}
    for d in divisions:
        per_unit[d.reporting_unit_code] = per_unit.get(d.reporting_unit_code, 0) + 1
    return [UNIT_WEIGHTS.get(d.reporting_unit_code, 3.0) / per_unit[d.reporting_unit_code] for d in divisions]


def unknown_division_code(rng: random.Random, known: set[str]) -> str:
    """A 6-digit Hebei-looking code (13xx9x) that is not in the division list."""
    while True:
        code = f"13{rng.randint(1, 13):02d}9{rng.randint(0, 9)}"
        if code not in known:
            return code


# --- codes ---------------------------------------------------------------------------------

def organisation_code(rng: random.Random, *, modern: bool = True) -> str:
    """A 9-character organisation code: "MA" + 6 alphanumerics (post-2015) or 8 digits, + check."""
    if modern:
        body = "MA" + "".join(rng.choice(USCC_ALPHABET) for _ in range(6))
    else:
        body = "".join(rng.choice("0123456789") for _ in range(8))
    return body + organisation_code_check(body)


def with_check_character(first17: str) -> str:
    """Append the GB 32100 mod-31 check character."""
    return with_uscc_check_character(first17)


def make_uscc(rng: random.Random, division_code: str, *, kind: str = "1",
              registered_on: date | None = None, department: str = "9") -> str:
    """A valid USCC registered at `division_code`; kind "1" enterprise, "2" individual business."""
    if len(division_code) != 6 or not division_code.isdigit():
        raise ValueError(f"division code must be 6 digits: {division_code!r}")
    modern = registered_on is None or registered_on >= USCC_REFORM_DATE
    return with_check_character(department + kind + division_code + organisation_code(rng, modern=modern))


def wrong_check_character(rng: random.Random, code: str) -> str:
    """The same code with its last character replaced by another character of the alphabet."""
    return code[:-1] + rng.choice([c for c in USCC_ALPHABET if c != code[-1]])


_FULLWIDTH = {ord(c): chr(ord(c) + 0xFEE0) for c in USCC_ALPHABET}


def to_fullwidth(text: str) -> str:
    """Full-width forms of digits and capitals (NFKC turns them back)."""
    return text.translate(_FULLWIDTH)


# --- names ---------------------------------------------------------------------------------

# Common surnames, roughly by frequency (the first ones are drawn most often), plus a few compound.
SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏"
    "薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武"
    "乔贺赖龚文庞樊兰殷施陶洪翟安颜倪严牛温芦季俞章鲁葛伍韦申尤毕聂焦向柳邢岳齐覃梅莫庄辛管祝左涂谷"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "令狐", "慕容")
GIVEN_NAME_CHARS = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉建国建华建军志强志明"
    "海波海燕晓东晓明晓红春梅春华秋菊冬梅宇浩然子涵欣怡梓轩一诺思远佳琪雨桐俊杰文博家豪振华立新永刚"
    "淑珍淑华凤兰凤英桂兰桂芝秀兰秀珍亚楠亚军丹阳博文嘉怡梦琪雪梅金凤国庆卫东红梅玉兰宏伟德明天佑"
)


def person_name(rng: random.Random) -> str:
    """A Chinese person name: surname (rarely compound) + 1-2 given-name characters."""
    if rng.random() < 0.01:
        surname = rng.choice(COMPOUND_SURNAMES)
    else:  # the list runs from the most common surname down
        surname = SURNAMES[int(rng.triangular(0, len(SURNAMES), 0))]
    given = "".join(rng.choice(GIVEN_NAME_CHARS) for _ in range(1 if rng.random() < 0.3 else 2))
    return surname + given


TRADE_NAME_CHARS = "华鑫源盛泰恒达兴宏嘉博瑞德润通利信安康祥丰隆金银海天正凯远鹏宇诚佳晟昊冀燕卓越新景鼎豪峰"
INDUSTRIES = (
    "商贸", "科技", "建筑工程", "物流", "餐饮管理", "机械制造", "农业开发", "电子科技", "建材", "服装",
    "食品", "化工", "医药", "房地产开发", "文化传媒", "汽车销售", "环保科技", "钢铁", "物业管理", "劳务",
    "网络科技", "新能源", "装饰工程", "农机", "养殖", "商务信息咨询", "供应链管理", "五金制品", "家具", "印刷",
)
COMPANY_FORMS = (("有限公司", 0.7), ("有限责任公司", 0.24), ("股份有限公司", 0.04), ("合伙企业（有限合伙）", 0.02))
SHOP_KINDS = (
    "便利店", "小吃部", "五金店", "理发店", "服装店", "蔬菜店", "烟酒店", "家电维修部", "饭店", "超市",
    "水果店", "农资经营部", "汽车修理部", "建材经营部", "美容美发店", "手机维修店", "粮油店", "快餐店",
    "门窗加工部", "养殖场", "诊所", "文具店", "干洗店", "母婴用品店",
)


def trade_name(rng: random.Random) -> str:
    """A 2-character 字号 like 鑫源."""
    a, b = rng.sample(TRADE_NAME_CHARS, 2)
    return a + b


def enterprise_name(rng: random.Random, place: str, city_name: str | None = None) -> str:
    """An enterprise name: place (province, city or county) + 字号 + industry + company form."""
    roll = rng.random()
    if roll < 0.25:
        prefix = "河北"
    elif roll < 0.6 and city_name:
        prefix = city_name.removesuffix("市") if city_name.endswith("市") else city_name
    else:
        prefix = place
    form = rng.choices([f for f, _ in COMPANY_FORMS], weights=[w for _, w in COMPANY_FORMS])[0]
    return prefix + trade_name(rng) + rng.choice(INDUSTRIES) + form


def individual_business_name(rng: random.Random, place: str, operator: str) -> str:
    """An individual business (个体工商户) name like "正定县张三便利店" or "正定县鑫源超市"."""
    core = operator if rng.random() < 0.6 else trade_name(rng)
    return place + core + rng.choice(SHOP_KINDS)


# --- citizen ID numbers (GB 11643-1999) ---------------------------------------------------

#: First year of the division-code history in `seeds/hebei_divisions.csv`.
CODE_HISTORY_STARTS = 1983


@dataclass(frozen=True)
class IdDivision:
    """A county-level code an ID can carry, and the years it was in force (None: open)."""

    code: str
    valid_from: int | None
    valid_to: int | None
    is_current: bool


@cache
def id_divisions() -> tuple[IdDivision, ...]:
    """County-level Hebei codes, current and abolished (an ID keeps the code it was issued with)."""
    out = []
    for r in read_seed_divisions():
        if r["division_level"] != "county" or r["division_name"] == "市辖区":
            continue
        out.append(IdDivision(r["division_code"], int(r["valid_from_year"]) if r["valid_from_year"] else None,
                              int(r["valid_to_year"]) if r["valid_to_year"] else None, r["is_current"] == "true"))
    return tuple(sorted(out, key=lambda d: d.code))


def make_citizen_id(rng: random.Random, logical_date: date) -> tuple[str, str]:
    """(citizen ID, 性别) of an adult aged 20-70 on D, born where a Hebei code was in force that year."""
    divisions = id_divisions()
    current = [d for d in divisions if d.is_current]
    abolished = [d for d in divisions if not d.is_current]
    while True:
        division = rng.choice(abolished if rng.random() < 0.1 else current)
        low, high = logical_date.year - 70, logical_date.year - 21
        # The seed's history starts in 1983 (python-stdnum's cn/loc): a code "from 1983" was
        # already in force for people born earlier; later starts are real creations or renamings.
        if division.valid_from and division.valid_from > CODE_HISTORY_STARTS:
            low = max(low, division.valid_from)
        if division.valid_to:
            high = min(high, division.valid_to)
        if low <= high:
            break
    born = date(rng.randint(low, high), 1, 1) + timedelta(days=rng.randint(0, 364))
    male = rng.random() < 0.62  # most listed debtors are men
    sequence = rng.randrange(0, 999) // 2 * 2 + (1 if male else 0)
    first17 = f"{division.code}{born:%Y%m%d}{sequence:03d}"
    return first17 + citizen_id_check_character(first17), "男" if male else "女"


def wrong_citizen_id_check(rng: random.Random, code: str) -> str:
    return code[:-1] + rng.choice([c for c in CITIZEN_ID_CHECK_CHARACTERS if c != code[-1]])
