"""`crm customers import|export` against a running service (a separate process)."""

import pytest
from typer.testing import CliRunner

from services.customers.bulk import BOM
from shared.auth import mint
from shared.cli import app

pytestmark = pytest.mark.integration
HEADER = "number,name,owner_rep_id,team_id,region\n"


def test_a_bad_file_is_refused_locally_with_row_and_field(tmp_path):
    path = tmp_path / "cards.csv"
    path.write_text(BOM + HEADER + "C-1,甲,r,t,华东\nC-2,乙,r,,华东\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["customers", "import", str(path), "--url", "http://127.0.0.1:9", "--token", "x"])
    assert result.exit_code == 1, result.output
    assert "team_id" in result.output and "nothing imported" in result.output


async def test_import_then_export_through_the_command_line(world, tmp_path):
    await world.prepare("customers")
    service = world.start("customers")
    service.wait_ready()
    token = mint("mgr-east", "manager", "team-east")
    path = tmp_path / "cards.csv"
    path.write_text(BOM + HEADER + "".join(f"C-{i},客户{i},rep-{i % 3},team-east,华东\n" for i in range(120)), encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(app, ["customers", "import", str(path), "--url", service.url, "--token", token])
    assert result.exit_code == 0, result.output
    assert "imported 120 of 120" in result.output
    assert await world.scalar("customers", "SELECT count(*) FROM customers") == 120

    out = tmp_path / "export.csv"
    result = runner.invoke(app, ["customers", "export", str(out), "--url", service.url, "--token", token, "--owner-rep-id", "rep-1"])
    assert result.exit_code == 0, result.output
    text = out.read_bytes().decode("utf-8")
    assert text.startswith(BOM) and text.count("\n") == 1 + 40 and "客户1," in text
