"""The memarch command line (typer). User errors print one line on stderr and exit with code 2.

Output is for people in a terminal and for pipes alike: piped, nothing is wrapped (see
evolve/terminal.py). Commands that read one campaign take RUN as a name under --runs-dir or a
directory; left out, the most recently active campaign under --runs-dir is used (and named on stderr).
"""
from __future__ import annotations

import sys
from functools import wraps
from pathlib import Path
from typing import Callable, Literal, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from evolve.choose import ChoiceError
from evolve.cli_help import Group
from evolve.config import ConfigError, load_config
from evolve.store import Store, StoreError
from evolve.terminal import log_line, make_console, print_error
from sandboxes.tasks import TASKS, TaskError

app = typer.Typer(cls=Group, add_completion=False, no_args_is_help=True, rich_markup_mode="rich",
                  help="memarch: evolutionary search for LLM-agent memory architectures.",
                  epilog="Start here: memarch run examples/quickstart.yaml, then memarch front, memarch lineage, "
                         "memarch export RUN CANDIDATE -o memory.py. Reference: docs/CLI.md.")
console = make_console()
RUNS = typer.Option(Path("runs"), "--runs-dir", metavar="DIR", help="Where campaigns live.")
WITHIN_HELP = ("Keep what meets METRIC=VALUE (≤ for a minimised objective, ≥ for a maximised one); VALUE is a "
               "number, a candidate id or a seed's name (its value here). Repeatable.")
RUN_ARG = typer.Argument(None, help="Campaign name under --runs-dir, or its directory (default: the most recent one).",
                         show_default=False)
# Kept literal so `memarch --help` does not import the sandboxes (libcst); tests check them against BACKENDS.
BACKEND_NAMES = ("process", "forkserver", "docker")
FIDELITIES = ("smoke", "subset", "full")
TaskName = Literal[tuple(TASKS)]  # type: ignore[valid-type]
BackendName = Literal[BACKEND_NAMES]  # type: ignore[valid-type]
Fidelity = Literal[FIDELITIES]  # type: ignore[valid-type]


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"memarch {version('memarch')}")
        except PackageNotFoundError:
            print("memarch (not installed as a package)")
        raise typer.Exit()


@app.callback()
def _main(show_version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                            help="Print the version and exit.")) -> None:
    """memarch: evolutionary search for LLM-agent memory architectures."""


def user_errors(fn: Callable) -> Callable:
    """A mistake the user can fix (bad config, unknown run, unwritable path) is one line and exit 2."""
    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ConfigError, StoreError, TaskError, ChoiceError) as exc:
            print_error(str(exc))
        except OSError as exc:  # FileNotFoundError, PermissionError, NotADirectoryError, read-only file systems
            where = exc.filename if exc.filename is not None else ""
            print_error(f"{where}: {exc.strerror}" if where and exc.strerror else str(exc))
        raise typer.Exit(2)
    return wrapper


def latest_run(runs_dir: Path) -> Path:
    """The campaign under `runs_dir` whose database was written last."""
    def last_write(d: Path) -> float:
        return max((p.stat().st_mtime for p in d.glob(f"{Store.FILE}*")), default=0.0)

    found = [d for d in runs_dir.iterdir() if (d / Store.FILE).is_file()] if runs_dir.is_dir() else []
    if not found:
        raise StoreError(f"no campaign under {runs_dir}/ yet: start one with `memarch run examples/quickstart.yaml`, "
                         "or name RUN (or pass --runs-dir)")
    return max(found, key=last_write)


def pick_run(run: Optional[str], runs_dir: Path) -> Path:
    """RUN as given, or the most recent campaign (named on stderr, so piped stdout stays clean)."""
    from evolve.views import resolve_run

    if run is not None:
        return resolve_run(run, runs_dir)
    path = latest_run(runs_dir)
    make_console(stderr=True).print(f"campaign: {path} (the most recent under {runs_dir}/)", style="dim",
                                    markup=False, highlight=False)
    return path


def _hold_driver_lock(run_dir: Path):
    """One driver per campaign: a second `run`/`resume` on the same database is refused, not raced."""
    import fcntl

    handle = open(run_dir / "driver.lock", "a+")  # noqa: SIM115 - held for the life of the process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StoreError(f"{run_dir} is being driven by another memarch process; wait for it, or stop it "
                         f"(Ctrl-C, or `touch {run_dir}/STOP`) before resuming") from None
    return handle


def _run_campaign(campaign, lock=None) -> None:
    from evolve.campaign import Progress as Hooks
    from evolve.views import front_table, headline

    lock = lock or _hold_driver_lock(campaign.run_dir)
    total = campaign.config.budget.evaluations
    done_before = len({d["candidate"] for _t, _k, d in campaign.store.events("done")})
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[last]}"), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task(campaign.config.name, total=total, completed=min(done_before, total), last="")
        campaign.progress = Hooks(
            on_done=lambda cid, outcome: bar.update(task, advance=1, last=f"{cid}: {outcome}"[:60]),
            on_log=lambda msg: log_line(bar.console, msg))
        try:
            reason = campaign.run()
        except KeyboardInterrupt:
            console.print(f"[yellow]interrupted[/]; resume with: memarch resume {campaign.run_dir}")
            raise typer.Exit(130) from None
        finally:
            lock.close()
    console.print(f"stopped: {reason}")
    if not len(campaign.archive):
        print_error(f"no candidate finished the cascade; see `memarch lineage {campaign.run_dir}` for the failures")
        raise typer.Exit(1)
    console.print(front_table(campaign.store))
    for line in headline(campaign.store, str(campaign.run_dir)):  # what beats the best seed at its cost
        console.print(line, markup=False, highlight=False)
    console.print(f"run: {campaign.run_dir}   next: memarch lineage {campaign.run_dir}  |  "
                  f"memarch export {campaign.run_dir} CANDIDATE -o memory.py")


@app.command(epilog="Example: memarch run examples/quickstart.yaml --name try1")
@user_errors
def run(config: Path = typer.Argument(..., help="Campaign YAML (see examples/)."),
        address: Optional[str] = typer.Option(None, "--address", metavar="HOST:PORT",
                                              help="Join a Ray cluster (host:port or auto)."),
        name: Optional[str] = typer.Option(None, "--name", help="Override the campaign name."),
        preflight: bool = typer.Option(True, "--preflight/--no-preflight", help="Print a time and cost estimate first."),
        llm_record: Optional[Path] = typer.Option(None, "--llm-record", metavar="FILE",
                                                  help="Record every LLM call to this JSONL."),
        llm_replay: Optional[Path] = typer.Option(None, "--llm-replay", metavar="FILE",
                                                  help="Answer LLM calls from this recording."),
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

        console.print(estimate(campaign.config, campaign.store.candidates()[0].code).render(campaign.config),
                      highlight=False)  # the config as created: split defaults applied
    _run_campaign(campaign)


def _finished(store: Store, cfg) -> str:
    """Why a campaign has nothing left to do (a budget is spent and no candidate is mid-cascade), or ''."""
    events = list(store.events())
    starts = [t for t, k, _d in events if k == "session_start"]
    ends = [(t, d) for t, k, d in events if k == "session_end"]
    if not ends or (starts and ends[-1][0] < starts[-1]):
        return ""  # killed mid-session: unfinished work reruns
    done = {d["candidate"] for _t, k, d in events if k == "done"}
    if any(c.id not in done for c in store.candidates()):
        return ""
    b = cfg.budget
    if store.count_candidates() >= b.evaluations:
        return f"its evaluation budget ({b.evaluations}) is spent"
    if b.wall_seconds is not None and float(store.meta("elapsed_s") or 0.0) >= b.wall_seconds:
        return f"its wall-clock budget ({b.wall_seconds:g} s) is spent"
    if b.llm_dollars is not None and store.llm_spend() >= b.llm_dollars:
        return f"its LLM budget (${b.llm_dollars:g}) is spent"
    return ""


@app.command(epilog="Example: memarch resume quickstart")
@user_errors
def resume(run: Optional[str] = RUN_ARG,
           address: Optional[str] = typer.Option(None, "--address", metavar="HOST:PORT",
                                                 help="Join a Ray cluster (host:port or auto)."),
           runs_dir: Path = RUNS) -> None:
    """Continue a stopped or killed campaign: finished evaluations are kept, unfinished ones rerun."""
    from evolve.views import stored_config

    run_dir = pick_run(run, runs_dir)
    store = Store.open(run_dir)
    cfg = stored_config(store)
    events = list(store.events())
    starts = [t for t, k, _d in events if k == "session_start"]
    ends = [t for t, k, _d in events if k == "session_end"]
    if starts and (not ends or ends[-1] < starts[-1]) and store.driver_alive():
        raise StoreError(f"{cfg.name} is still running (driver {store.meta('driver')}); stop it first "
                         f"(Ctrl-C in its terminal, or `touch {run_dir}/STOP`), or watch it with "
                         f"`memarch status {cfg.name}`")
    lock = _hold_driver_lock(run_dir)
    why = _finished(store, cfg)
    if why:
        lock.close()
        console.print(f"{cfg.name} is finished: {why}; nothing to resume. Raise the budget in a copy of its "
                      f"config and `memarch run` it, or look at it: memarch front {cfg.name}")
        return
    if address:
        cfg = cfg.model_copy(update={"ray": cfg.ray.model_copy(update={"address": address})})
    from evolve.campaign import Campaign  # imports Ray: only once there is something to run

    _run_campaign(Campaign(cfg, run_dir, store), lock)


@app.command(epilog="Examples: memarch front quickstart --plot front.png | memarch front quickstart --within "
                    "tokens=bm25_rag")
@user_errors
def front(run: Optional[str] = RUN_ARG,
          all_ranks: bool = typer.Option(False, "--all", help="Show dominated candidates too."),
          plot: Optional[Path] = typer.Option(None, "--plot", metavar="FILE",
                                              help="Also draw the front to this PNG/SVG/PDF."),
          within: list[str] = typer.Option([], "--within", metavar="METRIC=VALUE", help=WITHIN_HELP),
          runs_dir: Path = RUNS) -> None:
    """The Pareto front of a campaign: one row per distinct point (ties folded into the first)."""
    from evolve.views import choice, choice_lines, front_plot, front_table

    run_dir = pick_run(run, runs_dir)
    store = Store.open(run_dir)
    picked = choice(store, within) if within else None
    console.print(front_table(store, all_ranks, picked.bounds if picked else ()))
    if picked is not None:
        for line in choice_lines(store, picked, run or str(run_dir)):
            console.print(line, highlight=False, markup=False)
    if plot is not None:
        console.print(f"wrote {front_plot(store, plot)}")


@app.command(epilog="Examples: memarch lineage quickstart c0012 | memarch lineage quickstart -f dot | dot -Tsvg "
                    "> tree.svg")
@user_errors
def lineage(run: Optional[str] = RUN_ARG,
            candidate: Optional[str] = typer.Argument(None, help="Show only this candidate's ancestry."),
            fmt: Literal["tree", "dot", "json", "html"] = typer.Option(
                "tree", "--format", "-f", help="tree prints here; dot and json print here or to -o; html needs -o."),
            output: Optional[Path] = typer.Option(None, "-o", "--output", metavar="FILE",
                                                  help="Write to this file (html: required)."),
            runs_dir: Path = RUNS) -> None:
    """The lineage tree (or one candidate's ancestry) with operators, notes and metric deltas."""
    import re

    from evolve.views import lineage_tree

    try:
        run_dir = pick_run(run, runs_dir)
    except StoreError:
        if candidate is not None or run is None or not re.fullmatch(r"c\d+", run):
            raise
        run_dir, candidate = pick_run(None, runs_dir), run  # `memarch lineage c0012`: the most recent campaign
    store = Store.open(run_dir)
    if fmt == "tree":
        console.print(lineage_tree(store, candidate))
    else:
        from evolve.commands.report import lineage_export

        lineage_export(store, candidate, fmt, output)


@app.command(epilog="Examples: memarch export quickstart c0012 -o memory.py | memarch export quickstart --front "
                    "-o winners/ | memarch export quickstart --within tokens=bm25_rag -o memory.py")
@user_errors
def export(run: str = typer.Argument(..., help="Campaign name under --runs-dir, or its directory."),
           candidate: Optional[str] = typer.Argument(None, help="The candidate to export (e.g. c0012)."),
           output: Path = typer.Option(..., "-o", "--output", metavar="PATH",
                                       help="A .py file (its name must be a Python identifier), or a directory."),
           whole_front: bool = typer.Option(False, "--front", help="Export every program on the front."),
           within: list[str] = typer.Option([], "--within", metavar="METRIC=VALUE",
                                            help="Export the best program within these bounds. " + WITHIN_HELP),
           runs_dir: Path = RUNS) -> None:
    """Write programs as standalone modules (memarch not needed to run them), each with a card."""
    from evolve.commands.report import export_command
    from evolve.views import resolve_run

    export_command(Store.open(resolve_run(run, runs_dir)), candidate, output, whole_front, within)


@app.command(epilog="Example: memarch seeds, then memarch eval bm25_rag")
def seeds() -> None:
    """List the seed programs, one line each, with their knobs."""
    from evolve.commands.seeds import seeds_command

    raise typer.Exit(seeds_command(console))


@app.command("eval", epilog="Examples: memarch eval bm25_rag | memarch eval my_memory.py --task locomo "
                            "--fidelity subset")
def eval_(program: str = typer.Argument(..., help="A seed name (see `memarch seeds`), a stored candidate "
                                                   "(RUN:CANDIDATE, e.g. quickstart:c0012) or a .py file."),
          task: TaskName = typer.Option("synthetic", "--task", "-t", help="The task to measure it on."),
          fidelity: Fidelity = typer.Option("smoke", "--fidelity", "-f",
                                            help="How much of the task: smoke (seconds), subset, or full."),
          params: Optional[str] = typer.Option(None, "--params", metavar="JSON",
                                               help='Task params as a JSON object, e.g. \'{"conversations": 2}\'.'),
          backend: BackendName = typer.Option("process", "--backend", "-b", help="The sandbox to run it in."),
          embedder: str = typer.Option("hashing", "--embedder", "-e",
                                       help="hashing, static or minilm (texts embedded once into the cache)."),
          wall_seconds: float = typer.Option(120.0, "--timeout", metavar="S",
                                             help="Wall-clock limit of the job (full BANKING77 with MiniLM needs more)."),
          runs_dir: Path = RUNS) -> None:
    """Evaluate one program on a task and print its metrics."""
    from evolve.commands.seeds import eval_command

    raise typer.Exit(eval_command(program, task, fidelity, params, backend, console, embedder, wall_seconds,
                                  runs_dir))


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
