"""`memarch sandbox check`: does containment hold on this node, and how fast is it?

For one backend: a good program must score; then four small attacks must fail — a TCP
connection to a listener this check runs on 127.0.0.1, a planted secret in the caller's
environment, a file written into the caller's home directory, and a detached grandchild
that tries to outlive the job. Each probe reports ``held`` or ``BROKEN`` with the evidence.
"""
from __future__ import annotations

import os
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from sandboxes.job import Job, Limits

PROBE = '''
import ctypes, os, socket, time
from design_space import MemoryProgram, Recall
ctypes.CDLL(None).prctl(15, b"{token}", 0, 0, 0)
class Memory(MemoryProgram):
    def encode(self, event):
        out = []
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=1).close(); out.append("net:CONNECTED")
        except OSError as exc:
            out.append("net:" + exc.__class__.__name__)
        out.append("env:" + ("LEAKED" if "{secret}" in repr(dict(os.environ)) else "clean"))
        try:
            open({escape!r}, "w").write("x"); out.append("write:WRITTEN")
        except OSError as exc:
            out.append("write:" + exc.__class__.__name__)
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(60)
            os._exit(0)
        os.wait()
        raise RuntimeError("probe " + " ".join(out))
    def store(self, records): pass
    def retrieve(self, query): return Recall(())
    def manage(self, signal): pass
'''
SEED = Path(__file__).resolve().parents[2] / "design_space" / "seeds" / "recency_window.py"


@dataclass
class Check:
    name: str
    held: bool
    detail: str


def _survivors(token: str) -> int:
    n = 0
    for entry in os.listdir("/proc"):
        try:
            n += entry.isdigit() and Path(f"/proc/{entry}/comm").read_text().strip() == token
        except OSError:
            continue
    return n


def check_backend(sandbox) -> tuple[list[Check], float]:
    """Run the good program and the probes on `sandbox`; returns the checks and no-op ms."""
    t0 = time.perf_counter()
    good = sandbox.run(Job(program=SEED.read_text(), task="synthetic", fidelity="smoke",
                           limits=Limits(wall_seconds=60)))
    ms = (time.perf_counter() - t0) * 1000
    checks = [Check("good program scores", good.status == "ok", good.status + (f": {good.error[:200]}"
                                                                               if good.error else ""))]
    token, secret = "mxchk" + secrets.token_hex(4), "sk-check-" + secrets.token_hex(8)
    escape = Path.home() / f".memarch-check-{token}"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    os.environ["MEMARCH_CHECK_SECRET"] = secret
    try:
        program = PROBE.format(token=token, port=listener.getsockname()[1], secret=secret, escape=str(escape))
        result = sandbox.run(Job(program=program, task="synthetic", fidelity="smoke",
                                 limits=Limits(wall_seconds=30)), validate=False)
        time.sleep(0.2)
        try:
            listener.accept()[0].close()
            connected = True
        except BlockingIOError:
            connected = False
        report = result.error.rsplit("RuntimeError: probe ", 1)[-1].strip()[:200]
        checks += [
            Check("no network (loopback listener)", not connected and "CONNECTED" not in report, report),
            Check("no secrets in the environment", "LEAKED" not in report and secret not in result.to_json(),
                  report),
            Check("no writes outside the job dir", not escape.exists(), str(escape)),
            Check("nothing outlives the job", _survivors(token) == 0, f"{_survivors(token)} left"),
        ]
    finally:
        os.environ.pop("MEMARCH_CHECK_SECRET", None)
        listener.close()
        escape.unlink(missing_ok=True)
    return checks, ms
