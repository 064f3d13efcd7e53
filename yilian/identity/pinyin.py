"""Names in pinyin: characters read with pypinyin, surnames read with our own table, and names typed in
pinyin (Chinese or English order) brought to the same form.

pypinyin reads characters as common words, which is wrong for many surnames (曾 ceng, 单 dan, 解 jie,
区 qu, 朴 pu, 查 cha as words; zeng, shan, xie, ou, piao, zha as surnames), so surnames come from
`SURNAME_READINGS` first. Given names keep every reading of a polyphonic character (长 chang or zhang):
a clerk typing pinyin chooses one, and we cannot know which.

The canonical form is lower-case letters with ü written v (lyu, lü and lv are one spelling), no spaces,
hyphens or apostrophes. A name's key is its family and given pinyin sorted, so "Zhang Wei" and the English
order "Wei Zhang" agree.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from functools import lru_cache

# Surname readings that differ from the character's everyday reading, and the compound surnames.
# fmt: off
SURNAME_READINGS: dict[str, str] = {
    "曾": "zeng", "单": "shan", "解": "xie", "区": "ou", "朴": "piao", "查": "zha", "仇": "qiu", "盖": "ge",
    "秘": "bi", "缪": "miao", "召": "shao", "翟": "zhai", "覃": "qin", "员": "yun", "种": "chong",
    "折": "she", "繁": "po", "句": "gou", "乐": "yue", "尉": "wei", "卜": "bu", "柏": "bai", "谌": "chen",
    "都": "du", "厍": "she", "隗": "wei", "能": "nai", "薄": "bo", "冼": "xian", "洗": "xian", "过": "guo",
    "长": "chang", "重": "chong", "藏": "zang", "纪": "ji", "任": "ren", "沈": "shen", "石": "shi",
    "燕": "yan", "华": "hua", "宁": "ning", "那": "na", "乜": "nie", "阚": "kan", "訾": "zi", "莘": "shen",
    "区区": "ouou",
    "欧阳": "ouyang", "司马": "sima", "诸葛": "zhuge", "上官": "shangguan", "东方": "dongfang",
    "皇甫": "huangfu", "尉迟": "yuchi", "公孙": "gongsun", "令狐": "linghu", "慕容": "murong",
    "端木": "duanmu", "长孙": "zhangsun", "万俟": "moqi", "单于": "chanyu", "澹台": "tantai",
    "宇文": "yuwen", "夏侯": "xiahou", "司徒": "situ", "司空": "sikong", "轩辕": "xuanyuan",
}
# The most common surnames, to tell family from given name in a name typed in pinyin.
COMMON_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫"
    "孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅"
    "童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车"
    "项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛"
    "仲虞敖巩明佘池查麻苑迟邝区朴"
)
# fmt: on
COMPOUND_SURNAMES = frozenset(k for k in SURNAME_READINGS if len(k) == 2)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_NOT_LETTERS = re.compile(r"[^a-z]")


def has_cjk(text: str | None) -> bool:
    return bool(text and _CJK.search(text))


def cjk_only(text: str | None) -> str:
    """The Chinese characters of a name (the middle dot of minority names and spaces dropped)."""
    return "".join(_CJK.findall(text or ""))


def split_chinese(full: str) -> tuple[str, str]:
    """(family, given) of a name written in characters without a separate family field."""
    if len(full) > 2 and full[:2] in COMPOUND_SURNAMES:
        return full[:2], full[2:]
    return full[:1], full[1:]


def canon(latin: str) -> str:
    """A pinyin spelling in canonical form: 'Lü', 'Lyu' and 'LV' are all 'lv'; "Yue'e" is 'yuee'."""
    s = unicodedata.normalize("NFKC", latin).lower().replace("ü", "v").replace("u:", "v")
    s = re.sub(r"(^|[\s'\-])([ln])yu", r"\1\2v", s)
    return _NOT_LETTERS.sub("", s)


@lru_cache(maxsize=1)
def _pypinyin():  # noqa: ANN202 - the pypinyin module
    """pypinyin, imported when a name in characters first needs reading: its import loads phrase
    dictionaries (0.15 s), which a feed of names in Latin letters never needs."""
    import pypinyin

    return pypinyin


@lru_cache(maxsize=100_000)
def surname_pinyin(family: str) -> str:
    if family in SURNAME_READINGS:
        return SURNAME_READINGS[family]
    return "".join(SURNAME_READINGS.get(ch) or canon(_pypinyin().lazy_pinyin(ch)[0]) for ch in family)


@lru_cache(maxsize=100_000)
def given_pinyins(given: str) -> tuple[str, ...]:
    """Every reading of a given name (the everyday reading first), at most eight."""
    pp = _pypinyin()
    primary = canon("".join(pp.lazy_pinyin(given, style=pp.Style.NORMAL)))
    options = [
        list(dict.fromkeys(canon(r) for r in readings))[:3]
        for readings in pp.pinyin(given, style=pp.Style.NORMAL, heteronym=True)
    ]
    out = [primary]
    for combo in itertools.islice(itertools.product(*options), 16):
        reading = "".join(combo)
        if reading not in out:
            out.append(reading)
    return tuple(out[:8])


@lru_cache(maxsize=1)
def _surname_syllables() -> frozenset[str]:
    return frozenset(surname_pinyin(s) for s in COMMON_SURNAMES) | frozenset(SURNAME_READINGS.values())


def is_surname_pinyin(token: str) -> bool:
    return canon(token) in _surname_syllables()


def split_latin(text: str) -> tuple[str | None, str]:
    """(family, given) of a name typed in pinyin with no family field: "Zhang Wei" or "Wei Zhang"."""
    tokens = [t for t in re.split(r"[\s,]+", text.strip()) if t]
    if len(tokens) < 2:
        return None, canon(text)
    first, last = tokens[0], tokens[-1]
    if is_surname_pinyin(last) and not is_surname_pinyin(first):  # English order: given names first
        return canon(last), canon("".join(tokens[:-1]))
    return canon(first), canon("".join(tokens[1:]))


def name_key(family: str | None, given: str | None) -> str | None:
    """Order-independent key of a name in pinyin."""
    parts = sorted(p for p in (family, given) if p)
    return " ".join(parts) or None
