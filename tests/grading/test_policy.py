"""The [grading] policy section: defaults of the handbook, per-unit choice, and errors that name the key."""

from pathlib import Path

import pytest

from services.grading.policy import GradingPolicy, RanksPolicy, ThresholdsPolicy, load
from shared.policy import PolicyError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_the_handbook(monkeypatch, tmp_path):
    monkeypatch.setenv("CRM_POLICY_FILE", str(write(tmp_path, "")))
    policy = load()
    assert policy.default_policy == "thresholds"
    assert policy.policies["thresholds"] == ThresholdsPolicy(a_min=1_000_000, b_min=300_000)
    assert (policy.policies["ranks"].a_share, policy.policies["ranks"].b_share) == (0.2, 0.3)
    assert (policy.score.credit_weight, policy.score.amount_weight, policy.score.profit_weight) == (10, 30, 60)


def test_the_project_policy_file_loads():
    load()


def test_a_business_unit_picks_its_policy(monkeypatch, tmp_path):
    monkeypatch.setenv("CRM_POLICY_FILE", str(write(tmp_path, """
[grading]
default_policy = "thresholds"
team_units = { team-east = "east", team-north = "east" }
units = { east = "pareto" }
[grading.policies.pareto]
kind = "ranks"
rank_by = "purchases_12m"
a_share = 0.1
""")))
    policy = load()
    assert policy.policy_name_of(policy.unit_of("team-north")) == "pareto"
    assert policy.policy_name_of(policy.unit_of("team-west")) == "thresholds"
    assert policy.policies["pareto"] == RanksPolicy(rank_by="purchases_12m", a_share=0.1)
    assert "score" in policy.policies  # built-ins stay


@pytest.mark.parametrize(
    "text, key",
    [
        ('[grading.policies.thresholds]\nkind = "thresholds"\na_min = "lots"', "grading.policies.thresholds.thresholds.a_min"),
        ('[grading]\nunits = { east = "nope" }', "units.east"),
        ('[grading]\ndefault_policy = "nope"', "default_policy"),
        ('[grading.score]\ncredit_weight = 50', "grading.score"),
        ('[grading]\nrecompute_every = "1 hour"', "grading.recompute_every"),
        ('[grading]\nsurprise = 1', "grading.surprise"),
        ('[grading.policies.x]\nkind = "magic"', "grading.policies.x"),
    ],
)
def test_a_malformed_section_names_the_key(monkeypatch, tmp_path, text, key):
    monkeypatch.setenv("CRM_POLICY_FILE", str(write(tmp_path, text)))
    with pytest.raises(PolicyError) as err:
        load()
    assert key in str(err.value)


def test_weights_must_sum_to_100():
    with pytest.raises(ValueError, match="must be 100"):
        GradingPolicy.model_validate({"score": {"credit_weight": 20}})
