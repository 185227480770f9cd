"""The filesystem a sandbox sees: an allow-list, and nothing else.

Every backend builds the same view (`allowed`): an empty root into which these are bound
read-only, and only these —

- the shared libraries (the platform's multiarch library dir, ``/usr/lib64`` for the loader,
  ``/etc/ld.so.cache``, ``/etc/localtime``) and the one tool the launcher execs (``unshare``,
  ``setpriv`` or ``sh``);
- the interpreter: its executable, ``libpython``, the standard library and site-packages
  (site-packages whole: it holds code only, and a list per distribution would have to track
  every optional or undeclared import of numpy, torch, bm25s, networkx and scipy), each at its
  own path, since Python finds site-packages from where it runs: a virtualenv made inside the
  checkout shows that path, holding the venv's interpreter, ``pyvenv.cfg`` and site-packages only;
- the two packages the harness imports, ``design_space`` and ``sandboxes``, taken from the
  code that is running and bound at the neutral `CODE_ROOT` — never the checkout around them
  (no ``runs/``, no tests, no ``.git``, no data directory beside it);
- the model cache and the job's embedding cache, when they exist;
- the job dir, the one writable path.

Parent directories are created empty (mode 0755) to hold those mounts, so the caller's home
or temp dir may appear as a path but never with their contents. ``/proc`` (of the job's own
PID namespace) and a few device nodes complete it; a GPU job also gets the NVIDIA device
nodes (`gpu.device_nodes`).

The interpreter inside puts `CODE_ROOT` first on ``sys.path`` (`python_argv`), so the sandbox
runs the same ``design_space`` and ``sandboxes`` as the launcher, whatever an editable install
points at.
"""
from __future__ import annotations

import os
import shutil
import site
import sys
import sysconfig
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

CODE_ROOT = "/opt/memarch"
PACKAGES = ("design_space", "sandboxes")
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
ETC = ("/etc/ld.so.cache", "/etc/localtime")
TOP_LINKS = ("/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
# -I keeps PYTHONPATH, the user site and the cwd out; the code root then goes first explicitly.
BOOT = ("import sys; sys.path.insert(0, sys.argv.pop(1)); import runpy; "
        "runpy.run_module(sys.argv.pop(1), run_name='__main__', alter_sys=True)")
HARNESS_ARGS = ("job.json", "stream.jsonl", "transcript.json")


@dataclass
class View:
    """Read-only binds (host path, path inside), symlinks (path inside, target) and the device
    nodes beyond the fixed few (a GPU job's; docker hands devices over by device request)."""

    binds: list[tuple[str, str]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)

    def inside(self) -> list[str]:
        return sorted({dst for _src, dst in self.binds} | {path for path, _t in self.links})


@lru_cache(maxsize=1)
def host_packages() -> dict[str, str]:
    """name -> host directory of the packages the harness imports, from the code running now."""
    import design_space
    import sandboxes

    return {name: str(Path(mod.__file__).resolve().parent) for name, mod in
            (("design_space", design_space), ("sandboxes", sandboxes))}


def host_code_root() -> str:
    """The directory holding the running ``sandboxes`` package (for launches without a view)."""
    return str(Path(host_packages()["sandboxes"]).parent)


def python_argv(module: str, code_root: str, *args: str) -> list[str]:
    """``[-I, -B, -c, BOOT, code_root, module, *args]``: run `module` with `code_root` first on sys.path.

    -B: a job's program is compiled once, so caching its bytecode is a wasted write (and -I makes
    Python ignore PYTHONDONTWRITEBYTECODE)."""
    return ["-I", "-B", "-c", BOOT, code_root, module, *args]


def harness_argv(code_root: str) -> list[str]:
    return python_argv("sandboxes.harness", code_root, *HARNESS_ARGS)


def library_dirs() -> list[str]:
    """Where the loader finds shared libraries: the multiarch dir if the platform has one."""
    arch = sysconfig.get_config_var("MULTIARCH") or ""
    dirs = [f"/usr/lib/{arch}", f"/lib/{arch}"] if arch else []
    dirs += ["/usr/lib64", "/usr/lib32", "/usr/libx32"]
    # On merged-/usr systems /lib/<arch> is /usr/lib/<arch> through the /lib symlink.
    real = [d for d in dirs if os.path.isdir(d) and os.path.realpath(d) == d]
    return real if any(d.startswith("/usr/lib/") or d.startswith("/lib/") for d in real) else ["/usr/lib", *real]


def interpreter_paths() -> list[str]:
    """The interpreter, libpython, the standard library and site-packages (real paths)."""
    paths = {sys.executable, os.path.realpath(sys.executable)}
    info = sysconfig.get_paths()
    paths |= {info[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    paths |= set(site.getsitepackages())
    libdir, soname = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("INSTSONAME")
    if libdir and soname:
        paths.add(os.path.join(libdir, soname))
    paths.add(os.path.join(sys.prefix, "pyvenv.cfg"))
    return sorted(p for p in paths if os.path.exists(p))


def _nested(path: str, others: list[str]) -> bool:
    return any(path != o and path.startswith(o.rstrip("/") + "/") for o in others)


def _identity_binds(paths: list[str]) -> list[tuple[str, str]]:
    """Each path bound at itself (from its real path), minus those inside another one."""
    paths = sorted(set(paths))
    return [(os.path.realpath(p), p) for p in paths if not _nested(p, paths)]


@lru_cache(maxsize=8)
def _fixed(tools: tuple[str, ...], code_root: str) -> View:
    """The part of the view that does not change while this process runs (built once: ~10 ms)."""
    same = [*library_dirs(), *interpreter_paths(), *(p for p in ETC if os.path.exists(p))]
    same += [t for t in (shutil.which(name) for name in tools) if t]
    fixed = View(binds=_identity_binds(same))
    fixed.binds += [(src, f"{code_root}/{name}") for name, src in host_packages().items()]
    for link in TOP_LINKS:
        if os.path.islink(link):
            target = os.readlink(link)
            absolute = os.path.normpath(os.path.join("/", target))
            if any(absolute == d or absolute.startswith(d + "/") or d.startswith(absolute + "/")
                   for _s, d in fixed.binds):
                fixed.links.append((link, target))
    return fixed


def allowed(job: object | None, tools: tuple[str, ...] = (), code_root: str = CODE_ROOT) -> View:
    """The view for `job`: what to bind (read-only) and which merged-/usr symlinks to recreate.

    `tools`: executables the launcher runs inside the view (found on PATH, bound as files).
    """
    from sandboxes.backends import gpu
    from sandboxes.backends.fences import model_cache

    fixed = _fixed(tuple(tools), code_root)
    caches = [p for p in (model_cache(), getattr(job, "embed_cache", "") or "") if p and os.path.isdir(p)]
    binds = [*fixed.binds, *_identity_binds([os.path.realpath(p) for p in caches])]
    limits = getattr(job, "limits", None)
    devices = gpu.device_nodes() if getattr(limits, "gpu", False) else []
    # Parents first: a bind made before one of its parents would be covered by it.
    return View(binds=sorted(binds, key=lambda b: b[1].count("/")), links=list(fixed.links), devices=devices)


def relocation(host: dict[str, str], code_root: str = CODE_ROOT) -> list[tuple[list, int, str]]:
    """What `relocate` changes, computed once in the fork server before it forks.

    Touching every module in each child would write to (and so copy) a page per module; the
    plan holds only the ``__path__`` entries under the exposed packages.
    """
    moves = [(src, f"{code_root}/{name}") for name, src in host.items()]
    plan = []
    for module in list(sys.modules.values()):
        paths = getattr(module, "__path__", None)
        if isinstance(paths, list):
            for i, p in enumerate(paths):
                for src, dst in moves:
                    if p == src or p.startswith(src + "/"):
                        plan.append((paths, i, dst + p[len(src):]))
    return plan


def relocate_modules(host: dict[str, str], code_root: str = CODE_ROOT,
                     plan: list[tuple[list, int, str]] | None = None) -> None:
    """Point already-imported packages at their paths inside the view (the fork server's children).

    Submodules imported later are then found under `code_root`, the only place they exist.
    `plan`: `relocation(host, code_root)` computed before the fork (else computed here).
    """
    for paths, i, dst in relocation(host, code_root) if plan is None else plan:
        paths[i] = dst
    roots = {str(Path(src).parent) for src in host.values()}
    sys.path[:] = [code_root if p in roots else p for p in sys.path]
    # Only the finders of the moved paths go: clearing the whole cache would free (and so write to,
    # copy-on-write) every cached directory listing, ~5 ms a job; the other paths are the same inside.
    for key in [k for k in sys.path_importer_cache if k in roots or any(
            k == src or k.startswith(src + "/") for src in host.values())]:
        del sys.path_importer_cache[key]
