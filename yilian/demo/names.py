"""Chinese personal names for the demo: surnames by real frequency, given names by generation, pinyin.

Surname weights are per-mille shares of the population (公安部 household-register statistics, rounded);
the rare surnames are there because their pinyin is not the character's everyday reading (单 Shan,
解 Xie, 区 Ou, 朴 Piao, 查 Zha), which is what trips record linkage. No pypinyin: a small table covers
every character used here, including the homophones used for typing mistakes.
"""

from __future__ import annotations

import random

# Dense tables, one row of entries per line: easier to read and extend than one entry per line.
# fmt: off
# (surname, weight per mille, pinyin as a surname)
SURNAMES: tuple[tuple[str, float, str], ...] = (
    ("王", 72.5, "wang"), ("李", 71.9, "li"), ("张", 68.3, "zhang"), ("刘", 53.8, "liu"),
    ("陈", 45.3, "chen"), ("杨", 30.8, "yang"), ("黄", 22.3, "huang"), ("赵", 21.9, "zhao"),
    ("吴", 20.5, "wu"), ("周", 18.9, "zhou"), ("徐", 13.3, "xu"), ("孙", 13.1, "sun"),
    ("马", 12.6, "ma"), ("朱", 12.6, "zhu"), ("胡", 11.5, "hu"), ("郭", 11.5, "guo"),
    ("何", 10.6, "he"), ("高", 10.0, "gao"), ("林", 9.9, "lin"), ("罗", 8.7, "luo"),
    ("郑", 8.3, "zheng"), ("梁", 8.1, "liang"), ("谢", 7.2, "xie"), ("宋", 6.2, "song"),
    ("唐", 6.2, "tang"), ("许", 5.9, "xu"), ("韩", 5.7, "han"), ("冯", 5.6, "feng"),
    ("邓", 5.6, "deng"), ("曹", 5.3, "cao"), ("彭", 5.2, "peng"), ("曾", 5.1, "zeng"),
    ("肖", 4.9, "xiao"), ("田", 4.7, "tian"), ("董", 4.5, "dong"), ("潘", 4.2, "pan"),
    ("袁", 4.1, "yuan"), ("蔡", 3.9, "cai"), ("蒋", 3.9, "jiang"), ("余", 3.8, "yu"),
    ("于", 3.7, "yu"), ("杜", 3.6, "du"), ("叶", 3.5, "ye"), ("程", 3.4, "cheng"),
    ("吕", 3.1, "lyu"),
    # Rare, with a surname-only reading.
    ("单", 1.2, "shan"), ("解", 1.0, "xie"), ("区", 0.8, "ou"), ("朴", 0.8, "piao"), ("查", 0.8, "zha"),
)

# Given names by birth cohort and sex; the generations name children differently.
GIVEN_NAMES: dict[tuple[str, str], tuple[str, ...]] = {
    ("old", "male"): ("建国", "国强", "德明", "振华", "志刚", "长林", "福生", "永发", "文斌", "树森",
                      "国庆", "建军", "卫国", "保国"),
    ("old", "female"): ("秀英", "桂英", "玉兰", "淑珍", "秀兰", "凤英", "桂兰", "玉珍", "素芬", "美华",
                        "月娥", "金凤"),
    ("mid", "male"): ("伟", "磊", "军", "勇", "杰", "强", "刚", "斌", "涛", "明", "辉", "鹏", "建华",
                      "志强", "海涛", "晓东", "立新", "红军"),
    ("mid", "female"): ("芳", "娜", "敏", "静", "丽", "艳", "霞", "红", "梅", "燕", "丽华", "晓燕",
                        "红梅", "海燕", "雪梅", "春梅"),
    ("young", "male"): ("浩", "宇", "浩宇", "子轩", "宇轩", "俊杰", "博文", "一鸣", "天佑", "思远",
                        "梓豪", "家乐"),
    ("young", "female"): ("欣怡", "梓涵", "雨桐", "一诺", "诗涵", "思彤", "佳怡", "梓萱", "可馨", "婷",
                          "雪", "琳"),
}

# Same-sound characters an input method offers first: the usual one-character registration typo.
HOMOPHONES: dict[str, str] = {
    "英": "瑛", "华": "桦", "明": "铭", "军": "君", "伟": "玮", "丽": "莉", "静": "婧", "芳": "方",
    "梅": "玫", "兰": "岚", "珍": "真", "红": "宏", "燕": "艳", "艳": "燕", "涛": "滔", "辉": "晖",
    "鹏": "朋", "杰": "洁", "斌": "彬", "宇": "雨", "轩": "萱", "涵": "含", "怡": "宜", "婷": "亭",
    "琳": "林", "雪": "学", "勇": "永", "刚": "钢", "强": "蔷", "国": "果", "林": "琳", "凤": "风",
    "霞": "侠", "敏": "民", "磊": "蕾", "娜": "纳", "新": "欣", "东": "冬", "文": "雯", "生": "升",
}

# Given-name readings (no tones).
PINYIN: dict[str, str] = {
    "建": "jian", "国": "guo", "强": "qiang", "德": "de", "明": "ming", "振": "zhen", "华": "hua",
    "志": "zhi", "刚": "gang", "长": "chang", "林": "lin", "福": "fu", "生": "sheng", "永": "yong",
    "发": "fa", "文": "wen", "斌": "bin", "树": "shu", "森": "sen", "庆": "qing", "军": "jun",
    "卫": "wei", "保": "bao", "秀": "xiu", "英": "ying", "桂": "gui", "玉": "yu", "兰": "lan",
    "淑": "shu", "珍": "zhen", "凤": "feng", "素": "su", "芬": "fen", "美": "mei", "月": "yue",
    "娥": "e", "金": "jin", "伟": "wei", "磊": "lei", "勇": "yong", "杰": "jie", "涛": "tao",
    "辉": "hui", "鹏": "peng", "海": "hai", "晓": "xiao", "东": "dong", "立": "li", "新": "xin",
    "红": "hong", "芳": "fang", "娜": "na", "敏": "min", "静": "jing", "丽": "li", "艳": "yan",
    "霞": "xia", "梅": "mei", "燕": "yan", "雪": "xue", "春": "chun", "浩": "hao", "宇": "yu",
    "子": "zi", "轩": "xuan", "俊": "jun", "博": "bo", "一": "yi", "鸣": "ming", "天": "tian",
    "佑": "you", "思": "si", "远": "yuan", "梓": "zi", "豪": "hao", "家": "jia", "乐": "le",
    "欣": "xin", "怡": "yi", "涵": "han", "雨": "yu", "桐": "tong", "诺": "nuo", "诗": "shi",
    "彤": "tong", "佳": "jia", "萱": "xuan", "可": "ke", "馨": "xin", "婷": "ting", "琳": "lin",
    # homophone typos
    "瑛": "ying", "桦": "hua", "铭": "ming", "君": "jun", "玮": "wei", "莉": "li", "婧": "jing",
    "方": "fang", "玫": "mei", "岚": "lan", "真": "zhen", "宏": "hong", "滔": "tao", "晖": "hui",
    "朋": "peng", "洁": "jie", "彬": "bin", "含": "han", "宜": "yi", "亭": "ting", "学": "xue",
    "钢": "gang", "蔷": "qiang", "果": "guo", "风": "feng", "侠": "xia", "民": "min", "蕾": "lei",
    "纳": "na", "冬": "dong", "雯": "wen", "升": "sheng",
}

# fmt: on

_SURNAME_PINYIN = {s: p for s, _, p in SURNAMES}


def cohort(birth_year: int) -> str:
    if birth_year < 1965:
        return "old"
    return "mid" if birth_year < 1995 else "young"


def draw_surname(rng: random.Random) -> str:
    return rng.choices([s for s, _, _ in SURNAMES], weights=[w for _, w, _ in SURNAMES])[0]


def draw_given(rng: random.Random, birth_year: int, sex: str) -> str:
    return rng.choice(GIVEN_NAMES[(cohort(birth_year), sex)])


def surname_pinyin(family: str) -> str:
    return _SURNAME_PINYIN[family].capitalize()


def given_pinyin(given: str) -> str:
    """Syllables run together, with the apostrophe before a/o/e that pinyin rules require (Yue'e)."""
    out = ""
    for char in given:
        syllable = PINYIN[char]
        if out and syllable[0] in "aoe":
            out += "'"
        out += syllable
    return out.capitalize()


def typo(given: str, rng: random.Random) -> str | None:
    """The given name with one character swapped for a homophone, or None when none applies."""
    spots = [i for i, char in enumerate(given) if char in HOMOPHONES]
    if not spots:
        return None
    i = rng.choice(spots)
    return given[:i] + HOMOPHONES[given[i]] + given[i + 1 :]
