"""The OS fences the process and fork-server backends put around a candidate.

Everything here runs in a freshly forked child before the harness starts:

- rlimits: address space (not for GPU jobs, whose resident size the launcher watches
  instead), CPU seconds, open files, file size, no core dumps, processes;
- ``no_new_privs`` so no setuid binary on the host can hand privileges back;
- as root, where the kernel allows it: a private network namespace (no interface but a
  downed loopback) and a private mount namespace whose root is an empty tmpfs holding only
  the allow-list of `view` (interpreter, libraries, the harness packages, caches; all
  read-only) and the job's workdir, the one writable path;
- a job-specific unprivileged uid (so RLIMIT_NPROC counts this job alone and the program
  cannot signal or read other processes), applied by the launcher after the mounts.

`probe()` answers, once per process, which of these the machine allows.
"""
from __future__ import annotations

import ctypes
import os
import platform
import resource
import secrets
import stat
import sys
import tempfile
from functools import lru_cache

from sandboxes.backends import view
from sandboxes.job import Limits

CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 8, 4096, 16384, 1 << 18
SYS_MOUNT_SETATTR = 442  # x86_64 and aarch64 share the number
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
AT_FDCWD, AT_RECURSIVE, MOUNT_ATTR_RDONLY, MNT_DETACH = -100, 0x8000, 1, 2
DEVICES = view.DEVICES
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38

ENV_ALLOW = ("PATH", "LANG", "LC_ALL", "TZ", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
UID_BASE, UID_SPAN = 200_000, 50_000

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def model_cache() -> str:
    """The host's model cache (distilled embedders), shown read-only to the sandbox."""
    root = os.environ.get("MEMARCH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "memarch")
    return os.path.realpath(root)


def clean_env(workdir: str) -> dict[str, str]:
    """Only locale and library tuning survive; HOME points at the job's own dir. No keys, ever."""
    env = {k: os.environ[k] for k in ENV_ALLOW if k in os.environ}
    env.update({"MEMARCH_CACHE": model_cache(), "HOME": workdir, "TMPDIR": workdir, "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                "OPENBLAS_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    return env


def job_uid() -> int:
    """A uid no one else uses, so RLIMIT_NPROC and kill() permissions are per job."""
    return UID_BASE + secrets.randbelow(UID_SPAN)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def setns(fd: int, nstype: int) -> None:
    _check(_libc.setns(fd, nstype), "setns")


def prctl(option: int, value: int) -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0), "prctl")


def _mount(src: str | None, dst: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(src and src.encode(), dst.encode(), fstype and fstype.encode(), flags,
                       data and data.encode()), f"mount {dst}")


def _set_readonly(path: str, readonly: bool, recursive: bool) -> None:
    attr = _MountAttr(MOUNT_ATTR_RDONLY if readonly else 0, 0 if readonly else MOUNT_ATTR_RDONLY, 0, 0)
    _check(_libc.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, path.encode(), AT_RECURSIVE if recursive else 0,
                         ctypes.byref(attr), ctypes.sizeof(attr)), f"mount_setattr {path}")


def processes_of(uid: int) -> int:
    """How many processes (threads count too, as RLIMIT_NPROC counts them) `uid` runs now."""
    n = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                st = os.stat(f"/proc/{entry}")
                if st.st_uid == uid:
                    n += len(os.listdir(f"/proc/{entry}/task"))
            except OSError:
                continue
    return n


def nproc_limit(limits: Limits, uid: int | None) -> int:
    """RLIMIT_NPROC for a job: per real uid, so an unprivileged caller's own processes count too."""
    return limits.max_processes + (processes_of(os.getuid()) if uid is None and os.geteuid() != 0 else 0)


def set_rlimits(limits: Limits, nproc: int | None = None) -> None:
    mb = 1024 * 1024
    # Counted per real uid; a no-op for root, which is why root jobs also get their own uid.
    nproc = nproc or limits.max_processes
    # CUDA reserves virtual ranges far beyond any memory limit: a GPU job's memory is watched by
    # resident size from the launcher (process.wait_job) instead.
    address_space = () if limits.gpu else ((resource.RLIMIT_AS, limits.memory_mb * mb, limits.memory_mb * mb),)
    for which, soft, hard in (*address_space,
                              (resource.RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 5),
                              (resource.RLIMIT_NOFILE, limits.max_open_files, limits.max_open_files),
                              (resource.RLIMIT_FSIZE, limits.max_file_mb * mb, limits.max_file_mb * mb),
                              (resource.RLIMIT_CORE, 0, 0),
                              (resource.RLIMIT_NPROC, nproc, nproc)):
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError):
            if sys.platform == "linux":  # elsewhere (macOS) some limits cannot be lowered: keep the rest
                raise


def _mkdirs(path: str) -> None:
    """Create `path` and its missing parents 0755 whatever the umask (a dropped uid must traverse them)."""
    missing = []
    while not os.path.lexists(path):
        missing.append(path)
        path = os.path.dirname(path)
    for d in reversed(missing):
        os.mkdir(d)
        os.chmod(d, 0o755)


def _pivot_root(new: str, old: str) -> None:
    _check(_libc.syscall(SYS_PIVOT_ROOT[platform.machine()], new.encode(), old.encode()), "pivot_root")


def isolate_filesystem(workdir: str, binds: list, links: list, devices: list | tuple = ()) -> None:
    """In a new mount namespace, make the allow-list of `view.allowed` the whole filesystem.

    An empty tmpfs becomes the root; `binds` ((host path, path inside) pairs) are bound into it
    read-only, `links` recreated, a few device nodes (and `devices`) added and the job dir bound writable. The
    old root is then detached: nothing else is reachable, not even by path.
    """
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    mounts = [*((src, dst) for src, dst in binds), *((d, d) for d in (*DEVICES, *devices)), (workdir, workdir)]
    mounts.sort(key=lambda m: m[1].count("/"))  # a parent before what is bound inside it
    # O_PATH descriptors keep every source reachable once the staging tmpfs covers the job dir.
    fds: dict[str, int] = {}
    try:
        for src, _dst in mounts:
            if src not in fds:
                fds[src] = os.open(src, os.O_PATH)
        new = workdir  # any directory would do as the staging mount point
        _mount("tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
        for src, dst in mounts:
            target = new + dst
            if stat.S_ISDIR(os.fstat(fds[src]).st_mode):
                _mkdirs(target)
            else:
                _mkdirs(os.path.dirname(target))
                if not os.path.lexists(target):
                    os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
            # Not MS_REC: a recursive bind would bring along mounts below a source, the staging
            # tmpfs on the job dir included.
            _mount(f"/proc/self/fd/{fds[src]}", target, None, MS_BIND)
        for path, target in links:
            os.symlink(target, new + path)
        _mkdirs(new + "/proc")
    finally:
        for fd in fds.values():
            os.close(fd)
    os.chdir(new)
    _pivot_root(".", ".")  # the old root is stacked on the new one ...
    _check(_libc.umount2(b".", MNT_DETACH), "umount old root")  # ... and detached here
    os.chdir("/")
    _set_readonly("/", True, recursive=True)
    _set_readonly(workdir, False, recursive=False)
    os.chdir(workdir)


def enter(workdir: str, limits: Limits, isolate: bool, binds: list, links: list,
          extra_ns: int = 0, nproc: int | None = None, devices: list | tuple = (), net: bool = True) -> None:
    """Apply every fence this process can apply to itself (run in the forked child).

    `binds` and `links` are the launcher's `view.allowed`: computed there, where the
    interpreter and the packages to expose are known. `net=False`: the caller already sits in a
    private, empty network namespace (the fork server's), so none is made per job.
    """
    if sys.platform == "linux":
        prctl(PR_SET_NO_NEW_PRIVS, 1)
    if isolate:
        unshare((CLONE_NEWNET if net else 0) | CLONE_NEWNS | extra_ns)
        isolate_filesystem(workdir, binds, links, devices)
    set_rlimits(limits, nproc)


def mount_proc() -> None:
    """A /proc that shows only the new PID namespace (call as its first process)."""
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def drop_privileges(uid: int) -> None:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


@lru_cache(maxsize=1)
def probe() -> dict[str, bool]:
    """Which fences work here: tried once in a throwaway child, never in this process."""
    root = os.geteuid() == 0
    isolate = False
    if root and sys.platform == "linux":
        workdir = tempfile.mkdtemp(prefix="memarch-probe-")
        try:
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    unshare(CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID)
                    fs = view.allowed(None)
                    isolate_filesystem(workdir, fs.binds, fs.links)
                    code = 0
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            isolate = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        finally:
            os.rmdir(workdir)  # the staging tmpfs covered it in the child's namespace only
    return {"root": root, "namespaces": isolate, "uid_drop": root,
            "unshare_binary": bool(_which("unshare")), "bwrap": bool(_which("bwrap")),
            "setpriv": bool(_which("setpriv"))}


def _which(name: str) -> str | None:
    from shutil import which
    return which(name)
