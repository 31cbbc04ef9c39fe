"""Pure rules of the card: merging, diffing, verification, scope, credit approval, portfolio balance, bulk rows."""

from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.customers import bulk, domain
from services.customers.domain import CustomerCard, CustomerPatch
from shared.auth import Principal

CARD = {"number": "CRM-1", "name": "明远", "owner_rep_id": "rep-1", "team_id": "east"}


def test_a_patch_merges_sections_and_never_clears_required_fields():
    card = domain.card_document(CustomerCard.model_validate({**CARD, "credit": {"payment_attitude": "prompt", "bank_rating": "AA"}}))
    merged = domain.merge_patch(card, CustomerPatch.model_validate({"name": None, "region": "华东", "credit": {"bank_rating": None}}))
    assert merged["name"] == "明远" and merged["region"] == "华东"
    assert merged["credit"]["payment_attitude"] == "prompt" and merged["credit"]["bank_rating"] is None
    assert card["credit"]["bank_rating"] == "AA"  # the old document is untouched (history needs it)


def test_diff_names_each_changed_path_with_old_and_new():
    old = {"name": "a", "credit": {"credit_limit": None, "bank_rating": "AA"}}
    new = {"name": "b", "credit": {"credit_limit": "5.00", "bank_rating": "AA"}}
    assert domain.diff(old, new) == {"credit.credit_limit": {"old": None, "new": "5.00"}, "name": {"old": "a", "new": "b"}}
    assert domain.diff(old, old) == {}


def test_customer_supplied_fields_are_unverified_until_a_rep_supplies_them():
    form = domain.next_unverified([], supplied={"name", "phone", "owner_rep_id"}, source="customer_form")
    assert form == ["name", "phone"]
    assert domain.next_unverified(form, supplied={"phone"}, source="rep") == ["name"]
    assert domain.next_unverified(form, supplied={"phone"}, source="agency") == ["name"]


def test_a_credit_limit_needs_its_approver_and_date():
    with pytest.raises(ValidationError) as exc:
        CustomerCard.model_validate({**CARD, "credit": {"credit_limit": "1000.00"}})
    assert {e["loc"] for e in exc.value.errors()} == {("credit", "limit_approver"), ("credit", "limit_approved_on")}
    ok = CustomerCard.model_validate({**CARD, "credit": {"credit_limit": "1000", "limit_approver": "general_manager", "limit_approved_on": "2026-11-01"}})
    assert ok.credit.credit_limit == Decimal("1000.00")


@pytest.mark.parametrize("amount", ["-1", "12.345", "1e20", "NaN", "abc"])
def test_amounts_must_be_non_negative_with_two_places(amount):
    with pytest.raises(ValidationError):
        CustomerCard.model_validate({**CARD, "basic": {"registered_capital": amount}})


def test_scope_rep_own_in_own_team_manager_team_admin_all():
    rep, manager, admin = Principal("rep-1", "rep", "east"), Principal("m", "manager", "east"), Principal("a", "admin", None)
    assert domain.can_see(rep, owner_rep_id="rep-1", team_id="east")
    assert not domain.can_see(rep, owner_rep_id="rep-2", team_id="east")
    assert not domain.can_see(rep, owner_rep_id="rep-1", team_id="west")  # data never leaves the owning team
    assert domain.can_see(manager, owner_rep_id="rep-2", team_id="east") and not domain.can_see(manager, owner_rep_id="rep-2", team_id="west")
    assert domain.can_see(admin, owner_rep_id="x", team_id="y")


def test_reps_never_reassign_and_only_admins_move_teams():
    rep, manager = Principal("rep-1", "rep", "east"), Principal("m", "manager", "east")
    same = {"old_owner": "rep-1", "old_team": "east"}
    assert domain.ownership_change_allowed(rep, **same, new_owner="rep-2", new_team="east") == "owner_rep_id"
    assert domain.ownership_change_allowed(manager, **same, new_owner="rep-2", new_team="east") is None
    assert domain.ownership_change_allowed(manager, **same, new_owner="rep-1", new_team="west") == "team_id"
    assert domain.ownership_change_allowed(Principal("a", "admin", None), **same, new_owner="rep-1", new_team="west") is None


def test_portfolio_balance_counts_and_values_by_tier_and_shows_the_spread_of_a_accounts():
    balance = domain.portfolio_balance([
        ("rep-1", "A", 2, Decimal("2000000")), ("rep-1", "C", 5, Decimal("100")), ("rep-2", None, 3, Decimal("0")), ("rep-2", "B", 1, Decimal("400000")),
    ])
    one, two = balance["reps"]
    assert one["tiers"]["A"] == {"count": 2, "value": "2000000.00"} and one["customers"] == 7 and one["value"] == "2000100.00"
    assert two["tiers"]["ungraded"]["count"] == 3 and two["tiers"]["A"]["count"] == 0
    assert balance["a_spread"] == 2
    assert domain.portfolio_balance([])["a_spread"] == 0


def test_csv_rows_unflatten_into_sections_and_report_errors_per_row_and_field():
    data = (bulk.BOM + "number,name,owner_rep_id,team_id,credit.payment_attitude,strategic_partner\r\n"
            "A-1,甲,r,t,prompt,true\r\nA-2,乙,r,t,late,\r\nA-1,丙,r,t,,\r\n").encode()
    valid, errors = bulk.validate_rows(bulk.read_rows(data, "csv"))
    assert [(n, c.number, c.credit.payment_attitude, c.strategic_partner) for n, c in valid] == [(1, "A-1", "prompt", True)]
    assert errors == [
        {"row": 2, "field": "credit.payment_attitude", "message": errors[0]["message"]},
        {"row": 3, "field": "number", "message": "duplicate of row 1"},
    ]


def test_an_exported_row_reads_back_as_the_same_card():
    card = CustomerCard.model_validate({**CARD, "basic": {"founded_on": "2001-03-04", "registered_capital": "5000000"}, "high_potential": True})
    document = domain.card_document(card)
    text = bulk.csv_header() + bulk.csv_row(document)
    [(_, again)], errors = bulk.validate_rows(bulk.read_rows(text.encode(), "csv"))
    assert errors == [] and domain.card_document(again) == document


def test_the_policy_file_section_loads_and_a_bad_duration_names_its_key():
    from services.customers.policy import CustomersPolicy, load
    from shared.policy import PolicyError, load_section

    assert load().record_within.total_seconds() == 24 * 3600
    with pytest.raises(PolicyError, match="customers.record_within"):
        load_section("customers", CustomersPolicy, document={"customers": {"record_within": "24 hours"}})
