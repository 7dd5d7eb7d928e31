# ruff: noqa: E501  (a catalogue of Chinese sentences, one entry a line; CJK characters count double)
"""The message catalogue: every check the quality gate runs, in the readers' Chinese and in English.

Readers (the province credit office, the departments that get return notices) read Chinese;
engineers' logs and the suites (`expectations/*.json`, `meta.reason`) stay English. The gate keeps
writing the suite's English reason to `meta.row_issues.reason`; whatever a reader sees — the
quality report's reasons and check columns, its drill-down CSVs, the return notices (信息退回) —
is translated here, at the moment it is written:

    check_name_zh("uscc_check_character")                    -> "统一社会信用代码校验位错误"
    reason_zh("uscc_check_character", "统一社会信用代码")      -> "统一社会信用代码不符合 GB 32100-2015（格式或校验位错误）"

`{field}` in a reason is the department's own column header for the failing field (the catalog's
`fields` mapping), so the sentence names the column the department sees in its template.

A check missing from `CHECKS` (a new suite not yet translated) still reads Chinese: its name and
reason come from the check name's ending (`_required` → 为空, `_valid` → 为空或格式不正确, …,
`RULES`); tests/test_returns.py checks that every check of every suite is in `CHECKS`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class CheckMessage:
    zh: str  # the check's short name (校验规则)
    reason: str  # the reader's sentence; `{field}` = the department's header of the failing field
    en: str  # the check's short English name (engineers, the English subtitle of the report)


_C = CheckMessage

#: Every check of every suite under expectations/, plus the gate's own (batch_rejected,
#: unstorable_value, file_rejected) and the 重错码 conflicts.
CHECKS: dict[str, CheckMessage] = {
    # --- codes and identities -----------------------------------------------------------------
    "uscc_required": _C("统一社会信用代码必填", "{field}为空：法人、非法人组织和个体工商户必须填写统一社会信用代码",
                        "USCC required"),
    "uscc_given_for_organisation": _C("统一社会信用代码必填", "{field}为空：法人、非法人组织和个体工商户必须填写",
                                      "USCC given for an organisation"),
    "uscc_check_character": _C("统一社会信用代码校验位错误",
                               "{field}不符合 GB 32100-2015（格式或校验位错误）", "USCC check character"),
    "uscc_one_name": _C("重错码：一码多名", "重错码：同一统一社会信用代码以不同的主体名称报送", "one USCC, two names"),
    "uscc_registered": _C("统一社会信用代码未登记",
                          "{field}在市场主体登记信息中（截至当晚已接收的登记批次）尚无记录：主体未登记或代码有误",
                          "USCC registered"),
    "uscc_unique": _C("主体重复", "同一企业在本次报送中出现多次", "enterprise listed once"),
    "one_entry_per_subject_year": _C("同一年度重复", "同一纳税人在本批次中同一评价年度出现两次（更正或重复报送）",
                                     "one entry per subject and year"),
    "citizen_id_valid": _C("身份证号码无效", "自然人缺少有效的居民身份证号码（GB 11643-1999）", "resident ID valid"),
    "citizen_id_check_character": _C("身份证号码校验位错误",
                                     "{field}不符合 GB 11643-1999（格式、出生日期或校验位错误）",
                                     "resident ID check character"),
    "id_number_required": _C("证件号码必填", "{field}为空", "ID number required"),
    "authority_uscc_valid": _C("机关统一社会信用代码错误", "{field}不符合 GB 32100-2015", "authority USCC valid"),
    "deciding_department_uscc_valid": _C("认定部门统一社会信用代码错误", "{field}不符合 GB 32100-2015",
                                         "deciding department USCC valid"),
    "customs_code_valid": _C("海关编码错误", "{field}为空或不是10位数字和大写字母", "customs code valid"),
    "division_code_known": _C("行政区划代码无效",
                              "{field}不是河北省的行政区划代码（GB/T 2260）：记录保留，但无法归属到地市",
                              "division code known"),
    # --- required values ----------------------------------------------------------------------
    "subject_name_required": _C("主体名称必填", "{field}为空", "subject name required"),
    "enterprise_name_required": _C("企业名称必填", "{field}为空", "enterprise name required"),
    "customer_name_required": _C("用户名称必填", "{field}为空", "customer name required"),
    "account_number_required": _C("户号必填", "{field}为空", "account number required"),
    "authority_name_required": _C("决定机关必填", "{field}为空", "authority name required"),
    "deciding_department_required": _C("认定部门必填", "{field}为空", "deciding department required"),
    "source_department_required": _C("数据来源单位必填", "{field}为空", "source department required"),
    "record_number_required": _C("记录编号必填", "{field}为空：无法跟踪整改结果", "record number required"),
    "document_number_required": _C("决定文书号必填", "{field}为空", "document number required"),
    "case_number_required": _C("案号必填", "{field}为空", "case number required"),
    "obligations_required": _C("法律文书义务必填", "{field}为空", "obligations required"),
    "penalty_category_required": _C("处罚类别必填", "{field}为空", "penalty category required"),
    "listing_reason_required": _C("列入原因必填", "{field}为空", "listing reason required"),
    "tax_type_required": _C("欠税税种必填", "{field}为空", "tax type required"),
    "application_id_required": _C("申请编号必填", "{field}为空：无法跟踪办理", "application id required"),
    "commitment_id_required": _C("承诺编号必填", "{field}为空：无法跟踪履约", "commitment id required"),
    "declaration_id_required": _C("申报编号必填", "{field}为空：无法跟踪该申报的核验与撤回", "declaration id required"),
    "declaration_commitment_required": _C("信用承诺编号必填", "{field}为空：自愿注册信息须附真实性承诺",
                                          "declaration carries its commitment"),
    "removal_reason_given": _C("移出原因必填", "填写了移出日期，但{field}为空", "removal reason given"),
    # --- duplicates ---------------------------------------------------------------------------
    "document_number_unique": _C("决定文书号重复", "同一决定（部门、类别、{field}）在当晚报送中出现多次（重复公示）",
                                 "document number unique"),
    "record_number_unique": _C("记录编号重复", "同一数据来源单位的{field}在当晚报送中出现多次", "record number unique"),
    # --- dates ----------------------------------------------------------------------------------
    "decision_date_valid": _C("决定日期格式错误", "{field}为空或不是日期（YYYY-MM-DD）", "decision date valid"),
    "decision_date_not_after_night": _C("决定日期晚于报送日", "{field}晚于报送当晚", "decision date not after the night"),
    "held_on_valid": _C("约谈（培训）日期错误", "{field}为空或不是日期（YYYY-MM-DD）", "held on valid"),
    "held_on_not_after_night": _C("约谈（培训）日期晚于报送日", "{field}晚于报送当晚", "held on not after the night"),
    "rectification_deadline_given": _C("整改期限错误", "约谈记录的{field}为空或不是日期，或培训记录填写了{field}",
                                       "rectification deadline given"),
    "deadline_not_before_held": _C("整改期限早于约谈日期", "{field}早于约谈日期", "deadline not before the interview"),
    "decision_date_in_ledger_month": _C("决定日期不在台账月份", "{field}不在本行的台账月份内", "decision date in ledger month"),
    "ledger_month_valid": _C("台账月份格式错误", "{field}为空或不是月份（YYYY-MM、YYYY年MM月或YYYYMM）",
                             "ledger month valid"),
    "ledger_month_over": _C("台账月份未结束", "报送当晚{field}尚未结束（台账不完整）", "ledger month over"),
    "announced_on_date": _C("公告日期错误", "{field}为空、不是日期（YYYY-MM-DD）或晚于今天", "announced on date"),
    "applied_on_date": _C("申请日期错误", "{field}为空、不是日期（YYYY-MM-DD）或晚于今天", "applied on date"),
    "committed_on_date": _C("承诺日期错误", "{field}为空、不是日期（YYYY-MM-DD）或晚于今天", "committed on date"),
    "declared_on_date": _C("申报日期错误", "{field}为空、不是日期（YYYY-MM-DD）或晚于报送日期", "declared on date"),
    "verification_status_on_valid": _C("核验状态日期错误",
                                       "{field}为空、不是日期、早于申报日期或晚于报送日期：无法确定计入评价的起止",
                                       "verification status date valid"),
    "posted_on_date": _C("记账日期错误", "{field}为空、不是日期（YYYY-MM-DD）或晚于今天", "posted on date"),
    "published_on_date": _C("发布日期错误", "{field}为空、不是日期（YYYY-MM-DD）或晚于今天", "published on date"),
    "published_on_valid": _C("发布日期错误", "{field}为空、不是日期、早于立案日期或晚于今天", "published on valid"),
    "filed_on_valid": _C("立案日期错误", "{field}为空或不是日期", "filed on valid"),
    "certified_on_valid": _C("认证日期错误", "{field}为空、不是日期（YYYY-MM-DD）或晚于报送日", "certified on valid"),
    "listed_on_valid": _C("列入日期错误", "{field}为空或不是日期（YYYY-MM-DD）", "listed on valid"),
    "listed_on_not_after_night": _C("列入日期晚于报送日", "{field}晚于文件报送当晚", "listed on not after the night"),
    "removed_on_valid": _C("移出日期错误", "{field}不是日期（YYYY-MM-DD）", "removed on valid"),
    "removed_on_not_after_night": _C("移出日期晚于报送日", "{field}晚于文件报送当晚", "removed on not after the night"),
    "removal_not_before_listing": _C("移出早于列入", "{field}早于列入日期", "removal not before listing"),
    "removal_not_before_publish": _C("移除早于发布", "{field}早于发布日期", "removal not before publishing"),
    "revoked_on_given": _C("撤销日期缺失", "状态为撤销，但{field}为空或不是日期", "revocation date given"),
    "revoked_on_only_when_revoked": _C("撤销日期多余", "状态为有效，却填写了{field}", "revocation date only when revoked"),
    "revoked_on_not_after_night": _C("撤销日期晚于报送日", "{field}晚于报送日", "revocation date not after the night"),
    "revocation_after_certification": _C("撤销早于认证", "{field}早于认证日期", "revocation after certification"),
    "paid_on_valid": _C("缴费日期错误", "{field}不是日期（YYYY-MM-DD）", "payment date valid"),
    "publicity_end_date_valid": _C("公示截止期错误", "{field}不是日期（YYYY-MM-DD）", "publicity end date valid"),
    "pushed_at_valid": _C("推送时间错误", "{field}不是时间", "push time valid"),
    "updated_at_parsable": _C("更新时间错误", "{field}为空或不是时间", "update time parsable"),
    "registration_date_sane": _C("成立日期错误", "{field}为空、不是日期或晚于记录的最后变更时间", "registration date sane"),
    "valid_from_valid": _C("有效期起始日期错误", "{field}为空或不是日期（YYYY-MM-DD）", "valid from valid"),
    "valid_to_valid": _C("有效期截止日期错误", "{field}为空或不是日期（YYYY-MM-DD；长期填2099-12-31）", "valid to valid"),
    "validity_order": _C("有效期起止颠倒", "{field}早于有效期起始日期", "validity order"),
    "valid_until_after_committed": _C("承诺有效期错误", "{field}不是日期或早于承诺日期", "valid until after committed"),
    "valid_until_after_listing": _C("有效期错误", "{field}不是列入日期之后的日期", "valid until after listing"),
    "closed_on_not_before_applied": _C("办结日期错误", "{field}不是日期或早于申请日期", "closed on not before applied"),
    "closed_on_when_closed": _C("办结日期缺失", "处理状态为已办结或不予受理，但{field}为空：无法计算核查时限",
                                "closed on when closed"),
    "notice_and_reply_dates": _C("核查日期错误", "核查通知日期或核查回复日期不是日期，或早于其前一日期：无法据此计算核查时限",
                                 "notice and reply dates"),
    "notified_on_when_verifying": _C("核查通知日期缺失",
                                     "核查中或已办结的异议缺少{field}：时限改从申请日期起算并标记",
                                     "notice date when verifying"),
    "fulfilment_assessed_when_settled": _C("履约评价日期缺失", "履约状态为已履约或未履约，但{field}为空或不是日期",
                                           "fulfilment assessed when settled"),
    "evaluation_year_valid": _C("评价年度错误", "{field}为空、不是年份，或不早于名单发布年份", "evaluation year valid"),
    "contribution_month_valid": _C("缴存年月错误", "{field}为空或不是月份（YYYY-MM）", "contribution month valid"),
    "contribution_month_not_after_posting": _C("缴存年月晚于记账月", "{field}晚于记账月份（预缴或月份填错）",
                                               "contribution month not after posting"),
    "billing_period_format": _C("账期格式错误", "{field}为空或不是月份（YYYY-MM）", "billing period format"),
    "billing_period_not_after_night": _C("账期晚于报送日", "{field}晚于报送月份", "billing period not after the night"),
    # --- amounts and counts -----------------------------------------------------------------------
    "amount_due_valid": _C("应缴金额错误", "{field}为空、为负数或不是以元为单位的金额", "amount due valid"),
    "amount_paid_valid": _C("实缴金额错误", "{field}为空、为负数或不是以元为单位的金额", "amount paid valid"),
    "amounts_non_negative": _C("金额为负", "应缴金额、实缴金额或欠费金额为负数", "amounts non-negative"),
    "amounts_numeric": _C("金额不是数字", "{field}为空，或金额不是数字（元，例如 123.45）", "amounts numeric"),
    "arrears_amount_valid": _C("欠缴金额错误", "{field}为空、不是数字或为负数", "arrears amount valid"),
    "arrears_consistent": _C("欠缴金额不一致", "{field}不等于应缴金额减实缴金额", "arrears consistent"),
    "arrears_months_valid": _C("欠费月数错误", "{field}不是整月数（0-999）", "arrears months valid"),
    "new_arrears_amount_valid": _C("新发生欠税金额错误", "{field}不是数字或为负数", "new arrears amount valid"),
    "monthly_amount_valid": _C("月缴存额错误", "{field}为空、不是数字或为负数", "monthly amount valid"),
    "contribution_rates_in_range": _C("缴存比例超出范围", "{field}为空或不在 5%-12% 之间", "contribution rates in range"),
    "contributor_count_valid": _C("缴存人数错误", "{field}为空、不是整数或为负数", "contributor count valid"),
    "fine_amount_valid": _C("罚款金额错误", "{field}为负数或不是数字", "fine amount valid"),
    "fine_given_for_fine_category": _C("罚款金额缺失", "处罚类别含罚款，但{field}为空", "fine given for a fine"),
    "confiscated_amount_valid": _C("没收金额错误", "{field}为负数或不是数字", "confiscated amount valid"),
    # --- codes from a list --------------------------------------------------------------------------
    "application_type_known": _C("申请类型无效", "{field}不是规定代码：1 异议申诉，2 信用修复", "application type known"),
    "declaration_kind_known": _C("申报类别无效", "{field}不是规定代码：01 资质许可，02 经营状况，03 合同履约，04 公益活动",
                                 "declaration kind known"),
    "verification_status_known": _C("核验状态无效", "{field}不是规定值：待核验、已核验、核验不实、已撤回",
                                    "verification status known"),
    "commitment_kind_known": _C("承诺类型无效", "{field}不是规定代码：01 审批替代型，02 主动型，03 行业自律型，04 信用修复型",
                                "commitment kind known"),
    "contribution_status_known": _C("缴存状态无效", "{field}不是规定代码：01 正常缴存，02 缓缴，03 欠缴，04 封存",
                                    "contribution status known"),
    "fulfilment_status_known": _C("履约状态无效", "{field}不是规定代码：0 履约中，1 已履约，2 未履约",
                                  "fulfilment status known"),
    "objection_kind_known": _C("异议类型无效", "{field}不是规定代码：01 错误，02 遗漏，03 重复公示，04 不应公示，05 超期公示",
                               "objection kind known"),
    "repair_path_known": _C("修复路径无效",
                            "{field}不是规定代码：01 信用承诺，02 整改，03 核查，04 信用培训，05 信用报告，06 公益慈善",
                            "repair path known"),
    "customer_type_known": _C("用户类型无效", "{field}为空或不是“单位”“个人”之一", "customer type known"),
    "decision_kind_known": _C("决定类别无效", "{field}为空或不是“行政许可”“行政处罚”之一（每行一类）",
                              "decision kind known"),
    "insurance_type_known": _C("险种类型无效", "{field}不是企业职工基本养老保险、失业保险或工伤保险", "insurance type known"),
    "licence_category_known": _C("许可类别无效", "{field}不是普通、特许、认可、核准、登记、其他之一", "licence category known"),
    "list_type_known": _C("名单类型无效", "{field}为空或不是守信红名单、失信黑名单、严重失信主体名单、重点关注名单之一",
                          "list type known"),
    "status_known": _C("状态无效", "{field}为空或不是“有效”“撤销”之一", "status known"),
    "subject_category_known": _C("相对人类别无效", "{field}为空或不是法人及非法人组织、个体工商户、自然人之一",
                                 "subject category known"),
    "subject_kind_known": _C("被执行人类型无效", "{field}既不是自然人，也不是法人或其他组织", "subject kind known"),
    "record_status_known": _C("信息状态无效", "{field}不是国家规定的结果代码，或修复、撤回未附日期（以推送当晚计）",
                              "record status known"),
    "certification_type_advanced": _C("认证类型不符", "{field}为空或不是高级认证（本名单只收高级认证企业）",
                                       "advanced certification"),
    "credit_grade_is_a": _C("纳税信用级别不是A级", "{field}不是A级：该行不属于A级纳税人名单", "credit grade A"),
    "record_kind_known": _C("记录类别无效", "{field}为空或不是提示约谈、警示约谈、信用修复培训之一", "record kind known"),
    "outcome_known": _C("结果无效", "{field}与记录类别不符：约谈填已整改、整改中或逾期未整改，培训填合格或不合格",
                        "outcome known"),
    "court_known": _C("执行法院未知", "{field}不是已知的河北省法院名称", "court known"),
    "authorisation_stated": _C("授权情况缺失", "自然人的{field}为空或不是 Y/N", "authorisation stated"),
    # --- the gate's own checks --------------------------------------------------------------------
    "batch_rejected": _C("整批退回", "整批退回：{share}的行未通过关键校验（阈值 {threshold}），请更正后整批重新报送",
                         "batch rejected"),
    "unstorable_value": _C("数值无法入库", "{field}的值无法入库", "unstorable value"),
    "file_rejected": _C("整个文件退回", "整个文件被退回，未入库", "file rejected"),
    "code_conflict": _C("重错码：跨数据源代码冲突", "重错码：同一代码在不同数据源中对应不同主体", "code conflict"),
}

#: Fallbacks by the check name's ending, for a check not (yet) in CHECKS.
RULES: tuple[tuple[str, CheckMessage], ...] = (
    ("_required", _C("必填项为空", "{field}为空", "required")),
    ("_unique", _C("重复报送", "{field}在本次报送中重复", "unique")),
    ("_known", _C("代码无效", "{field}不是规定的代码值", "known code")),
    ("_not_after_night", _C("日期晚于报送日", "{field}晚于报送当晚", "not after the night")),
    ("_check_character", _C("校验位错误", "{field}的校验位错误", "check character")),
    ("_valid", _C("格式错误", "{field}为空或格式不正确", "valid")),
    ("_date", _C("日期错误", "{field}为空或不是日期", "date")),
)
_DEFAULT = _C("数据校验未通过", "{field}未通过数据校验", "check failed")


def check_message(check_name: str) -> CheckMessage:
    """The catalogue's entry for a check (prefixed checks such as `unstorable_value:<field>` or
    `code_conflict_<x>` use their family's), else the fallback of its ending."""
    if check_name in CHECKS:
        return CHECKS[check_name]
    for family in ("unstorable_value", "code_conflict"):
        if check_name.startswith(family):
            return CHECKS[family]
    for ending, message in RULES:
        if check_name.endswith(ending):
            return message
    return _DEFAULT


def check_name_zh(check_name: str) -> str:
    return check_message(check_name).zh


_BATCH = re.compile(r"(?P<share>[\d.]+%) of rows failed critical checks \(threshold (?P<threshold>[\d.]+%)\)")


def reason_zh(check_name: str, field_header: str | None, reason: str | None = None) -> str:
    """The reader's sentence for a failed check. `field_header`: the department's header of the
    failing field (the catalog's `fields`), else the field's key; `reason`: the English reason the
    gate stored (meta.row_issues.reason), for the values a sentence repeats (the batch's share).

    Landing's unstorable values and the refused files already carry a Chinese sentence naming
    file, row and field (`WRITTEN_IN_CHINESE`): it is returned as it is.
    """
    if reason and check_name.startswith(WRITTEN_IN_CHINESE):
        return reason
    message = check_message(check_name)
    values = {"field": field_header or "该字段", "share": "", "threshold": ""}
    if check_name == "batch_rejected" and reason and (m := _BATCH.search(reason)):
        values.update(m.groupdict())
    return message.reason.format(**values)


#: Checks whose stored reason is the warehouse's own Chinese sentence (credit_dw.ingest.landing,
#: credit_dw.ingest.returns).
WRITTEN_IN_CHINESE = ("unstorable_value", "file_rejected")


#: Severity and gate outcomes as readers see them.
SEVERITY_ZH = {"critical": "严重（隔离退回）", "warning": "警示（入库并标记）"}


def severity_zh(severity: str) -> str:
    return SEVERITY_ZH.get(severity, severity)


#: Chinese labels of the catalog's canonical fields whose source column is not Chinese (the
#: database and interface feeds name their columns in pinyin: `tyshxydm`, `fddbr_zjhm`). A field
#: a file feed heads in Chinese takes that header (`field_label`).
FIELD_LABELS: dict[str, str] = {
    "uscc": "统一社会信用代码", "subject_name": "主体名称", "legal_representative": "法定代表人",
    "accepted_by": "受理机构", "announced_on": "公告日期", "announcement_issue": "公告期号",
    "application_id": "申请编号", "application_type_code": "申请类型", "applied_on": "申请日期",
    "basis_document_number": "执行依据文号", "basis_issuer": "作出执行依据单位", "business_address": "生产经营地址",
    "case_number": "案号", "channel": "申请渠道", "closed_on": "办结日期", "commitment_id": "承诺编号",
    "commitment_kind_code": "承诺类型", "commitment_matter": "承诺事项", "committed_on": "承诺日期",
    "contribution_base": "缴费基数", "contribution_month": "缴存年月", "contribution_status": "缴存状态",
    "contributor_count": "缴存人数", "court_name": "执行法院", "credit_grade": "纳税信用级别",
    "dishonest_conduct": "失信行为情形", "division_code": "行政区划代码", "employee_rate": "个人缴存比例",
    "employer_number": "单位编号", "employer_rate": "单位缴存比例", "evaluation_year": "评价年度",
    "filed_on": "立案日期", "fulfilment_assessed_on": "履约评价日期", "fulfilment_status_code": "履约状态",
    "fund_account": "单位公积金账号", "fund_centre": "公积金管理中心", "handled_by": "受理部门",
    "insurance_type": "险种类型", "insured_headcount": "参保人数", "legal_representative_id": "法定代表人证件号码",
    "monthly_amount": "月缴存额", "months_in_arrears": "欠缴月数", "new_arrears_amount": "当期新发生欠税金额",
    "notified_on": "核查通知日期", "objection_kind_code": "异议类型", "obligations": "生效法律文书确定的义务",
    "outcome": "处理结果", "payment_status": "缴费状态", "performance_status": "履行情况", "posted_on": "记账日期",
    "published_on": "发布日期", "record_category": "信息类别", "record_id": "涉及信息编号", "registered_on": "成立日期",
    "repair_path_code": "修复路径", "replied_on": "核查回复日期", "sex": "性别", "status": "登记状态",
    "status_code": "处理状态", "subject_kind": "主体类型", "tax_authority_code": "税务机关代码",
    "tax_authority_name": "税务机关名称", "tax_type": "欠税税种", "updated_at": "更新时间",
}

_CJK = re.compile(r"[\u4e00-\u9fff]")


def field_label(field: str, source_header: str | None = None) -> str:
    """A field as readers see it: the feed's own header when it is Chinese (file feeds), else the
    catalogue's Chinese label, else the header or key as it is. '*' (a whole-batch verdict) is 整批."""
    if field == "*":
        return "（整批）"
    if source_header and _CJK.search(source_header):
        return source_header
    return FIELD_LABELS.get(field) or source_header or field


#: Why a dual-publicity decision counts for no jurisdiction (未能归属): qa_dual_publicity_decisions.city_basis.
UNATTRIBUTED_CAUSES: dict[str, tuple[str, str]] = {
    "province_authority_no_subject_code": (
        "省直部门作出的决定，相对人无统一社会信用代码（如自然人）或代码中的区划不在河北省",
        "a province department's decision about a subject without a Hebei USCC (e.g. a natural person)"),
    "no_code": ("决定机关和相对人均未填写统一社会信用代码",
                "neither the deciding authority's nor the subject's USCC was given"),
    "unknown_division": ("决定机关和相对人的统一社会信用代码第3-8位均不是河北省现行行政区划",
                         "neither code's characters 3-8 name a current Hebei division"),
}


def unattributed_cause_zh(cause: str | None) -> str:
    return UNATTRIBUTED_CAUSES.get(cause or "", (f"其他原因（{cause}）", ""))[0]
