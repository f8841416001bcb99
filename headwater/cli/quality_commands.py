"""The data-quality commands: check, checks import, profile, docs build."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from headwater.cli.app import (
    DebugOpt,
    ProjectOpt,
    VarOpt,
    app,
    consoles,
    handles_errors,
    open_workspace,
)
from headwater.cli.help_text import Typer
from headwater.errors import HeadwaterError


@app.command()
@handles_errors
def check(
    target: Annotated[
        str | None,
        typer.Argument(help="A suite (checks/<suite>.yaml), a table, or nothing for every check."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    samples: Annotated[
        int, typer.Option(help="Failing rows shown per failed check (0: counts only, faster).")
    ] = 5,
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Run data-quality checks; exits 1 when a check of severity `error` fails.

    Checks live in checks/<suite>.yaml as `table: [checks]`, e.g.
    `gold.fact_orders: [{not_null: orderNumber}, {unique: orderNumber}]`.
    Every evaluation is kept in the run history.

    Example: headwater check gold --format json
    """
    from headwater.cli import check_report

    if fmt not in ("table", "json"):
        raise HeadwaterError(f"unknown format `{fmt}`", hint="use --format table or --format json")
    suite = open_workspace(project, var).check(target, samples=samples)
    if fmt == "json":
        consoles()[0].print_json(check_report.as_json(suite))
    else:
        check_report.show(suite, consoles()[0], consoles()[1])
    if not suite.passed:
        raise typer.Exit(1)


@app.command()
@handles_errors
def profile(
    table: Annotated[str, typer.Argument(help="Table name, NAMESPACE.NAME.")],
    write_suite: Annotated[
        Path | None,
        typer.Option(
            "--write-suite",
            help="Write the suggested checks to this suite file (relative to the project "
            "folder, e.g. checks/orders.yaml); an existing file is never overwritten.",
        ),
    ] = None,
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Profile a table's columns and suggest the checks its data passes.

    Example: headwater profile gold.fact_orders --write-suite checks/fact_orders.yaml
    """
    from rich.text import Text

    from headwater.quality.profile import HEADERS, display_rows, refuse_existing, suite_yaml
    from headwater.quality.profile import write_suite as write

    ws = open_workspace(project, var)
    target = ws.project.path(str(write_suite)) if write_suite else None
    if target is not None:
        refuse_existing(target)  # before the work, not after
    result = ws.profile(table)
    view = Table(header_style="bold", title=f"{table}: {result.rows:,} rows", title_justify="left")
    for i, name in enumerate(HEADERS):
        view.add_column(name, justify="left" if i < 2 else "right")
    for row in display_rows(result):
        view.add_row(*(Text(cell) for cell in row))
    consoles()[0].print(view)
    if target is None:
        consoles()[0].print(suite_yaml(result), markup=False, highlight=False, end="")
        return
    write(target, result)
    consoles()[0].print(f"wrote the suggested checks to {target}", markup=False, highlight=False)
    folder = ws.project.path(ws.project.config.quality.path).resolve()
    if target.resolve().parent != folder or target.suffix != ".yaml":
        consoles()[1].print(
            f"[yellow]note:[/yellow] `headwater check` reads {folder}/*.yaml only",
            highlight=False,
        )


docs_app = Typer(help="Static HTML data docs of the check suites.", no_args_is_help=True)
app.add_typer(docs_app, name="docs")


@docs_app.command("build")
@handles_errors
def docs_build(
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for the docs.", show_default=".headwater/docs"),
    ] = None,
    evaluate: Annotated[
        bool,
        typer.Option(
            "--evaluate",
            help="Run the checks first, to show failing rows (recorded like `headwater check`).",
        ),
    ] = False,
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Write HTML pages of every suite: latest results, history charts; open index.html offline.

    Example: headwater docs build --evaluate && open .headwater/docs/index.html
    """
    index = open_workspace(project, var).build_docs(out_dir, evaluate=evaluate)
    consoles()[0].print(str(index), markup=False, highlight=False)


checks_app = Typer(help="Work with check suites.", no_args_is_help=True)
app.add_typer(checks_app, name="checks")


@checks_app.command("import")
@handles_errors
def checks_import(
    file: Annotated[Path, typer.Argument(help="A Great Expectations suite JSON (0.18 or 1.x).")],
    table: Annotated[str, typer.Option(help="The table the suite checks, NAMESPACE.NAME.")],
    suite: Annotated[
        str | None, typer.Option(help="Write checks/<suite>.yaml (default: the file's name).")
    ] = None,
    project: ProjectOpt = Path("."),
    debug: DebugOpt = False,
) -> None:
    """Turn a Great Expectations expectation suite into a Headwater check suite.

    Example: headwater checks import expectations/trips_suite.json --table raw.trips
    """
    import yaml

    from headwater.project import load_project
    from headwater.quality.gx import read_suite

    proj = load_project(project)
    entries, skipped = read_suite(file)
    folder = proj.path(proj.config.quality.path)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{suite or file.stem}.yaml"
    if target.exists():
        raise HeadwaterError(
            f"{target} exists", hint="choose another name with --suite, or remove the file"
        )
    target.write_text(yaml.safe_dump({table: entries}, sort_keys=False), encoding="utf-8")
    consoles()[0].print(f"wrote {len(entries)} checks to {target}")
    for name in skipped:
        why = "" if "(" in name else ": no Headwater equivalent yet"  # else: its own reason
        consoles()[1].print(f"[yellow]skipped[/yellow] {name}{why}", highlight=False)
