"""`memarch sandbox build` and `memarch sandbox check`.

`sandbox_build_command` builds the docker sandbox image: the offline image by default
(``docker import`` of a skeleton rootfs; no registry needed), or an image from
``sandboxes/images/Dockerfile`` / ``Dockerfile.cuda`` for nodes that can pull base images.
`sandbox_check_command` shows which fences this node has and runs a good program plus five
attacks on each backend (the last walks the visible filesystem for anything beyond the
allow-list), reporting what held and how long a no-op job took; then whether GPU jobs would
work here (devices, driver, Ray, torch CUDA, docker runtime; on a GPU node, a CUDA matmul
run as a GPU job in each backend). A node without a GPU is not a failure.
Both return the process exit code (0 fine, 1 a fence broke, 2 a cause the user can fix).
"""
from __future__ import annotations

import time
from typing import Optional

from rich.console import Console
from rich.table import Table

VARIANTS = ("offline", "cpu", "cuda")


def sandbox_build_command(variant: str = "offline", tag: Optional[str] = None,
                          console: Optional[Console] = None) -> int:
    from sandboxes.backends.docker import OFFLINE_IMAGE, DockerUnavailable, client_from_env
    from sandboxes.images.offline import build_dockerfile, build_offline

    console = console or Console()
    err = Console(stderr=True)
    if variant not in VARIANTS:
        err.print(f"[red]error:[/] unknown image variant {variant!r} (choose one of {', '.join(VARIANTS)})")
        return 2
    try:
        client = client_from_env()
    except DockerUnavailable as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False)
        return 2
    default = {"offline": OFFLINE_IMAGE, "cpu": "memarch-sandbox:latest", "cuda": "memarch-sandbox:cuda"}
    tag = tag or default[variant]
    t0 = time.perf_counter()
    try:
        image_id = build_offline(client, tag) if variant == "offline" else build_dockerfile(client, tag, variant)
    except Exception as exc:  # noqa: BLE001 - docker build errors (no registry, bad context) are the user's to fix
        err.print(f"[red]error:[/] building {tag} failed: {str(exc).splitlines()[0][:300]}", highlight=False)
        return 2
    size_mb = client.images.get(tag).attrs.get("Size", 0) / 2**20
    console.print(f"built [bold]{tag}[/] ({image_id[:19]}, {size_mb:.1f} MB) in {time.perf_counter() - t0:.1f} s")
    if variant == "offline":
        console.print("the interpreter, site-packages and the design_space and sandboxes packages are "
                      "bind-mounted read-only at run time (nothing else of the checkout)")
    return 0


def _fence_table() -> Table:
    from sandboxes.backends import fences
    from sandboxes.backends.docker import OFFLINE_IMAGE, DockerUnavailable, client_from_env

    caps = fences.probe()
    table = Table(title="fences on this node")
    table.add_column("fence")
    table.add_column("available")
    rows = [("running as root (job uid drop)", caps["root"]),
            ("network / mount / PID namespaces", caps["namespaces"]),
            ("unshare (util-linux)", caps["unshare_binary"]),
            ("bubblewrap", caps["bwrap"]),
            ("filesystem view: the allow-list only (namespaces or bubblewrap)", caps["namespaces"] or caps["bwrap"]),
            ("setpriv (bwrap as root)", caps["setpriv"])]
    try:
        client = client_from_env()
        rows.append(("docker engine", True))
        try:
            client.images.get(OFFLINE_IMAGE)
            rows.append((f"image {OFFLINE_IMAGE}", True))
        except Exception:  # noqa: BLE001 - not built
            rows.append((f"image {OFFLINE_IMAGE} (memarch sandbox build)", False))
    except DockerUnavailable:
        rows.append(("docker engine", False))
    for name, ok in rows:
        table.add_row(name, "[green]yes[/]" if ok else "[yellow]no[/]")
    return table


def _gpu_table(checks, ready: bool, jobs: list[tuple[str, object]]) -> Table:
    table = Table(title="GPU jobs (limits.gpu) on this node")
    for col in ("needs", "result", "detail"):
        table.add_column(col)
    for check in checks:
        table.add_row(check.name, "[green]yes[/]" if check.held else "[yellow]no[/]", check.detail[:120])
    for name, check in jobs:
        table.add_row(f"{name}: {check.name}", "[green]yes[/]" if check.held else "[red]no[/]", check.detail[:120])
    verdict = ready and all(check.held for _n, check in jobs)
    missing = [c.name for c in checks if not c.held and "Ray" not in c.name and "docker" not in c.name]
    missing += [name for name, check in jobs if not check.held]
    table.add_row("[bold]GPU jobs would work here[/]", "[green]yes[/]" if verdict else "[yellow]no[/]",
                  "" if verdict else "missing: " + ", ".join(missing))
    return table


def sandbox_check_command(backends: Optional[list[str]] = None, console: Optional[Console] = None) -> int:
    from sandboxes.backends import BACKENDS, get_sandbox
    from sandboxes.backends.selfcheck import check_backend, check_gpu_job, gpu_readiness

    console = console or Console()
    console.print(_fence_table())
    names = backends or list(BACKENDS)
    unknown = [n for n in names if n not in BACKENDS]
    if unknown:
        Console(stderr=True).print(f"[red]error:[/] unknown backend {unknown[0]!r} (known: {', '.join(BACKENDS)})")
        return 2
    table = Table(title="containment")
    for col in ("backend", "check", "result", "detail"):
        table.add_column(col)
    broken = False
    gpu_checks, gpu_ready = gpu_readiness()
    gpu_jobs = []
    for name in names:
        try:
            sandbox = get_sandbox(name)
        except Exception as exc:  # noqa: BLE001 - unavailable here: say why, check the others
            table.add_row(name, "available", "[yellow]no[/]", str(exc)[:120])
            continue
        if gpu_ready and (name != "docker" or gpu_checks[-1].held):
            gpu_jobs.append((name, check_gpu_job(sandbox)))
        checks, ms = check_backend(sandbox)
        table.add_row(name, "seed program, smoke run", f"{ms:.0f} ms", "first job: includes start-up")
        for check in checks:
            broken |= not check.held
            table.add_row("", check.name, "[green]held[/]" if check.held else "[red]BROKEN[/]", check.detail[:120])
        if hasattr(sandbox, "close"):
            sandbox.close()
    console.print(table)
    console.print(_gpu_table(gpu_checks, gpu_ready, gpu_jobs))
    return 1 if broken else 0


def register(app) -> None:
    """Add the ``sandbox`` command group to a typer app."""
    import typer

    group = typer.Typer(help="Build and check the sandboxes candidates run in.", no_args_is_help=True)

    @group.command("build")
    def build(variant: str = typer.Option("offline", "--variant", help="offline | cpu | cuda"),
              tag: Optional[str] = typer.Option(None, "--tag", help="Image tag.")) -> None:
        """Build the docker sandbox image (offline by default)."""
        raise typer.Exit(sandbox_build_command(variant, tag))

    @group.command("check")
    def check(backend: Optional[list[str]] = typer.Option(None, "--backend", "-b",
                                                          help="Backend to check (repeatable; default all).")) -> None:
        """Show the fences this node has and prove they hold on each backend."""
        raise typer.Exit(sandbox_check_command(backend or None))

    app.add_typer(group, name="sandbox")
