"""Code tables for the demo's clinical content: diagnoses, drugs, tests, imaging, procedures.

Displays follow each code system (ICD-10 displays in the Chinese national edition's wording); the
Chinese clinical term people actually use goes in CodeableConcept.text. Codes are the ones Yilian's
other capabilities key on (the LOINC list comes from the project brief), so change them here only.
"""

from __future__ import annotations

from dataclasses import dataclass

from yilian.demo.feed import ICD10, LOINC, RXNORM, SCT, coding, concept


@dataclass(frozen=True)
class Diagnosis:
    icd10: str
    icd10_zh: str  # ICD-10 国家临床版 wording
    text: str  # what clinicians write
    sct: str | None = None
    sct_display: str | None = None

    def code(self) -> dict:
        codings = [coding(ICD10, self.icd10, self.icd10_zh)]
        if self.sct:
            codings.append(coding(SCT, self.sct, self.sct_display))
        return concept(*codings, text=self.text)


# The tables below are kept one entry per row (or two), which reads better than the formatter's layout.
# fmt: off
DIAGNOSES: dict[str, Diagnosis] = {
    "htn": Diagnosis("I10", "特发性（原发性）高血压", "高血压",
                     "38341003", "Hypertensive disorder"),
    "t2dm": Diagnosis("E11.9", "2型糖尿病，不伴有并发症", "2型糖尿病",
                      "44054006", "Diabetes mellitus type 2"),
    "copd": Diagnosis("J44.9", "慢性阻塞性肺病，未特指", "慢性阻塞性肺疾病",
                      "13645005", "Chronic obstructive lung disease"),
    "chd": Diagnosis("I25.1", "动脉硬化性心脏病", "冠状动脉粥样硬化性心脏病",
                     "53741008", "Coronary arteriosclerosis"),
    "stroke": Diagnosis("I69.3", "脑梗死后遗症", "脑梗死后遗症（陈旧性脑梗死）"),
    "ckd": Diagnosis("N18.3", "慢性肾脏病，3期", "慢性肾脏病3期",
                     "433144002", "Chronic kidney disease stage 3"),
    "hld": Diagnosis("E78.5", "高脂血症，未特指", "高脂血症", "55822004", "Hyperlipidemia"),
    "pregnancy": Diagnosis("Z34.9", "对正常妊娠的监督，未特指", "早孕/正常妊娠",
                           "72892002", "Normal pregnancy"),
    "stroke_acute": Diagnosis("I63.9", "脑梗死，未特指", "急性脑梗死", "422504002", "Ischemic stroke"),
    "copd_ae": Diagnosis("J44.1", "慢性阻塞性肺病伴有急性加重，未特指", "慢性阻塞性肺疾病急性加重",
                         "195951007", "Acute exacerbation of chronic obstructive airways disease"),
    "uri": Diagnosis("J06.9", "急性上呼吸道感染，未特指", "急性上呼吸道感染",
                     "54150009", "Upper respiratory infection"),
}
CHRONIC = ("htn", "t2dm", "copd", "chd", "stroke", "ckd", "hld")


@dataclass(frozen=True)
class Drug:
    rxnorm: str  # the clinical drug where it is certain, otherwise the ingredient
    rx_display: str
    text: str  # the Chinese product as dispensed
    instruction: str  # 用法用量, as printed on the prescription
    dose: float
    unit: str  # UCUM
    per_day: int
    route: str = "oral"  # oral | subcut | inhaled

    def code(self) -> dict:
        return concept(coding(RXNORM, self.rxnorm, self.rx_display), text=self.text)


DRUGS: dict[str, Drug] = {
    "amlodipine": Drug("197361", "amlodipine 5 MG Oral Tablet", "苯磺酸氨氯地平片 5mg",
                       "口服，每日1次，每次1片（5mg）", 5, "mg", 1),
    "nifedipine": Drug("7417", "nifedipine", "硝苯地平控释片 30mg",
                       "口服，每日1次，每次1片（30mg），整片吞服", 30, "mg", 1),
    "losartan": Drug("52175", "losartan", "氯沙坦钾片 50mg",
                     "口服，每日1次，每次1片（50mg）", 50, "mg", 1),
    "hctz": Drug("5487", "hydrochlorothiazide", "氢氯噻嗪片 25mg",
                 "口服，每日1次，每次半片（12.5mg）", 12.5, "mg", 1),
    "metoprolol": Drug("6918", "metoprolol", "琥珀酸美托洛尔缓释片 47.5mg",
                       "口服，每日1次，每次1片（47.5mg）", 47.5, "mg", 1),
    "metformin": Drug("6809", "metformin", "盐酸二甲双胍片 0.5g",
                      "口服，每日3次，每次1片（0.5g），餐中或餐后服用", 500, "mg", 3),
    "acarbose": Drug("16681", "acarbose", "阿卡波糖片 50mg",
                     "口服，每日3次，每次1片（50mg），与第一口饭同时嚼服", 50, "mg", 3),
    "glargine": Drug("274783", "insulin glargine", "甘精胰岛素注射液 300单位/3ml",
                     "皮下注射，每晚睡前1次，每次12单位", 12, "[IU]", 1, "subcut"),
    "atorvastatin": Drug("83367", "atorvastatin", "阿托伐他汀钙片 20mg",
                         "口服，每晚1次，每次1片（20mg）", 20, "mg", 1),
    "aspirin": Drug("1191", "aspirin", "阿司匹林肠溶片 100mg",
                    "口服，每日1次，每次1片（100mg），空腹服用", 100, "mg", 1),
    "clopidogrel": Drug("309362", "clopidogrel 75 MG Oral Tablet", "硫酸氢氯吡格雷片 75mg",
                        "口服，每日1次，每次1片（75mg）", 75, "mg", 1),
    "tiotropium": Drug("69120", "tiotropium", "噻托溴铵粉吸入剂 18μg",
                       "吸入，每日1次，每次1粒（18μg）", 18, "ug", 1, "inhaled"),
    "folic_acid": Drug("4511", "folic acid", "叶酸片 0.4mg",
                       "口服，每日1次，每次1片（0.4mg）", 0.4, "mg", 1),
    "amoxicillin": Drug("723", "amoxicillin", "阿莫西林胶囊 0.25g",
                        "口服，每日3次，每次2粒（0.5g），疗程5天", 500, "mg", 3),
    "azithromycin": Drug("18631", "azithromycin", "阿奇霉素片 0.25g",
                         "口服，每日1次，每次2片（0.5g），疗程3天", 500, "mg", 1),
}

ROUTES = {
    "oral": ("26643006", "Oral route", "口服"),
    "subcut": ("34206005", "Subcutaneous route", "皮下注射"),
    "inhaled": ("447694001", "Respiratory tract route", "吸入"),
}


@dataclass(frozen=True)
class Test:
    loinc: str
    display: str
    text: str
    unit: str  # UCUM
    decimals: int
    male: tuple[float | None, float | None]  # reference range (low, high)
    female: tuple[float | None, float | None]
    category: str = "laboratory"

    def code(self) -> dict:
        return concept(coding(LOINC, self.loinc, self.display), text=self.text)


VITAL = "vital-signs"


def _same(low: float | None, high: float | None) -> dict:
    return {"male": (low, high), "female": (low, high)}


# SI units as Chinese labs report them, so the molar-concentration LOINC codes.
TESTS: dict[str, Test] = {
    "glucose": Test("14771-0", "Fasting glucose [Moles/volume] in Serum or Plasma", "空腹血糖", "mmol/L", 1,
                    **_same(3.9, 6.1)),
    "hba1c": Test("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "糖化血红蛋白", "%", 1,
                  **_same(4.0, 6.0)),
    "tc": Test("14647-2", "Cholesterol [Moles/volume] in Serum or Plasma", "总胆固醇", "mmol/L", 2,
               **_same(None, 5.2)),
    "ldl": Test("22748-8", "Cholesterol in LDL [Moles/volume] in Serum or Plasma", "低密度脂蛋白胆固醇",
                "mmol/L", 2, **_same(None, 3.4)),
    "creatinine": Test("14682-9", "Creatinine [Moles/volume] in Serum or Plasma", "肌酐", "umol/L", 0,
                       (57, 111), (41, 81)),
    "potassium": Test("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "钾", "mmol/L", 2,
                      **_same(3.5, 5.3)),
    "sodium": Test("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "钠", "mmol/L", 1,
                   **_same(137, 147)),
    "alt": Test("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
                "丙氨酸氨基转移酶", "U/L", 0, (9, 50), (7, 40)),
    "hb": Test("718-7", "Hemoglobin [Mass/volume] in Blood", "血红蛋白", "g/L", 0, (130, 175), (115, 150)),
    "hr": Test("8867-4", "Heart rate", "心率", "/min", 0, **_same(60, 100), category=VITAL),
    "bmi": Test("39156-5", "Body mass index (BMI) [Ratio]", "体质指数", "kg/m2", 1, **_same(18.5, 23.9),
                category=VITAL),
    "weight": Test("29463-7", "Body weight", "体重", "kg", 1, **_same(None, None), category=VITAL),
    "temp": Test("8310-5", "Body temperature", "体温", "Cel", 1, **_same(36.0, 37.2), category=VITAL),
    "height": Test("8302-2", "Body height", "身高", "cm", 1, **_same(None, None), category=VITAL),
}
BP_PANEL = ("85354-9", "Blood pressure panel with all children optional", "血压")
SYSTOLIC = ("8480-6", "Systolic blood pressure", "收缩压")
DIASTOLIC = ("8462-4", "Diastolic blood pressure", "舒张压")

# Lab panels as reported together (DiagnosticReport.code), with the tests they contain.
PANELS: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "chem": ("24323-8", "Comprehensive metabolic 2000 panel - Serum or Plasma",
             "生化检查（肝肾功能、电解质、血糖）", ("glucose", "creatinine", "potassium", "sodium", "alt")),
    "lipid": ("57698-3", "Lipid panel with direct LDL - Serum or Plasma", "血脂检查", ("tc", "ldl")),
    "cbc": ("58410-2", "CBC panel - Blood by Automated count", "血常规", ("hb",)),
    "hba1c": ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "糖化血红蛋白测定", ("hba1c",)),
}


@dataclass(frozen=True)
class Imaging:
    modality: str
    modality_display: str
    sop_class: str
    body: tuple[str, str]  # SNOMED body structure
    code: tuple[str, str]  # SNOMED procedure
    text: str
    conclusions: tuple[str, ...]  # normal first, then abnormal findings


_DX, _CT, _US = "1.2.840.10008.5.1.4.1.1.1.1", "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.6.1"
IMAGING: dict[str, Imaging] = {
    "cxr": Imaging("DX", "Digital Radiography", _DX, ("51185008", "Thoracic structure"),
                   ("399208008", "Plain chest X-ray"), "胸部正位DR摄影",
                   ("两肺纹理清晰，未见明显实质性病变；心影大小形态正常，双膈光整。",
                    "两肺纹理增多、紊乱，肺透亮度增高，膈肌低平，符合慢性阻塞性肺疾病表现。",
                    "主动脉迂曲，心影向左下扩大，请结合临床。")),
    "ct_chest": Imaging("CT", "Computed Tomography", _CT, ("51185008", "Thoracic structure"),
                        ("169069000", "Computed tomography of chest"), "胸部CT平扫",
                        ("胸部CT平扫未见明显异常。",
                         "双肺肺气肿，双肺散在肺大疱；右肺下叶少许慢性炎症。")),
    "ct_head": Imaging("CT", "Computed Tomography", _CT, ("69536005", "Head structure"),
                       ("303653007", "Computed tomography of head"), "头颅CT平扫",
                       ("颅内未见明显异常密度影。",
                        "左侧基底节区见斑片状低密度影，考虑陈旧性腔隙性脑梗死；"
                        "脑白质轻度脱髓鞘改变。")),
    "echo": Imaging("US", "Ultrasound", _US, ("80891009", "Heart structure"),
                    ("40701008", "Echocardiography"), "经胸超声心动图",
                    ("心脏结构及功能未见明显异常，左室射血分数62%。",
                     "左室壁节段性运动减弱，左室射血分数52%，主动脉瓣轻度反流。",
                     "左室壁增厚，左室舒张功能减低，左室射血分数58%。")),
    "abd_us": Imaging("US", "Ultrasound", _US, ("113345001", "Abdominal structure"),
                      ("45036003", "Ultrasonography of abdomen"), "腹部彩超（肝胆胰脾双肾）",
                      ("肝、胆、胰、脾、双肾未见明显异常。",
                       "脂肪肝（轻度）；胆囊、胰、脾未见明显异常。",
                       "双肾体积偏小，皮质回声增强，皮髓质分界欠清，符合慢性肾脏病改变。")),
    "ob_us": Imaging("US", "Ultrasound", _US, ("35039007", "Uterine structure"),
                     ("268445003", "Ultrasound scan - obstetric"), "产科彩超",
                     ("宫内单活胎，胎心规则，羊水量正常，胎盘附着于子宫前壁。",)),
}

# (SNOMED code, display, Chinese)
PROCEDURES = {
    "ecg": ("29303009", "Electrocardiographic procedure", "常规十二导联心电图检查"),
    "angiography": ("33367005", "Angiography of coronary artery", "冠状动脉造影"),
    "pci": ("415070008", "Percutaneous coronary intervention", "经皮冠状动脉介入治疗（支架植入）"),
    "spirometry": ("127783003", "Spirometry", "肺功能检查"),
}

# Encounter.type: (SNOMED code, display, Chinese)
VISITS = {
    "followup": ("390906007", "Follow-up encounter", "慢病随访"),
    "checkup": ("185349003", "Encounter for check up", "健康体检"),
    "outpatient": ("11429006", "Consultation", "专科门诊"),
    "admission": ("32485007", "Hospital admission", "住院"),
    "emergency": ("50849002", "Emergency room admission", "急诊"),
    "prenatal": ("424619006", "Prenatal visit", "产前检查"),
    "child": ("410620009", "Well child visit", "儿童健康检查"),
    "sick": ("185345009", "Encounter for symptom", "普通门诊"),
}

# AllergyIntolerance substances: (SNOMED code, display, Chinese, reaction SNOMED, display, Chinese)
ALLERGENS = {
    "penicillin": ("764146007", "Penicillin", "青霉素类", "271807003", "Eruption of skin", "皮疹"),
    "sulfonamide": ("387406002", "Sulfonamide", "磺胺类药物", "126485001", "Urticaria", "荨麻疹"),
}
# fmt: on
