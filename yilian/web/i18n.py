"""The web shell's UI strings, Chinese first and English; code-system displays are shown as stored.

Templates call `t(key)`; the language comes from `?lang=` (remembered in a cookie) and defaults to Chinese.
A key missing from English falls back to Chinese, and a key missing everywhere shows itself, so a typo is
visible on the page instead of silently blank.
"""

from __future__ import annotations

from collections.abc import Mapping

from yilian.alliance.codes import ALLIANCE_MODELS, MEMBER_TYPES

DEFAULT_LANG = "zh"
LANG_COOKIE = "yilian_lang"

ZH: dict[str, str] = {
    "product": "医联",
    "tagline": "医联体健康信息互通平台",
    "nav.home": "首页",
    "nav.patients": "患者查询",
    "lang.switch": "English",
    "signin.title": "登录",
    "signin.token": "访问令牌",
    "signin.token_hint": "请输入信息科发放的访问令牌",
    "signin.submit": "登录",
    "signin.bad_token": "用户名或密码错误，或访问令牌无效（未知、过期或已撤销），请核对后重试。",
    "signin.username": "用户名",
    "signin.password": "密码",
    "signin.with_token": "改用访问令牌登录",
    "signin.demo": "演示账号",
    "signin.demo_hint": "演示模式：点击即可以该身份登录。",
    "signin.as": "登录",
    "signout": "退出",
    "user.alliance_wide": "全联体",
    "home.title": "医联体概况",
    "home.members": "成员单位",
    "home.model": "组织模式",
    "home.no_alliance": "尚未登记医联体机构。",
    "home.no_members": "暂无可见的成员单位。",
    "col.name": "名称",
    "col.type": "类型",
    "col.address": "地址",
    "col.patients": "登记患者数",
    "search.title": "患者查询",
    "search.placeholder": "姓名（汉字或拼音）、身份证号、病案号或手机号",
    "search.button": "查询",
    "search.hint": "输入姓名、拼音首字、证件号或手机号，结果随输入更新。",
    "search.none": "未找到匹配的患者。",
    "search.count": "位患者",
    "col.patient": "患者",
    "col.sex": "性别",
    "col.birth": "出生日期（年龄）",
    "col.identifiers": "证件与病案号",
    "col.registered_by": "登记单位",
    "sex.male": "男",
    "sex.female": "女",
    "sex.other": "其他",
    "sex.unknown": "未知",
    "age.years": "岁",
    "id.resident": "身份证",
    "id.mrn": "病案号",
    "id.phone": "电话",
    "patient.timeline": "诊疗时间轴",
    "patient.records": "本人在各单位的档案",
    "patient.problems": "现有问题",
    "patient.medications": "当前用药",
    "patient.allergies": "过敏史",
    "patient.none": "无记录",
    "patient.no_entries": "所选条件下没有记录。",
    "patient.showing": "显示条目",
    "filter.member": "来源单位",
    "filter.kind": "类别",
    "filter.all": "全部",
    "filter.apply": "筛选",
    "kind.encounter": "就诊",
    "kind.condition": "诊断",
    "kind.observation": "检验与体征",
    "kind.report": "检验报告",
    "kind.imaging": "影像检查",
    "kind.medication": "用药",
    "kind.allergy": "过敏",
    "kind.immunization": "预防接种",
    "kind.procedure": "手术与操作",
    "kind.careplan": "健康管理计划",
    "flag.H": "偏高",
    "flag.L": "偏低",
    "flag.HH": "危急值（高）",
    "flag.LL": "危急值（低）",
    "detail.onset": "起病",
    "detail.class": "类型",
    "detail.reason": "就诊原因",
    "detail.clinician": "医生",
    "detail.until": "结束",
    "detail.category": "分类",
    "detail.interpreter": "报告医师",
    "detail.modality": "检查方式",
    "detail.supply": "用药天数",
    "detail.site": "部位",
    "detail.route": "途径",
    "detail.since": "起始",
    "detail.range": "参考范围",
    "detail.reaction": "反应",
    "detail.criticality": "危险程度",
    "detail.lot": "批号",
    "detail.images": "幅图像",
    "detail.series": "序列",
    "status.active": "在用",
    "status.condition.active": "现患",
    "status.allergy.active": "现存",
    "status.careplan.active": "执行中",
    "status.completed": "已完成",
    "status.resolved": "已痊愈",
    "status.inactive": "非活动",
    "status.stopped": "已停用",
    "status.on-hold": "暂停",
    "status.cancelled": "已取消",
    "status.in-progress": "进行中",
    "status.preliminary": "初步",
    "status.recurrence": "复发",
    "status.relapse": "复发",
    "status.remission": "缓解",
    "status.draft": "草稿",
    "status.intended": "拟用",
    "status.not-done": "未完成",
    "criticality.high": "高危",
    "criticality.low": "低危",
    "criticality.unable-to-assess": "无法评估",
    "error.title": "出错了",
    "error.400": "请求有误",
    "error.401": "请先登录",
    "error.403": "无权访问",
    "error.404": "未找到，或您无权查看",
    "error.409": "数据冲突",
    "error.500": "系统内部错误",
    "error.back": "返回首页",
    "error.detail": "详细信息",
}

EN: dict[str, str] = {
    "product": "Yilian",
    "tagline": "Health information exchange for medical alliances",
    "nav.home": "Home",
    "nav.patients": "Patients",
    "lang.switch": "中文",
    "signin.title": "Sign in",
    "signin.token": "Access token",
    "signin.token_hint": "The access token your IT department issued",
    "signin.submit": "Sign in",
    "signin.bad_token": "Wrong user name or password, or the access token is not valid (unknown, expired or "
    "revoked). Check and try again.",
    "signin.username": "User name",
    "signin.password": "Password",
    "signin.with_token": "Sign in with an access token instead",
    "signin.demo": "Demo users",
    "signin.demo_hint": "Demo mode: one click signs you in as that user.",
    "signin.as": "Sign in",
    "signout": "Sign out",
    "user.alliance_wide": "Whole alliance",
    "home.title": "The alliance",
    "home.members": "Members",
    "home.model": "Model",
    "home.no_alliance": "No alliance organisation is registered yet.",
    "home.no_members": "No members you can see.",
    "col.name": "Name",
    "col.type": "Type",
    "col.address": "Address",
    "col.patients": "Patients registered",
    "search.title": "Find a patient",
    "search.placeholder": "Name (Chinese or pinyin), resident ID, MRN or phone",
    "search.button": "Search",
    "search.hint": "Type a name, pinyin, ID number or phone; results update as you type.",
    "search.none": "No matching patients.",
    "search.count": "patients",
    "col.patient": "Patient",
    "col.sex": "Sex",
    "col.birth": "Born (age)",
    "col.identifiers": "Identifiers",
    "col.registered_by": "Registered by",
    "sex.male": "Male",
    "sex.female": "Female",
    "sex.other": "Other",
    "sex.unknown": "Unknown",
    "age.years": "y",
    "id.resident": "Resident ID",
    "id.mrn": "MRN",
    "id.phone": "Phone",
    "patient.timeline": "Timeline",
    "patient.records": "This person's records at members",
    "patient.problems": "Active problems",
    "patient.medications": "Current medications",
    "patient.allergies": "Allergies",
    "patient.none": "None recorded",
    "patient.no_entries": "Nothing matches these filters.",
    "patient.showing": "Entries shown",
    "filter.member": "Member",
    "filter.kind": "Kind",
    "filter.all": "All",
    "filter.apply": "Filter",
    "kind.encounter": "Encounter",
    "kind.condition": "Diagnosis",
    "kind.observation": "Lab / vital sign",
    "kind.report": "Lab report",
    "kind.imaging": "Imaging",
    "kind.medication": "Medication",
    "kind.allergy": "Allergy",
    "kind.immunization": "Immunization",
    "kind.procedure": "Procedure",
    "kind.careplan": "Care plan",
    "flag.H": "High",
    "flag.L": "Low",
    "flag.HH": "Critical high",
    "flag.LL": "Critical low",
    "detail.onset": "Onset",
    "detail.class": "Class",
    "detail.reason": "Reason",
    "detail.clinician": "Clinician",
    "detail.until": "Until",
    "detail.category": "Category",
    "detail.interpreter": "Reported by",
    "detail.modality": "Modality",
    "detail.supply": "Supply",
    "detail.site": "Site",
    "detail.route": "Route",
    "detail.since": "Since",
    "detail.range": "Reference range",
    "detail.reaction": "Reaction",
    "detail.criticality": "Criticality",
    "detail.lot": "Lot",
    "detail.images": "images",
    "detail.series": "series",
    "status.active": "active",
    "status.completed": "completed",
    "status.resolved": "resolved",
    "status.inactive": "inactive",
    "status.stopped": "stopped",
    "status.on-hold": "on hold",
    "status.cancelled": "cancelled",
    "status.in-progress": "in progress",
    "status.preliminary": "preliminary",
    "status.recurrence": "recurrence",
    "status.relapse": "relapse",
    "status.remission": "remission",
    "status.draft": "draft",
    "status.intended": "intended",
    "status.not-done": "not done",
    "criticality.high": "high risk",
    "criticality.low": "low risk",
    "criticality.unable-to-assess": "unable to assess",
    "error.title": "Something went wrong",
    "error.400": "Bad request",
    "error.401": "Please sign in",
    "error.403": "Not allowed",
    "error.404": "Not found, or you may not see it",
    "error.409": "Conflict",
    "error.500": "Internal error",
    "error.back": "Back to home",
    "error.detail": "Details",
}

STRINGS: Mapping[str, Mapping[str, str]] = {"zh": ZH, "en": EN}
LANGS = tuple(STRINGS)


def register(zh: Mapping[str, str], en: Mapping[str, str]) -> None:
    """Add a capability's own UI strings (each package keeps its strings beside its pages)."""
    ZH.update(zh)
    EN.update(en)


def translate(lang: str, key: str) -> str:
    """The UI string for `key` in `lang` (Chinese when English lacks it; the key itself when both do)."""
    return STRINGS.get(lang, ZH).get(key) or ZH.get(key) or key


def label(lang: str, prefix: str, code: str | None) -> str:
    """A code's UI label (e.g. status.active), or the code itself when the UI has no label for it."""
    if not code:
        return ""
    return STRINGS.get(lang, ZH).get(f"{prefix}.{code}") or ZH.get(f"{prefix}.{code}") or code


def status_label(lang: str, kind: str, code: str | None) -> str:
    """A status in the UI language, worded for the kind when it needs to be (an active diagnosis is
    "现患", an active prescription "在用")."""
    if not code:
        return ""
    strings = STRINGS.get(lang, ZH)
    return strings.get(f"status.{kind}.{code}") or strings.get(f"status.{code}") or code


def pick_lang(query_lang: str | None, cookie_lang: str | None) -> str:
    """`?lang=` wins, then the cookie, then Chinese."""
    for lang in (query_lang, cookie_lang):
        if lang in STRINGS:
            return lang
    return DEFAULT_LANG


def member_type_label(code: str | None, lang: str) -> str:
    """A member type in the UI language, from the alliance code system's own (zh, en) pair."""
    pair = MEMBER_TYPES.get(code or "")
    if not pair:
        return code or ""
    return pair[1] if lang == "en" else pair[0]


def alliance_model_label(code: str | None, lang: str) -> str:
    pair = ALLIANCE_MODELS.get(code or "")
    if not pair:
        return code or ""
    return pair[1] if lang == "en" else pair[0]


def error_title(status: int, lang: str) -> str:
    """A status's headline; unknown 4xx read as a bad request and 5xx as an internal error."""
    key = f"error.{status}"
    if key not in ZH:
        key = "error.500" if status >= 500 else "error.400"
    return translate(lang, key)
