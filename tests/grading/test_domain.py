"""The grading rules of domain.md §3, one test per rule."""

from datetime import datetime, timezone
from decimal import Decimal

from services.grading import domain
from services.grading.domain import Cutoffs, Flags, Grade, Metrics
from services.grading.policy import RanksPolicy, ScorePolicy, ScoreRules, SubjectivePolicy, ThresholdsPolicy

RULES = ScoreRules()


def m(**kw) -> Metrics:
    return Metrics(**{k: Decimal(v) if isinstance(v, str) else v for k, v in kw.items()})


def test_thresholds_of_the_handbook_table():
    p = ThresholdsPolicy()
    assert domain.by_thresholds(p, m(purchases_12m="1000000.00"), Flags()).tier == "A"
    assert domain.by_thresholds(p, m(purchases_12m="999999.99"), Flags()).tier == "B"
    assert domain.by_thresholds(p, m(purchases_12m="300000.00"), Flags()).tier == "B"
    assert domain.by_thresholds(p, m(purchases_12m="299999.99"), Flags()).tier == "C"
    assert domain.by_thresholds(p, m(purchases_12m="1500000.00"), Flags()).reason == "purchases_12m 1500000.00 >= A threshold 1000000.00"


def test_strategic_partner_or_high_potential_lifts_to_a_unless_disabled():
    assert domain.by_thresholds(ThresholdsPolicy(), m(), Flags(strategic_partner=True)) == Grade("A", "strategic partner lifts to A")
    assert domain.by_thresholds(ThresholdsPolicy(), m(), Flags(high_potential=True)).tier == "A"
    assert domain.by_thresholds(ThresholdsPolicy(flags_lift_to_a=False), m(), Flags(strategic_partner=True)).tier == "C"


def test_score_weights_credit_10_amount_30_profit_60():
    full = m(purchases_12m="1000000.00", profit_12m="300000.00", on_time_ratio=1.0, avg_days_late=0.0)
    assert domain.score(full, RULES) == 100
    assert domain.score(m(purchases_12m="500000.00"), RULES) == 0.5 * 10 + 15  # no payment history: credit 0.5
    assert domain.score(m(profit_12m="150000.00", on_time_ratio=1.0), RULES) == 10 + 30
    assert domain.score(m(profit_12m="-5000.00", on_time_ratio=1.0), RULES) == 10  # a loss earns no profit points
    assert domain.score(m(purchases_12m="9000000.00", on_time_ratio=1.0), RULES) == 40  # capped at full marks


def test_credit_rating_averages_on_time_ratio_and_lateness():
    assert domain.credit_rating(m(on_time_ratio=0.5, avg_days_late=15.0), RULES) == (0.5 + 0.5) / 2
    assert domain.credit_rating(m(on_time_ratio=0.0, avg_days_late=90.0), RULES) == 0
    assert domain.credit_rating(m(), RULES) == RULES.credit_without_history


def test_score_policy_cuts():
    assert domain.by_score(ScorePolicy(), 70, Flags()).tier == "A"
    assert domain.by_score(ScorePolicy(), 69.99, Flags()).tier == "B"
    assert domain.by_score(ScorePolicy(), 39.99, Flags()).tier == "C"


def test_rank_ratios_top_20_percent_a_next_30_percent_b():
    p = RanksPolicy(rank_by="purchases_12m")
    values = [float(v) for v in range(10, 0, -1)]  # 10 customers
    cut = domain.rank_cutoffs(p, values)
    assert cut == Cutoffs(9.0, 6.0)
    tiers = [domain.by_rank(p, v, cut, Flags()).tier for v in values]
    assert tiers == ["A"] * 2 + ["B"] * 3 + ["C"] * 5


def test_nothing_bought_is_never_ranked_above_c():
    p = RanksPolicy(rank_by="purchases_12m")
    cut = domain.rank_cutoffs(p, [5.0] + [0.0] * 9)
    assert domain.by_rank(p, 0.0, cut, Flags()).tier == "C"
    assert domain.by_rank(p, 5.0, cut, Flags()).tier == "A"


def test_subjective_policy_and_default():
    assert domain.by_subjective(SubjectivePolicy(), "B").tier == "B"
    assert domain.by_subjective(SubjectivePolicy(default_tier="C"), None).tier == "C"


def test_override_wins_and_subjective_applies_only_without_history():
    computed = Grade("C", "x")
    until = datetime(2026, 12, 1, tzinfo=timezone.utc)
    grade, overridden = domain.effective(computed, override=("A", "key account", until), subjective="B", order_count=0, subjective_for_new=True)
    assert (grade.tier, overridden) == ("A", True) and grade.reason == "override until 2026-12-01T00:00:00Z: key account"
    assert domain.effective(computed, override=None, subjective="B", order_count=0, subjective_for_new=True)[0].tier == "B"
    assert domain.effective(computed, override=None, subjective="B", order_count=3, subjective_for_new=True)[0].tier == "C"
