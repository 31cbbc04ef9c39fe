"""`crm customers import|export`: bulk card files over the HTTP API, with progress bars for large files.

Import validates every row locally first (the same rules as the service, so errors show before any upload),
then streams the file to POST /customers/import; the service checks scope and duplicates and writes it
all-or-nothing unless --skip-bad-rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from services.customers import bulk

app = typer.Typer(help="Customer cards in bulk: import and export CSV (UTF-8 with BOM) or JSON.", no_args_is_help=True)
console = Console()
Url = Annotated[str, typer.Option(envvar="CRM_CUSTOMERS_URL", help="Base URL of the customers service")]
Token = Annotated[str, typer.Option(envvar="CRM_TOKEN", help="JWT bearer token (`crm token ...`)")]
UPLOAD_CHUNK = 256 * 1024


def _format(path: Path, fmt: str | None) -> bulk.Format:
    chosen = fmt or bulk.guess_format(path.name)
    if chosen not in ("csv", "json"):
        raise typer.BadParameter("say --format csv or --format json", param_hint="--format")
    return chosen  # type: ignore[return-value]


def _errors_table(errors: list[dict], total: int) -> Table:
    table = Table(title=f"{total} error(s)" + (f", first {len(errors)} shown" if total > len(errors) else ""))
    for column in ("row", "field", "message"):
        table.add_column(column)
    for e in errors:
        table.add_row(str(e["row"]), e["field"], e["message"])
    return table


def _bar(*columns) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), *columns, TimeRemainingColumn(), console=console)


@app.command("import")
def import_cards(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    url: Url = "http://127.0.0.1:8001",
    token: Token = "",
    format: Annotated[str | None, typer.Option(help="csv or json (default: from the file name)")] = None,
    skip_bad_rows: Annotated[bool, typer.Option(help="import the valid rows instead of rejecting the file")] = False,
) -> None:
    fmt = _format(path, format)
    data = path.read_bytes()
    try:
        rows = list(bulk.read_rows(data, fmt))
    except bulk.FileError as exc:
        console.print(f"[red]{path}: {exc} (field {exc.field})[/red]")
        raise typer.Exit(2) from exc
    errors: list[dict] = []
    with _bar() as progress:
        task = progress.add_task("validating", total=len(rows))
        for start in range(0, len(rows), 1000):
            _, found = bulk.validate_rows(rows[start:start + 1000])
            errors += found
            progress.advance(task, min(1000, len(rows) - start))
    if errors and not skip_bad_rows:
        console.print(_errors_table(errors[:50], len(errors)))
        console.print("[red]nothing imported[/red] (fix the rows, or --skip-bad-rows)")
        raise typer.Exit(1)

    def chunks(task_id) -> Iterator[bytes]:
        for start in range(0, len(data), UPLOAD_CHUNK):
            yield data[start:start + UPLOAD_CHUNK]
            progress.advance(task_id, min(UPLOAD_CHUNK, len(data) - start))

    with _bar(DownloadColumn(), TransferSpeedColumn()) as progress:
        task = progress.add_task("uploading", total=len(data))
        response = httpx.post(
            f"{url.rstrip('/')}/customers/import",
            params={"format": fmt, "on_error": "skip_rows" if skip_bad_rows else "reject_file"},
            content=chunks(task),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv" if fmt == "csv" else "application/json"},
            timeout=httpx.Timeout(30, read=600),
        )
    body = response.json()
    if response.status_code != 200:
        console.print(f"[red]{response.status_code} {body.get('code')}: {body.get('message')}[/red]")
        if body.get("errors"):
            console.print(_errors_table(body["errors"][:50], body.get("error_count", len(body["errors"]))))
        raise typer.Exit(1)
    console.print(f"[green]imported {body['imported']} of {body['rows']} card(s)[/green]" + (f", {body['error_count']} error(s)" if body["error_count"] else ""))
    if body.get("errors"):
        console.print(_errors_table(body["errors"][:50], body["error_count"]))


@app.command("export")
def export_cards(
    path: Annotated[Path, typer.Argument(dir_okay=False, writable=True)],
    url: Url = "http://127.0.0.1:8001",
    token: Token = "",
    format: Annotated[str | None, typer.Option(help="csv or json (default: from the file name)")] = None,
    owner_rep_id: Annotated[str | None, typer.Option(help="only this rep's customers")] = None,
    team_id: Annotated[str | None, typer.Option(help="only this team's customers")] = None,
) -> None:
    fmt = _format(path, format)
    params = {"format": fmt, **({"owner_rep_id": owner_rep_id} if owner_rep_id else {}), **({"team_id": team_id} if team_id else {})}
    with httpx.stream("GET", f"{url.rstrip('/')}/customers/export", params=params, headers={"Authorization": f"Bearer {token}"}, timeout=httpx.Timeout(30, read=600)) as response:
        if response.status_code != 200:
            response.read()
            console.print(f"[red]{response.status_code}: {response.text}[/red]")
            raise typer.Exit(1)
        with path.open("wb") as out, Progress(TextColumn("exporting"), DownloadColumn(), TransferSpeedColumn(), console=console) as progress:
            task = progress.add_task("exporting", total=None)
            for chunk in response.iter_bytes():
                out.write(chunk)
                progress.advance(task, len(chunk))
    console.print(f"[green]wrote {path} ({path.stat().st_size} bytes)[/green]")


