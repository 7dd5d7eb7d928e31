"""Deterministic simulator of the credit-list files (红黑名单、重点关注名单, feed `credit_lists`).

Deciding departments put subjects on the red list (守信红名单), the black list (失信黑名单 /
严重失信主体名单) or the key-attention list (重点关注名单), each with its reason, basis, entry date
and, when it leaves, an exit date [001; 004 §8; rules §7]. For a logical date D, `write_lists`
writes each department's file into `settings.inbox_dir("credit_lists", D)`, named
`<department_code>_md_<YYYYMMDD>.<csv|xlsx>`:

- entries (列入): `ENTRIES_PER_SCALE * scale` a night, spread over the departments by weight, each
  on one of the department's lists, listed 1-5 Monday-Friday days before D; subjects are
  enterprises and individual businesses of the market registry when that database exists (another
  sample than the dual-publicity simulator's), else generated;
- exits (移出): a list decides which of its entries leave (`exit_share`) and after how many days
  (`EXIT_LAGS`); the entry comes again on that night with 移出日期 and 移出原因 (expiry, repair
  [004 §13], the arrears paid). Entries are regenerated from (seed, night), so an exit repeats its
  entry exactly.

Defects on `defect_share` of the rows (`DEFECT_KINDS`, spread evenly), each a critical check of
expectations/credit_lists.json: a bad USCC check character, a list type no rule knows, an exit
dated before the entry, a missing entry date.

Determinism: draws from `random.Random`s seeded by (seed, night, purpose); XLSX with fixed zip
timestamps; a rerun deletes the night's files it wrote before and writes the same bytes.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import credit_dw.simulate.dept_ledgers as ledgers
import credit_dw.simulate.dual_publicity as dp
import credit_dw.simulate.identities as ids
from credit_dw.config import settings
from credit_dw.config.files import write_atomically
from credit_dw.simulate.common import SimulationSummary, check_run
from credit_dw.simulate.files import table_bytes

log = logging.getLogger(__name__)

SOURCE_ID = "credit_lists"
ENTRIES_PER_SCALE = 30
#: Days after the entry night on which an exit is delivered.
EXIT_LAGS = (7, 14, 28)
LIST_TYPES = ("守信红名单", "失信黑名单", "严重失信主体名单", "重点关注名单")
DEFECT_KINDS = ("bad_check_character", "unknown_list_type", "removal_before_listing", "missing_listing_date")


@dataclass(frozen=True)
class CreditList:
    list_type: str
    list_name: str
    reasons: tuple[str, ...]
    basis: str
    validity_days: int | None
    exit_share: float
    removal_reasons: tuple[str, ...]
    weight: float = 1.0


@dataclass(frozen=True)
class ListDepartment:
    code: str
    name: str
    abbreviation: str
    file_format: str  # csv_gbk | csv_utf8 | csv_utf8_bom | xlsx
    weight: float
    lists: tuple[CreditList, ...]

    @property
    def uscc(self) -> str:
        rng = random.Random(f"department:{self.code}")
        return ids.with_check_character("11130000" + ids.organisation_code(rng, modern=False))


DEPARTMENTS = (
    ListDepartment("hbdrc", "河北省发展和改革委员会", "冀发改", "csv_utf8", 1.0, (
        CreditList("守信红名单", "诚信示范企业名单",
                   ("连续三年无不良信用记录，经评审认定为省级诚信示范企业",),
                   "《河北省社会信用信息条例》第三十条", 3 * 365, 0.0, ()),
        CreditList("严重失信主体名单", "不履行信用承诺严重失信主体名单",
                   ("作出信用承诺后拒不履行，情节严重",),
                   "《河北省社会信用信息条例》第三十二条", 3 * 365, 0.2,
                   ("完成信用修复（作出信用承诺并整改）",)),
    )),
    ListDepartment("hbtax", "国家税务总局河北省税务局", "冀税", "xlsx", 2.0, (
        CreditList("守信红名单", "纳税信用A级纳税人", ("年度纳税信用评价为A级",),
                   "《纳税信用管理办法（试行）》第二十条", 365, 0.0, (), weight=2.0),
        CreditList("失信黑名单", "重大税收违法失信主体",
                   ("偷税数额100万元以上且占应纳税额10%以上", "虚开增值税专用发票"),
                   "《重大税收违法失信主体信息公布管理办法》第六条", 3 * 365, 0.3,
                   ("补缴税款、滞纳金和罚款，完成信用修复",)),
    )),
    ListDepartment("hbsamr", "河北省市场监督管理局", "冀市监", "csv_gbk", 3.0, (
        CreditList("重点关注名单", "经营异常名录",
                   ("未按照规定的期限公示年度报告", "通过登记的住所或者经营场所无法联系"),
                   "《市场主体登记管理条例实施细则》第七十条", None, 0.4,
                   ("补报年度报告并公示", "依法办理住所变更登记"), weight=3.0),
        CreditList("严重失信主体名单", "市场监督管理严重违法失信名单",
                   ("被列入经营异常名录届满3年仍未履行相关义务",),
                   "《市场监督管理严重违法失信名单管理办法》第十三条", 3 * 365, 0.1,
                   ("提前移出：已履行相关义务并完成信用修复",)),
    )),
    ListDepartment("hbrst", "河北省人力资源和社会保障厅", "冀人社", "csv_utf8_bom", 1.5, (
        CreditList("失信黑名单", "拖欠农民工工资失信联合惩戒对象名单",
                   ("克扣、无故拖欠农民工工资达到认定拒不支付劳动报酬罪数额标准",),
                   "《拖欠农民工工资失信联合惩戒对象名单管理暂行办法》第五条", 3 * 365, 0.3,
                   ("已支付拖欠工资，完成信用修复",)),
        CreditList("重点关注名单", "拖欠农民工工资重点关注名单",
                   ("拖欠农民工工资，经责令限期支付逾期未支付",),
                   "《保障农民工工资支付条例》第四十八条", 365, 0.5, ("已足额支付拖欠工资",)),
    )),
    ListDepartment("hbsthjt", "河北省生态环境厅", "冀环", "xlsx", 1.0, (
        CreditList("失信黑名单", "环境信用评价环保不良企业", ("年度环境信用评价为环保不良企业（黑牌）",),
                   "《企业环境信用评价办法（试行）》第十九条", 365, 0.1, ("整改到位，信用修复完成",)),
        CreditList("守信红名单", "环境信用评价环保诚信企业", ("年度环境信用评价为环保诚信企业（绿牌）",),
                   "《企业环境信用评价办法（试行）》第十九条", 365, 0.0, ()),
    )),
)


@dataclass(frozen=True)
class Entry:
    """One subject put on one list (regenerated identically from its night)."""

    department: ListDepartment
    credit_list: CreditList
    subject: dp.Subject
    reason: str
    document_number: str
    listed_on: date
    valid_until: date | None
    exit_night: date | None
    removal_reason: str | None


@dataclass(frozen=True)
class ListRow:
    entry: Entry
    event: str  # entry | exit
    values: dict
    file_name: str
    defect: str | None = None

    @property
    def is_accepted(self) -> bool:
        return self.defect is None


@dataclass
class ListNight:
    summary: SimulationSummary
    files: list[Path] = field(default_factory=list)
    rows: list[ListRow] = field(default_factory=list)


def entries_of(night: date, *, scale: int = 1, seed: int = 20261122) -> list[Entry]:
    """The entries delivered on `night`, with when (if ever) each leaves its list."""
    rng = random.Random(f"{SOURCE_ID}:{seed}:{night.isoformat()}:entries")
    count = ENTRIES_PER_SCALE * scale
    subjects = ledgers.extra_subjects(rng, night, seed, count, "lists")
    departments = rng.choices(DEPARTMENTS, weights=[d.weight for d in DEPARTMENTS], k=count)
    sequence: dict[str, int] = {}
    entries = []
    for dept, subject in zip(departments, subjects, strict=True):
        chosen = rng.choices(dept.lists, weights=[c.weight for c in dept.lists])[0]
        listed = dp.working_days_before(night, rng.randint(1, 5))
        sequence[dept.code] = sequence.get(dept.code, 0) + 1
        number = f"{dept.abbreviation}信认〔{listed.year}〕{night:%m%d}{sequence[dept.code]:03d}号"
        leaves = rng.random() < chosen.exit_share
        lag = rng.choice(EXIT_LAGS)
        removal = rng.choice(chosen.removal_reasons) if chosen.removal_reasons else None
        entries.append(Entry(
            dept, chosen, subject, rng.choice(chosen.reasons), number, listed,
            listed + timedelta(days=chosen.validity_days) if chosen.validity_days else None,
            night + timedelta(days=lag) if leaves and removal else None, removal))
    return entries


def _values(entry: Entry, removed_on: date | None) -> dict:
    return {
        "list_type": entry.credit_list.list_type,
        "list_name": entry.credit_list.list_name,
        "subject_name": entry.subject.name,
        "uscc": entry.subject.uscc,
        "legal_representative": entry.subject.legal_representative,
        "listing_reason": entry.reason,
        "listing_basis": entry.credit_list.basis,
        "listing_document_number": entry.document_number,
        "listed_on": entry.listed_on,
        "valid_until": entry.valid_until,
        "removed_on": removed_on,
        "removal_reason": entry.removal_reason if removed_on else None,
        "deciding_department": entry.department.name,
        "deciding_department_uscc": entry.department.uscc,
        "remark": None,
    }


def file_name(dept: ListDepartment, night: date) -> str:
    return f"{dept.code}_md_{night:%Y%m%d}.{'xlsx' if dept.file_format == 'xlsx' else 'csv'}"


def _inject_defects(rng: random.Random, rows: list[ListRow], share: float) -> tuple[list[ListRow], dict[str, int]]:
    counts = dict.fromkeys(DEFECT_KINDS, 0)
    rows = list(rows)
    chosen = rng.sample(range(len(rows)), min(len(rows), round(share * len(rows))))
    first = rng.randrange(len(DEFECT_KINDS))  # a few defects a night: every kind over the nights
    for k, i in enumerate(sorted(chosen)):
        defect = DEFECT_KINDS[(first + k) % len(DEFECT_KINDS)]
        values = dict(rows[i].values)
        if defect == "bad_check_character":
            values["uscc"] = ids.wrong_check_character(rng, values["uscc"])
        elif defect == "unknown_list_type":
            values["list_type"] = rng.choice(["灰名单", "黑名单（拟列入）", "其他名单"])
        elif defect == "removal_before_listing":
            values["removed_on"] = values["listed_on"] - timedelta(days=rng.randint(1, 60))
            values["removal_reason"] = values["removal_reason"] or "移出"
        else:
            values["listed_on"] = None
        rows[i] = ListRow(rows[i].entry, rows[i].event, values, rows[i].file_name, defect)
        counts[defect] += 1
    return rows, counts


def write_lists(logical_date: date, *, scale: int = 1, seed: int = 20261122, defect_share: float = 0.05,
                inbox: Path | None = None) -> ListNight:
    """Write the night's list files (see the module doc); returns what was written."""
    check_run(scale, defect_share)
    from credit_dw.catalog import get_source

    spec = get_source(SOURCE_ID)
    rows: list[ListRow] = []
    removed_on = dp.working_days_before(logical_date, 1)
    for entry in entries_of(logical_date, scale=scale, seed=seed):
        rows.append(ListRow(entry, "entry", _values(entry, None), file_name(entry.department, logical_date)))
    for lag in EXIT_LAGS:
        for entry in entries_of(logical_date - timedelta(days=lag), scale=scale, seed=seed):
            if entry.exit_night == logical_date:
                rows.append(ListRow(entry, "exit", _values(entry, max(removed_on, entry.listed_on)),
                                    file_name(entry.department, logical_date)))
    rng = random.Random(f"{SOURCE_ID}:{seed}:{logical_date.isoformat()}:defects")
    rows, counts = _inject_defects(rng, rows, defect_share)

    inbox = inbox or settings.inbox_dir(SOURCE_ID, logical_date.isoformat())
    inbox.mkdir(parents=True, exist_ok=True)
    fields = spec.canonical_fields
    files = []
    stamp = datetime.combine(logical_date, time(17, 30))
    for dept in DEPARTMENTS:
        for stale in inbox.glob(f"{dept.code}_md_{logical_date:%Y%m%d}.*"):
            stale.unlink()
        mine = [r for r in rows if r.entry.department == dept]
        if not mine:
            continue
        path = inbox / file_name(dept, logical_date)
        data = table_bytes(dept.file_format, [spec.fields[f] for f in fields],
                                   [[r.values.get(f) for f in fields] for r in mine],
                                   stamp=stamp, creator=dept.name, sheet="名单")
        write_atomically(path, data)
        files.append(path)
    summary = SimulationSummary.of(SOURCE_ID, logical_date, counts, inserted=sum(r.event == "entry" for r in rows),
                                   updated=sum(r.event == "exit" for r in rows))
    log.info("%s %s: %d rows (%d exits) in %d files, defects %s", SOURCE_ID, logical_date, len(rows),
             summary.rows_updated, len(files), counts)
    return ListNight(summary, sorted(files), rows)


def simulate(logical_date: date, *, scale: int = 1, seed: int = 20261122) -> SimulationSummary:
    """The catalog convention (`credit_dw.simulate.simulate_all`): the night's list files."""
    return write_lists(logical_date, scale=scale, seed=seed).summary
