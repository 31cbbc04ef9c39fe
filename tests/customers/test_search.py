"""Search by name or number substring (Chinese included) and filters, with stable keyset pages."""

import pytest

from tests.harness import auth

pytestmark = pytest.mark.integration


async def test_substring_search_and_filters(svc, rep):
    owner, team = rep
    headers = auth(owner, "rep", team)
    ming = await svc.create(owner=owner, team=team, name="杭州明远机械有限公司", region="华东")
    await svc.create(owner=owner, team=team, name="苏州远航贸易", region="华东", lifecycle="existing")
    await svc.create(owner=owner, team=team, name="100%_纯棉", region="华南")

    async def names(**params):
        page = await svc.client.get("/customers", params=params, headers=headers)
        assert page.status_code == 200, page.text
        return sorted(c["name"] for c in page.json()["items"])

    assert await names(q="明远") == ["杭州明远机械有限公司"]
    assert await names(q="远", owner_rep_id=owner) == ["杭州明远机械有限公司", "苏州远航贸易"]
    assert await names(q=ming["number"][2:]) == ["杭州明远机械有限公司"]
    assert await names(q="%", owner_rep_id=owner) == ["100%_纯棉"]  # wildcards are literal
    assert await names(region="华东", lifecycle="existing") == ["苏州远航贸易"]
    assert await names(region="华南", team_id=team) == ["100%_纯棉"]


async def test_keyset_pages_are_complete_and_stable(svc, rep):
    owner, team = rep
    headers = auth(owner, "rep", team)
    created = {(await svc.create(owner=owner, team=team, name=f"客户{i % 4}"))["customer_id"] for i in range(11)}
    seen, cursor, pages = [], None, 0
    while True:
        params = {"owner_rep_id": owner, "limit": 4, **({"cursor": cursor} if cursor else {})}
        page = (await svc.client.get("/customers", params=params, headers=headers)).json()
        seen += [c["customer_id"] for c in page["items"]]
        pages += 1
        if pages == 1:  # a card created mid-scan, sorting before the cursor, does not shift later pages
            await svc.create(owner=owner, team=team, name="客户0")
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == 3 and len(seen) == len(set(seen)) and set(seen) >= created
    bad = await svc.client.get("/customers", params={"cursor": "garbage!"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["field"] == "cursor"
    too_many = await svc.client.get("/customers", params={"limit": 100000}, headers=headers)
    assert too_many.status_code == 422 and too_many.json()["field"] == "limit"
