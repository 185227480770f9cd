"""The memarch command line (typer). User errors print one line and exit with code 2."""
from __future__ import annotations

import sys
from functools import wraps
from pathlib import Path
from typing import Callable, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from evolve.config import ConfigError, load_config
from evolve.store import Store, StoreError
from sandboxes.tasks import TaskError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="memarch: evolutionary search for LLM-agent memory architectures.")
console = Console(log_path=False)
RUNS = typer.Option(Path("runs"), "--runs-dir", help="Where campaigns live.")


def user_errors(fn: Callable) -> Callable:
    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ConfigError, StoreError, TaskError, FileNotFoundError) as exc:
            Console(stderr=True).print(f"[red]error:[/] {exc}", highlight=False)
            raise typer.Exit(2) from None
    return wrapper


def _run_campaign(campaign) -> None:
    from evolve.campaign import Progress as Hooks
    from evolve.views import front_table

    total = campaign.config.budget.evaluations
    done_before = len({d["candidate"] for _t, _k, d in campaign.store.events("done")})
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[last]}"), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task(campaign.config.name, total=total, completed=min(done_before, total), last="")
        campaign.progress = Hooks(
            on_done=lambda cid, outcome: bar.update(task, advance=1, last=f"{cid}: {outcome}"[:60]),
            on_log=lambda msg: bar.console.log(msg))
        try:
            reason = campaign.run()
        except KeyboardInterrupt:
            console.print(f"[yellow]interrupted[/]; resume with: memarch resume {campaign.run_dir}")
            raise typer.Exit(130) from None
    console.print(f"stopped: {reason}")
    if not len(campaign.archive):
        Console(stderr=True).print("[red]error:[/] no candidate finished the cascade; see `memarch lineage "
                                   f"{campaign.run_dir}` for the failures")
        raise typer.Exit(1)
    console.print(front_table(campaign.store))
    console.print(f"run: {campaign.run_dir}   next: memarch lineage {campaign.run_dir}  |  "
                  f"memarch export {campaign.run_dir} CANDIDATE -o memory.py")


@app.command()
@user_errors
def run(config: Path = typer.Argument(..., help="Campaign YAML."),
        address: Optional[str] = typer.Option(None, "--address", help="Join a Ray cluster (host:port or auto)."),
        name: Optional[str] = typer.Option(None, "--name", help="Override the campaign name."),
        preflight: bool = typer.Option(True, "--preflight/--no-preflight", help="Print a time and cost estimate first."),
        llm_record: Optional[Path] = typer.Option(None, "--llm-record", help="Record every LLM call to this JSONL."),
        llm_replay: Optional[Path] = typer.Option(None, "--llm-replay", help="Answer LLM calls from this recording."),
        runs_dir: Path = RUNS) -> None:
    """Start a campaign from a YAML config."""
    from evolve.campaign import Campaign

    overrides = {}
    if name:
        overrides["name"] = name
    cfg = load_config(config, overrides)
    if llm_record and llm_replay:
        raise ConfigError("use --llm-record or --llm-replay, not both")
    if (llm_record or llm_replay) and cfg.llm is None:
        raise ConfigError("--llm-record/--llm-replay need an 'llm' section in the config")
    if llm_record or llm_replay:
        tape = (llm_record or llm_replay).resolve()
        cfg = cfg.model_copy(update={"llm": cfg.llm.model_copy(update={
            "cassette": str(tape), "cassette_mode": "record" if llm_record else "replay"})})
    if address:
        cfg = cfg.model_copy(update={"ray": cfg.ray.model_copy(update={"address": address})})
    campaign = Campaign.create(cfg, runs_dir, config_dir=config.resolve().parent)
    if preflight:
        from evolve.preflight import estimate

        console.print(estimate(cfg, campaign.store.candidates()[0].code).render(cfg), highlight=False)
    _run_campaign(campaign)


@app.command()
@user_errors
def resume(run: str = typer.Argument(..., help="Run directory or campaign name."),
           address: Optional[str] = typer.Option(None, "--address"), runs_dir: Path = RUNS) -> None:
    """Continue a stopped or killed campaign: finished evaluations are kept, unfinished ones rerun."""
    from evolve.campaign import Campaign
    from evolve.views import resolve_run, stored_config

    run_dir = resolve_run(run, runs_dir)
    store = Store.open(run_dir)
    cfg = stored_config(store)
    if address:
        cfg = cfg.model_copy(update={"ray": cfg.ray.model_copy(update={"address": address})})
    _run_campaign(Campaign(cfg, run_dir, store))


@app.command()
@user_errors
def front(run: str = typer.Argument(...), all_ranks: bool = typer.Option(False, "--all", help="Show dominated too."),
          plot: Optional[Path] = typer.Option(None, "--plot", help="Also draw the front to this PNG/SVG/PDF."),
          runs_dir: Path = RUNS) -> None:
    """The Pareto front of a campaign."""
    from evolve.views import front_plot, front_table, resolve_run

    store = Store.open(resolve_run(run, runs_dir))
    console.print(front_table(store, all_ranks))
    if plot is not None:
        console.print(f"wrote {front_plot(store, plot)}")


@app.command()
@user_errors
def lineage(run: str = typer.Argument(...), candidate: Optional[str] = typer.Argument(None),
            fmt: str = typer.Option("tree", "--format", "-f", help="tree | dot | json | html"),
            output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write to this file (html: required)."),
            runs_dir: Path = RUNS) -> None:
    """The lineage tree (or one candidate's ancestry) with operators, notes and metric deltas."""
    from evolve.views import lineage_tree, resolve_run

    store = Store.open(resolve_run(run, runs_dir))
    if fmt == "tree":
        console.print(lineage_tree(store, candidate))
    else:
        from evolve.commands.report import lineage_export

        lineage_export(store, candidate, fmt, output)


@app.command()
@user_errors
def export(run: str = typer.Argument(...), candidate: Optional[str] = typer.Argument(None),
           output: Path = typer.Option(..., "-o", "--output", help="A .py file, or a directory."),
           whole_front: bool = typer.Option(False, "--front", help="Export every program on the front."),
           runs_dir: Path = RUNS) -> None:
    """Write programs as standalone modules (memarch not needed to run them), each with a card."""
    from evolve.commands.report import export_command
    from evolve.views import resolve_run

    export_command(Store.open(resolve_run(run, runs_dir)), candidate, output, whole_front)


@app.command()
def seeds() -> None:
    """List the seed programs, one line each, with their knobs."""
    from evolve.commands.seeds import seeds_command

    raise typer.Exit(seeds_command(console))


@app.command("eval")
def eval_(program: str = typer.Argument(..., help="A seed name or a .py file."),
          task: str = typer.Option("synthetic", "--task", "-t"),
          fidelity: str = typer.Option("smoke", "--fidelity", "-f", help="smoke | subset | full"),
          params: Optional[str] = typer.Option(None, "--params", help="Task params as JSON."),
          backend: str = typer.Option("process", "--backend", "-b")) -> None:
    """Evaluate one program on a task and print its metrics."""
    from evolve.commands.seeds import eval_command

    raise typer.Exit(eval_command(program, task, fidelity, params, backend, console))


def _register_sandbox() -> None:
    from evolve.commands.sandbox import register

    register(app)


_register_sandbox()

# Command modules register themselves on `app` when imported (one line each, keep sorted).
# --- command modules ---
from evolve.commands import inspect as _inspect  # noqa: E402,F401
from evolve.commands import report as _report  # noqa: E402,F401
# --- end command modules ---


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    # `python -m evolve.cli` runs this file as __main__, but command modules register on the
    # importable evolve.cli's app: run that one.
    from evolve.cli import app as _registered_app

    sys.exit(_registered_app())
