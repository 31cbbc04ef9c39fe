"""`crm demo`: fill a running stack with a realistic sales organization, through the services' HTTP APIs only.

What it builds (all deterministic from `--seed`, so a rerun adds nothing):

- teams 华东 / 华南 / 华北 / 西南 with a manager and reps each (bearer tokens minted with shared.auth.mint);
- customers with Chinese company names (city + 字号 + industry + 有限公司), full cards, contacts (Chinese names);
- orders and payments over the last two years, customer value Pareto-distributed (a few big accounts carry most
  of the revenue), so the thresholds policy gives a sensible A/B/C split; payment habits from prompt to difficult;
- follow-up records (visits) with commitments of both sides, next steps and outcomes; past commitments resolved;
- complaints at every step of the workflow, some resolved and closed, some open, a few escalated.

Idempotency: customer numbers, order/payment/visit ids are derived from the seed. A customer number that exists
(409 duplicate_number) is looked up and reused; repeated order/payment ids return the existing record; repeated
visit ids too. Contacts are added only to a customer that has none. A complaint is remembered by a follow-up record
("投诉回访", deterministic visit id) filed right after it, which carries the complaint id: a rerun finds it and only
resumes the complaint's remaining transitions.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Awaitable, Callable
from zoneinfo import ZoneInfo

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from shared.auth import mint

TZ = ZoneInfo("Asia/Shanghai")

# ---------------------------------------------------------------------------------------------------------------
# Vocabulary

TEAMS: list[tuple[str, str, float, list[tuple[str, str]]]] = [
    # team id, display name, share of customers, (city, province)
    ("team-east", "华东销售部", 0.40, [("上海", "上海"), ("杭州", "浙江"), ("宁波", "浙江"), ("温州", "浙江"), ("南京", "江苏"), ("苏州", "江苏"),
                                  ("无锡", "江苏"), ("常州", "江苏"), ("合肥", "安徽"), ("济南", "山东"), ("青岛", "山东"), ("福州", "福建"), ("厦门", "福建")]),
    ("team-south", "华南销售部", 0.30, [("广州", "广东"), ("深圳", "广东"), ("东莞", "广东"), ("佛山", "广东"), ("珠海", "广东"), ("中山", "广东"),
                                   ("惠州", "广东"), ("汕头", "广东"), ("南宁", "广西"), ("海口", "海南")]),
    ("team-north", "华北销售部", 0.20, [("北京", "北京"), ("天津", "天津"), ("石家庄", "河北"), ("唐山", "河北"), ("保定", "河北"), ("廊坊", "河北"),
                                   ("太原", "山西"), ("呼和浩特", "内蒙古")]),
    ("team-west", "西南销售部", 0.10, [("成都", "四川"), ("重庆", "重庆"), ("绵阳", "四川"), ("昆明", "云南"), ("贵阳", "贵州")]),
]
NAME_HEADS = "明恒华鑫瑞宏金永天博盛佳安新汇利泰通凯德嘉正兴隆顺宇中东远益创"
NAME_TAILS = "远通信源丰达诚盛成航越和泰创晟辉祥宇鸿茂润昌发科力隆基业"
INDUSTRIES = ["机械", "电子", "化工", "建材", "纺织", "食品", "医疗器械", "物流", "新材料", "汽车配件", "五金", "塑胶", "包装",
              "环保科技", "光电", "精密制造", "电气", "农业科技", "服饰", "家具", "智能装备", "仪器仪表"]
SUFFIXES = [("有限公司", 70), ("股份有限公司", 12), ("科技有限公司", 10), ("贸易有限公司", 8)]
DISTRICTS = ["高新区", "经济技术开发区", "工业园区", "滨江区", "新区", "城东区", "城南区", "临港新城"]
ROADS = ["建设路", "人民路", "创业大道", "科技路", "工业大道", "长江路", "黄河路", "中山路", "解放路", "振兴路"]
BANKS = ["中国工商银行", "中国建设银行", "中国银行", "中国农业银行", "招商银行", "交通银行", "浦发银行", "兴业银行"]

SURNAMES = [("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"), ("黄", "huang"), ("赵", "zhao"),
            ("吴", "wu"), ("周", "zhou"), ("徐", "xu"), ("孙", "sun"), ("马", "ma"), ("朱", "zhu"), ("胡", "hu"), ("郭", "guo"),
            ("何", "he"), ("林", "lin"), ("罗", "luo"), ("高", "gao"), ("郑", "zheng"), ("梁", "liang"), ("谢", "xie"), ("宋", "song")]
GIVEN = [("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("强", "qiang"), ("磊", "lei"), ("军", "jun"),
         ("洋", "yang"), ("勇", "yong"), ("艳", "yan"), ("杰", "jie"), ("涛", "tao"), ("明", "ming"), ("超", "chao"), ("秀英", "xiuying"),
         ("建华", "jianhua"), ("志强", "zhiqiang"), ("海燕", "haiyan"), ("晓东", "xiaodong"), ("丽华", "lihua"), ("国强", "guoqiang"),
         ("文博", "wenbo"), ("子涵", "zihan"), ("浩然", "haoran"), ("雨婷", "yuting"), ("俊杰", "junjie"), ("佳怡", "jiayi")]
CONTACT_ROLES = [("董事长", "decision_maker"), ("总经理", "decision_maker"), ("副总经理", "influencer"), ("技术总监", "influencer"),
                 ("采购经理", "purchaser"), ("采购主管", "purchaser"), ("生产厂长", "user"), ("设备主管", "user"), ("财务经理", "influencer")]
INTERESTS = ["高尔夫", "钓鱼", "书法", "茶道", "羽毛球", "摄影", "登山", "围棋", "足球", "马拉松"]

VISIT_CHANNELS = [("on_site", 35), ("phone", 35), ("video", 10), ("message", 10), ("email", 5), ("exhibition", 5)]
NEEDS = ["明年产线扩产，需要评估新设备", "现有供应商交期不稳定，考虑更换", "希望降低单位采购成本", "新项目需要定制化方案",
         "库存周转压力大，希望小批量多批次供货", "对产品质量一致性要求提高"]
OBJECTIONS = ["价格比竞争对手高约5%", "付款账期希望延长到90天", "担心售后响应速度", "需要先小批量试用", "对交货周期有顾虑"]
CUSTOMER_PROMISES = ["提供年度采购计划", "安排技术部门评估样品", "确认试用订单数量", "反馈竞品报价", "安排总经理会面"]
OUR_PROMISES = ["提交正式报价单", "寄送样品", "安排技术工程师上门", "提供成功案例资料", "申请特殊价格审批"]
NEXT_STEPS = ["电话确认样品评估结果", "上门拜访并演示方案", "跟进报价审批进度", "邀请参观工厂", "发送产品更新资料"]

COMPLAINT_CONTENT = [
    ("product_defect", "第三批货物中有部分产品尺寸超差，影响客户装配", "退换不合格品并承担返工费用"),
    ("logistics_supply", "交货比约定晚了一周，导致客户生产线停工两天", "补偿停工损失，保证后续交期"),
    ("promise_not_kept", "销售承诺的技术支持迟迟没有安排", "尽快安排工程师上门"),
    ("our_explanation", "发票金额与合同不符，客户财务无法入账", "重新开具发票"),
    ("attitude", "客服电话多次无人接听，客户很不满意", "指定专人对接"),
    ("customer_mistake", "客户按错误参数安装导致设备报警", "远程指导重新调试"),
]
# Where each complaint ends (weights), and the path that leads there.
COMPLAINT_TARGETS = [("closed", 40), ("resolved", 15), ("executing", 8), ("communicated", 7), ("solution_proposed", 7),
                     ("analyzing", 10), ("received", 6), ("escalated", 7)]
COMPLAINT_PATH = ["received", "analyzing", "solution_proposed", "communicated", "executing", "resolved", "closed"]
PAYMENT_ATTITUDES = [("prompt", 40), ("normal", 30), ("acceptable", 15), ("delayed", 10), ("difficult", 5)]
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def weighted(rng: random.Random, choices: list[tuple[Any, int]]) -> Any:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def money(value: float | Decimal) -> str:
    return str(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def iso(moment: datetime) -> str:
    return moment.astimezone(TZ).isoformat()


def person(rng: random.Random) -> tuple[str, str]:
    surname, s_py = rng.choice(SURNAMES)
    given, g_py = rng.choice(GIVEN)
    return surname + given, f"{g_py}.{s_py}"


def mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3578')}{rng.randint(0, 9)}-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}"


# ---------------------------------------------------------------------------------------------------------------
# The plan: everything the demo will send, computed before any request


@dataclass
class Rep:
    rep_id: str
    name: str
    team_id: str
    role: str = "rep"


@dataclass
class OrderPlan:
    order_id: str
    amount: Decimal
    cost: Decimal
    placed_at: datetime
    payment_due: date
    payments: list[tuple[str, Decimal, datetime]]


@dataclass
class VisitPlan:
    visit_id: str
    body: dict[str, Any]
    resolutions: list[str | None]  # per commitment: kept / broken / None (still open)


@dataclass
class ComplaintPlan:
    marker_visit_id: str
    target: str
    body: dict[str, Any]
    cause: str
    remedy: str
    received_at: datetime


@dataclass
class CustomerPlan:
    index: int
    number: str
    card: dict[str, Any]
    contacts: list[dict[str, Any]]
    orders: list[OrderPlan]
    visits: list[VisitPlan]
    complaints: list[ComplaintPlan]
    customer_id: str | None = None

    @property
    def owner(self) -> str:
        return self.card["owner_rep_id"]

    @property
    def team(self) -> str:
        return self.card["team_id"]


@dataclass
class Organization:
    reps: dict[str, list[Rep]]  # team -> reps
    managers: dict[str, Rep]  # team -> manager
    customers: list[CustomerPlan]


def organization(n_customers: int, seed: int, *, today: date) -> Organization:
    """The whole demo data set, deterministic in (n_customers, seed, today)."""
    org_rng = random.Random(f"crm-demo:{seed}:org")
    reps: dict[str, list[Rep]] = {}
    managers: dict[str, Rep] = {}
    for team_id, _, share, _ in TEAMS:
        short = team_id.removeprefix("team-")
        count = max(2, math.ceil(n_customers * share / 60))  # about 60 accounts a rep
        reps[team_id] = [Rep(f"rep-{short}-{k:02d}", person(org_rng)[0], team_id) for k in range(1, count + 1)]
        managers[team_id] = Rep(f"mgr-{short}", person(org_rng)[0], team_id, role="manager")
    names: set[str] = set()
    plans = [customer_plan(i, seed, today=today, reps=reps, taken=names) for i in range(1, n_customers + 1)]
    return Organization(reps, managers, plans)


def customer_plan(i: int, seed: int, *, today: date, reps: dict[str, list[Rep]], taken: set[str]) -> CustomerPlan:
    rng = random.Random(f"crm-demo:{seed}:customer:{i}")  # one customer's data does not depend on the others
    team_id, _, _, cities = rng.choices(TEAMS, weights=[t[2] for t in TEAMS])[0]
    city, province = rng.choice(cities)
    industry = rng.choice(INDUSTRIES)
    while True:
        suffix = weighted(rng, SUFFIXES)
        if industry.endswith("科技") and suffix == "科技有限公司":
            suffix = "有限公司"
        name = f"{city}{rng.choice(NAME_HEADS)}{rng.choice(NAME_TAILS)}{industry}{suffix}"
        if name not in taken:
            taken.add(name)
            break
    number = f"DEMO{seed}-{i:05d}"
    owner = rng.choice(reps[team_id])
    now = datetime.combine(today, time(0), TZ)  # the anchor: start of today, never in the future, same all day

    # Value: Pareto (alpha ~1.16, the 80/20 rule) annual purchases; some prospects have bought nothing yet,
    # some customers were lost more than a year ago.
    kind = weighted(rng, [("prospect", 12), ("lost", 8), ("active", 80)])
    annual = min(25_000_000.0, 140_000.0 * rng.paretovariate(1.16))
    strategic = kind == "active" and rng.random() < 0.02
    potential = weighted(rng, [("low", 30), ("medium", 50), ("high", 20)])
    high_potential = kind != "lost" and potential == "high" and rng.random() < 0.08
    attitude = weighted(rng, PAYMENT_ATTITUDES)

    orders: list[OrderPlan] = []
    if kind != "prospect":
        # first trade within the last two years, or earlier (then orders start two years back)
        start_days = rng.randint(60, 715) if rng.random() < 0.35 else 715
        end_days = rng.randint(380, 700) if kind == "lost" else 0
        if end_days >= start_days:
            end_days = max(0, start_days - 30)
        ticket = rng.lognormvariate(math.log(90_000), 0.6)
        span_years = (start_days - end_days) / 365
        total = annual * max(span_years, 0.15)
        count = max(1, min(30, round(total / ticket)))
        weights = [rng.random() + 0.2 for _ in range(count)]
        scale = total / sum(weights)
        margin_base = rng.uniform(0.12, 0.35)
        for k in range(count):
            placed = now - timedelta(days=rng.uniform(end_days, start_days), minutes=rng.randint(0, 600))
            amount = Decimal(money(max(800.0, weights[k] * scale)))
            cost = Decimal(money(float(amount) * (1 - max(0.03, rng.gauss(margin_base, 0.05)))))
            terms = rng.choice([30, 30, 45, 60, 90])
            due = (placed + timedelta(days=terms)).date()
            orders.append(OrderPlan(f"{number}-SO{k + 1:03d}", amount, cost, placed, due, []))
        orders.sort(key=lambda o: o.placed_at)
        for k, o in enumerate(orders):  # renumber in time order
            o.order_id = f"{number}-SO{k + 1:03d}"
            delay = {"prompt": (-10, 0), "normal": (-5, 5), "acceptable": (0, 15), "delayed": (5, 45), "difficult": (20, 120)}[attitude]
            paid_at = datetime.combine(o.payment_due, time(rng.randint(9, 17), rng.randint(0, 59)), TZ) + timedelta(days=rng.randint(*delay))
            paid_at = max(paid_at, o.placed_at + timedelta(days=1))
            unpaid = paid_at > now - timedelta(hours=1) or (attitude == "difficult" and rng.random() < 0.15)
            if unpaid:
                continue
            if o.amount > 50_000 and rng.random() < 0.3:  # paid in two instalments
                first = Decimal(money(float(o.amount) * rng.choice([0.3, 0.5])))
                early = o.placed_at + (paid_at - o.placed_at) / 3
                o.payments = [(f"{o.order_id}-P1", first, early), (f"{o.order_id}-P2", o.amount - first, paid_at)]
            else:
                o.payments = [(f"{o.order_id}-P1", o.amount, paid_at)]

    last_order = orders[-1].placed_at if orders else None
    first_order = orders[0].placed_at if orders else None
    if not orders:
        lifecycle = "prospect"
    elif last_order < now - timedelta(days=365):
        lifecycle = "lost"
    elif first_order > now - timedelta(days=180):
        lifecycle = "new"
    else:
        lifecycle = "existing"

    founded = date(rng.randint(1993, 2021), rng.randint(1, 12), rng.randint(1, 28))
    employees = int(min(20000, max(8, annual / rng.uniform(8000, 40000))))
    credit_limit = Decimal(money(round(annual / 12 * {"prompt": 2, "normal": 1.5, "acceptable": 1, "delayed": 0.5, "difficult": 0.2}[attitude], -4) or 10000))
    approver = ("general_manager" if credit_limit >= 2_000_000 else "sales_vp" if credit_limit >= 500_000
                else "sales_manager" if credit_limit >= 100_000 else "office_head")
    code = "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(16))
    card: dict[str, Any] = {
        "number": number,
        "name": name,
        "owner_rep_id": owner.rep_id,
        "team_id": team_id,
        "strategic_partner": strategic,
        "high_potential": high_potential,
        "lifecycle": lifecycle,
        "phone": f"0{rng.randint(10, 999)}-{rng.randint(6000000, 89999999)}",
        "address": f"{city}市{rng.choice(DISTRICTS)}{rng.choice(ROADS)}{rng.randint(1, 999)}号",
        "region": province,
        "basic": {
            "legal_form": weighted(rng, [("joint_stock", 35), ("state_owned", 10), ("collective", 5), ("partnership", 10), ("individual", 10), ("other", 30)]),
            "channel_category": weighted(rng, [("end_customer", 45), ("agent", 15), ("wholesaler_tier1", 12), ("wholesaler_tier2", 12), ("key_retailer", 10), ("other", 6)]),
            "registration_no": f"91{code}",
            "tax_id": f"91{code}",
            "bank": f"{rng.choice(BANKS)}{city}分行",
            "bank_account": f"{rng.randint(6000, 6299)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
            "registered_capital": money(rng.choice([100, 200, 500, 1000, 2000, 5000, 10000]) * 10_000),
            "founded_on": founded.isoformat(),
            "first_trade_on": first_order.date().isoformat() if first_order else None,
            "developed_by": owner.rep_id if first_order else None,
        },
        "characteristics": {
            "service_region": f"{province}及周边",
            "growth_potential": potential,
            "employees": employees,
            "annual_revenue": money(round(annual * rng.uniform(8, 30), -4)),
            "transport_mode": rng.choice(["公路", "公路+铁路", "自提", "物流专线"]),
            "payment_method": rng.choice(["银行转账", "银行承兑汇票", "商业承兑汇票"]),
        },
        "classification": {
            "trade_stage": {"prospect": "upcoming", "lost": "past"}.get(lifecycle, "current"),
            "nature": weighted(rng, [("ordinary_company", 80), ("trade_partner", 10), ("special_partner", 4), ("government", 3), ("individual", 3)]),
            "volume": "key" if annual >= 1_000_000 else "general" if annual >= 300_000 else "occasional",
        },
        "credit": {
            "payment_attitude": attitude,
            "bank_rating": rng.choice(["AAA", "AA", "A", "BBB"]),
            "credit_limit": money(credit_limit),
            "limit_approver": approver,
            "limit_approved_by": f"mgr-{team_id.removeprefix('team-')}" if approver in ("office_head", "sales_manager") else "vp-sales",
            "limit_approved_on": (today - timedelta(days=rng.randint(30, 400))).isoformat(),
        },
    }

    contacts = []
    for _ in range(rng.choice([1, 2, 2, 3, 3, 4])):
        cname, handle = person(rng)
        title, role = rng.choice(CONTACT_ROLES)
        contact = {"name": cname, "title": title, "phone": mobile(rng), "decision_role": role,
                   "email": f"{handle}{rng.randint(1, 99)}@demo-{number.lower()}.com.cn"}
        if rng.random() < 0.4:
            contact["birthday"] = date(rng.randint(1962, 1995), rng.randint(1, 12), rng.randint(1, 28)).isoformat()
        if rng.random() < 0.5:
            contact["interests"] = rng.choice(INTERESTS)
        contacts.append(contact)

    visits = visit_plans(rng, number=number, owner=owner.rep_id, contacts=contacts, orders=orders, kind=kind, now=now)
    complaints = []
    if orders and rng.random() < 0.09:
        for k in range(1 if rng.random() < 0.8 else 2):
            cause, content, remedy = rng.choice(COMPLAINT_CONTENT)
            target = weighted(rng, COMPLAINT_TARGETS)
            received = now - timedelta(hours=rng.uniform(2, 24 * (3 if target in ("received", "analyzing") else 8)))
            complainant, _ = person(rng)
            body = {
                "received_at": iso(received), "complainant": {"name": complainant, "role": rng.choice(["采购经理", "生产厂长", "总经理"])},
                "contact": mobile(rng), "channel": weighted(rng, [("phone", 50), ("email", 15), ("visit", 15), ("message", 15), ("web", 5)]),
                "content": content, "summary": content[:40], "order_id": rng.choice(orders).order_id, "requested_remedy": remedy,
                "handler_id": owner.rep_id,
            }
            complaints.append(ComplaintPlan(f"{number}-C{k + 1}", target, body, cause, remedy, received))
    return CustomerPlan(i, number, card, contacts, orders, visits, complaints)


def visit_plans(rng: random.Random, *, number: str, owner: str, contacts: list[dict], orders: list[OrderPlan], kind: str, now: datetime) -> list[VisitPlan]:
    if orders:
        first = orders[0].placed_at - timedelta(days=rng.randint(7, 40))
        last = min(now - timedelta(hours=3), orders[-1].placed_at + timedelta(days=rng.randint(5, 90)))
    else:
        first = now - timedelta(days=rng.randint(5, 200))
        last = now - timedelta(hours=3)
    count = 1 if last <= first else rng.choice([1, 2, 3, 3, 4, 5])
    moments = sorted([first] + [first + (last - first) * rng.random() for _ in range(count - 1)])
    plans = []
    for k, started in enumerate(moments, start=1):
        started = started.replace(minute=rng.choice([0, 15, 30, 45]), second=0, microsecond=0)
        contact = rng.choice(contacts)
        if kind == "prospect":
            outcome = weighted(rng, [("interested", 40), ("undecided", 35), ("not_now", 25)])
        elif kind == "lost" and k == len(moments):
            outcome = "lost"
        elif orders and any(o.placed_at > started for o in orders) and rng.random() < 0.5:
            outcome = "won"
        else:
            outcome = weighted(rng, [("interested", 50), ("undecided", 30), ("not_now", 20)])
        commitments, resolutions = [], []
        for _ in range(rng.choice([0, 1, 1, 2])):
            party = rng.choice(["customer", "us"])
            due = started + timedelta(days=rng.randint(2, 14))
            commitments.append({"party": party, "content": rng.choice(CUSTOMER_PROMISES if party == "customer" else OUR_PROMISES), "due_at": iso(due)})
            resolutions.append(None if due > now else ("kept" if rng.random() < 0.85 else "broken"))
        body: dict[str, Any] = {
            "visit_id": f"{number}-V{k}",
            "contact_name": contact["name"], "contact_title": contact["title"],
            "channel": weighted(rng, VISIT_CHANNELS),
            "started_at": iso(started), "ended_at": iso(started + timedelta(minutes=rng.choice([15, 30, 45, 60, 90]))),
            "needs": {"description": rng.choice(NEEDS)},
            "objections": rng.sample(OBJECTIONS, rng.randint(0, 2)),
            "commitments": commitments,
            "outcome": outcome,
        }
        if outcome in ("interested", "undecided"):
            body["next_step"] = {"owner_rep_id": owner, "due_at": iso(started + timedelta(days=rng.randint(3, 10))), "content": rng.choice(NEXT_STEPS)}
        if rng.random() < 0.15:
            body["help_needed"] = [{"department": rng.choice(["technical", "logistics", "finance"]), "request": "请协助评估客户的特殊需求"}]
        plans.append(VisitPlan(body["visit_id"], body, resolutions))
    return plans


# ---------------------------------------------------------------------------------------------------------------
# Running it


@dataclass
class Urls:
    customers: str = "http://127.0.0.1:8001"
    grading: str = "http://127.0.0.1:8002"
    complaints: str = "http://127.0.0.1:8003"
    notifier: str = "http://127.0.0.1:8004"


@dataclass
class Stats:
    created: Counter = field(default_factory=Counter)
    existing: Counter = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)
    tiers: dict[str, int] = field(default_factory=dict)
    planned: Counter = field(default_factory=Counter)
    graded: bool = False

    def note(self, kind: str, created: bool) -> None:
        (self.created if created else self.existing)[kind] += 1


class DemoError(RuntimeError):
    pass


class Api:
    """Bounded concurrency, retries of transient errors (connection, 5xx, 503 not ready)."""

    def __init__(self, client: httpx.AsyncClient, concurrency: int) -> None:
        self.client = client
        self.gate = asyncio.Semaphore(concurrency)
        self.tokens: dict[tuple[str, str, str | None], str] = {}

    def headers(self, user: str, role: str, team: str | None = None) -> dict[str, str]:
        key = (user, role, team)
        if key not in self.tokens:
            self.tokens[key] = mint(user, role, team, ttl=12 * 3600)  # type: ignore[arg-type]
        return {"Authorization": f"Bearer {self.tokens[key]}"}

    async def call(self, method: str, url: str, *, as_: dict[str, str], json: Any = None, params: dict | None = None,
                   retry_on: Callable[[httpx.Response], bool] = lambda r: False, patience: float = 0) -> httpx.Response:
        """`retry_on` (with `patience` seconds) waits for eventual consistency, e.g. a customer not yet known downstream."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + patience
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self.gate:
                    response = await self.client.request(method, url, headers=as_, json=json, params=params)
            except httpx.TransportError as exc:
                if attempt >= 6:
                    raise DemoError(f"{method} {url}: {exc!r}") from exc
                await asyncio.sleep(0.3 * 2**attempt)
                continue
            if response.status_code >= 500 and attempt < 6:
                await asyncio.sleep(0.3 * 2**attempt)
                continue
            if retry_on(response) and loop.time() < deadline:
                await asyncio.sleep(min(2.0, 0.2 * attempt))
                continue
            return response


def expect(response: httpx.Response, *ok: int) -> httpx.Response:
    if response.status_code not in ok:
        raise DemoError(f"{response.request.method} {response.request.url.path} -> {response.status_code}: {response.text[:300]}")
    return response


class Demo:
    def __init__(self, org: Organization, urls: Urls, api: Api, stats: Stats, *, patience: float) -> None:
        self.org, self.urls, self.api, self.stats, self.patience = org, urls, api, stats, patience

    def admin(self) -> dict[str, str]:
        return self.api.headers("demo-admin", "admin")

    def rep(self, plan: CustomerPlan) -> dict[str, str]:
        return self.api.headers(plan.owner, "rep", plan.team)

    def manager(self, plan: CustomerPlan) -> dict[str, str]:
        return self.api.headers(self.org.managers[plan.team].rep_id, "manager", plan.team)

    async def known_numbers(self, prefix: str) -> dict[str, str]:
        """number -> customer_id for the demo's customers already in the archive (keyset pages)."""
        found: dict[str, str] = {}
        cursor = None
        while True:
            params = {"q": prefix, "limit": 200, **({"cursor": cursor} if cursor else {})}
            page = expect(await self.api.call("GET", f"{self.urls.customers}/customers", as_=self.admin(), params=params), 200).json()
            found.update({c["number"]: c["customer_id"] for c in page["items"] if c["number"].startswith(prefix)})
            cursor = page["next_cursor"]
            if not cursor:
                return found

    async def customer(self, plan: CustomerPlan, known: dict[str, str]) -> None:
        """The card, contacts, orders and payments, visits and their commitments of one customer."""
        base = self.urls.customers
        if plan.number in known:
            plan.customer_id = known[plan.number]
            self.stats.note("customers", False)
        else:
            r = await self.api.call("POST", f"{base}/customers", as_=self.manager(plan), json=plan.card)
            if r.status_code == 409:  # created by an earlier run that we did not list (race): look it up
                page = expect(await self.api.call("GET", f"{base}/customers", as_=self.admin(), params={"q": plan.number}), 200).json()
                plan.customer_id = next(c["customer_id"] for c in page["items"] if c["number"] == plan.number)
                self.stats.note("customers", False)
            else:
                plan.customer_id = expect(r, 201).json()["customer_id"]
                self.stats.note("customers", True)
        cid, rep = plan.customer_id, self.rep(plan)

        existing_contacts = [] if plan.number not in known else expect(
            await self.api.call("GET", f"{base}/customers/{cid}/contacts", as_=rep), 200).json()
        if existing_contacts:
            self.stats.existing["contacts"] += len(existing_contacts)
        else:
            for contact in plan.contacts:
                expect(await self.api.call("POST", f"{base}/customers/{cid}/contacts", as_=rep, json=contact), 201)
                self.stats.created["contacts"] += 1

        async def order(o: OrderPlan) -> None:
            body = {"order_id": o.order_id, "customer_id": cid, "amount": money(o.amount), "cost": money(o.cost),
                    "placed_at": iso(o.placed_at), "payment_due": o.payment_due.isoformat()}
            r = await self.api.call("POST", f"{base}/orders", as_=rep, json=body)
            self.stats.note("orders", expect(r, 201, 200, 409).status_code == 201)  # 409: same id, other dates (older run)
            for payment_id, amount, paid_at in o.payments:
                body = {"payment_id": payment_id, "order_id": o.order_id, "customer_id": cid, "amount": money(amount), "paid_at": iso(paid_at)}
                r = await self.api.call("POST", f"{base}/payments", as_=rep, json=body)
                self.stats.note("payments", expect(r, 201, 200, 409).status_code == 201)

        await asyncio.gather(*(order(o) for o in plan.orders))
        for v in plan.visits:  # in time order: the first one is the first visit
            r = expect(await self.api.call("POST", f"{base}/customers/{cid}/visits", as_=rep, json=v.body), 201, 200)
            self.stats.note("visits", r.status_code == 201)
            for commitment_id, resolution in zip(r.json().get("commitment_ids", []), v.resolutions):
                if resolution:
                    rr = await self.api.call("POST", f"{base}/customers/{cid}/commitments/{commitment_id}/resolution", as_=rep,
                                             json={"status": resolution})
                    self.stats.note("commitment resolutions", expect(rr, 200, 409).status_code == 200)

    async def complaint(self, plan: CustomerPlan, c: ComplaintPlan) -> None:
        """File (unless the marker record says it was), then move it to its target status."""
        cid, rep = plan.customer_id, self.rep(plan)
        curl = self.urls.complaints
        visits = expect(await self.api.call("GET", f"{self.urls.customers}/customers/{cid}/visits", as_=rep), 200).json()
        marker = next((v for v in visits if v["visit_id"] == c.marker_visit_id), None)
        complaint_id = None
        if marker is not None and (m := UUID_RE.search(marker["needs"]["description"])):
            complaint_id = m.group(0)
            self.stats.note("complaints", False)
        else:
            body = {**c.body, "customer_id": cid}
            r = await self.api.call("POST", f"{curl}/complaints", as_=self.manager(plan), json=body, patience=self.patience,
                                    retry_on=lambda r: r.status_code == 422 and "unknown_customer" in r.text)
            complaint_id = expect(r, 201).json()["complaint_id"]
            self.stats.note("complaints", True)
            record = {
                "visit_id": c.marker_visit_id, "contact_name": c.body["complainant"]["name"], "channel": "phone",
                "started_at": iso(max(c.received_at, datetime.now(timezone.utc) - timedelta(hours=1))),
                "needs": {"description": f"投诉回访（投诉编号 {complaint_id}）：{c.body['content']}"},
                "outcome": "interested",
            }
            expect(await self.api.call("POST", f"{self.urls.customers}/customers/{cid}/visits", as_=rep, json=record), 201, 200)
        current = expect(await self.api.call("GET", f"{curl}/complaints/{complaint_id}", as_=rep), 200).json()["status"]
        if current == "escalated" or current == c.target:
            return
        path = COMPLAINT_PATH[: COMPLAINT_PATH.index("analyzing") + 1] if c.target == "escalated" else COMPLAINT_PATH[: COMPLAINT_PATH.index(c.target) + 1]
        if current not in path:
            return
        steps = path[path.index(current) + 1:] + (["escalated"] if c.target == "escalated" else [])
        for to in steps:
            body: dict[str, Any] = {"to": to}
            if to == "analyzing":
                body["cause"] = {"category": c.cause, "analysis": "已与客户及生产部门核实原因"}
            elif to == "solution_proposed":
                body["plan"] = {"actions": [{"content": c.remedy, "owner_id": plan.owner}, {"content": "三日内回访确认客户满意度"}],
                                "compensation": "2000.00" if c.cause in ("product_defect", "logistics_supply") else "0.00",
                                "compensation_kind": "代金券" if c.cause in ("product_defect", "logistics_supply") else None}
            elif to == "executing":
                body["feedback"] = {"accepted": True, "satisfaction": 4}
            elif to == "resolved":
                body["improvement_measures"] = "完善出厂检验和交期预警，纳入月度质量例会跟踪"
            elif to == "escalated":
                body["department"] = "quality-dept"
                body["note"] = "超出处理权限，转质量部"
            expect(await self.api.call("POST", f"{curl}/complaints/{complaint_id}/transitions", as_=rep, json=body), 200)
            self.stats.created["complaint transitions"] += 1

    async def graded(self, progress: Progress) -> None:
        """Wait until grading has every demo order, recompute as admin, then read the tier distribution."""
        ids = {p.customer_id for p in self.org.customers}
        expected = sum(len(p.orders) for p in self.org.customers)
        task = progress.add_task("grading catches up (orders)", total=expected)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.patience
        while True:
            seen = sum(c["order_count"] for c in await self.report() if c["customer_id"] in ids)
            progress.update(task, completed=min(seen, expected))
            if seen >= expected or loop.time() > deadline:
                break
            await asyncio.sleep(1)
        self.stats.graded = seen >= expected
        r = await self.api.call("POST", f"{self.urls.grading}/recompute", as_=self.admin(), retry_on=lambda r: r.status_code == 409, patience=60)
        expect(r, 200)
        self.stats.tiers = dict(Counter(c["tier"] or "-" for c in await self.report() if c["customer_id"] in ids))

    async def report(self) -> list[dict[str, Any]]:
        """Every customer row of grading's report (pages of 10,000)."""
        rows: list[dict[str, Any]] = []
        while True:
            params = {"limit": 10_000, "offset": len(rows)}
            page = expect(await self.api.call("GET", f"{self.urls.grading}/report", as_=self.admin(), params=params), 200).json()
            rows.extend(page["customers"])
            if len(page["customers"]) < 10_000:
                return rows


async def run(*, customers: int = 2000, seed: int = 7, urls: Urls | None = None, concurrency: int = 16, patience: float = 180,
              console: Console | None = None, today: date | None = None) -> Stats:
    """Fill the stack at `urls`; returns what was created and what was already there."""
    urls = urls or Urls()
    console = console or Console()
    today = today or datetime.now(TZ).date()
    org = organization(customers, seed, today=today)
    stats = Stats()
    stats.planned.update(customers=len(org.customers), orders=sum(len(p.orders) for p in org.customers),
                         payments=sum(len(o.payments) for p in org.customers for o in p.orders),
                         visits=sum(len(p.visits) for p in org.customers), complaints=sum(len(p.complaints) for p in org.customers))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        api = Api(client, concurrency)
        for name, url in vars(urls).items():
            try:
                expect(await client.get(f"{url}/ready"), 200)
            except (httpx.HTTPError, DemoError) as exc:
                raise DemoError(f"{name} is not ready at {url} ({exc}); start the stack with `./crm up`") from exc
        demo = Demo(org, urls, api, stats, patience=patience)
        columns = (SpinnerColumn(), TextColumn("{task.description:<34}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=False) as progress:
            known = await demo.known_numbers(f"DEMO{seed}-")
            task = progress.add_task("customers, contacts, orders, visits", total=len(org.customers))
            await guarded(demo.customer, [(p, known) for p in org.customers], stats, progress, task)
            await demo.graded(progress)  # first, so complaints are filed with the customers' tiers
            complaints = [(p, c) for p in org.customers if p.customer_id for c in p.complaints]
            task = progress.add_task("complaints through the workflow", total=len(complaints))
            await guarded(demo.complaint, complaints, stats, progress, task)
    return stats


async def guarded(work: Callable[..., Awaitable[None]], items: list[tuple], stats: Stats, progress: Progress, task: Any) -> None:
    """Run every item (concurrency is bounded by the Api gate); a failing item is recorded, the others go on."""

    async def one(args: tuple) -> None:
        try:
            await work(*args)
        except DemoError as exc:
            stats.failed.append(str(exc))
        finally:
            progress.advance(task)

    await asyncio.gather(*(one(a) for a in items))


def summary(stats: Stats, org_size: int, console: Console) -> None:
    table = Table(title="Demo data", show_lines=False)
    table.add_column("")
    table.add_column("planned", justify="right")
    table.add_column("created now", justify="right")
    table.add_column("already there", justify="right")
    for kind in ("customers", "contacts", "orders", "payments", "visits", "commitment resolutions", "complaints", "complaint transitions"):
        planned = stats.planned.get(kind)
        table.add_row(kind, "" if planned is None else str(planned), str(stats.created[kind]), str(stats.existing[kind]))
    console.print(table)
    total = sum(stats.tiers.values()) or 1
    tiers = "  ".join(f"{t}: {n} ({n / total:.0%})" for t, n in sorted(stats.tiers.items()))
    console.print(f"Tier distribution (grading /report after /recompute): {tiers or 'none yet'}")
    if not stats.graded:
        console.print("[yellow]grading had not seen every order yet; the distribution may still move[/yellow]")
    if stats.failed:
        console.print(f"[red]{len(stats.failed)} items failed[/red]; first: {stats.failed[0]}")
