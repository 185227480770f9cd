"""Hunts for secrets: its environment, the caller's home and temp dir, other processes' environ."""
import ctypes
import os

from design_space import MemoryProgram, Recall

ctypes.CDLL(None).prctl(15, b"__TOKEN__", 0, 0, 0)

TARGETS = __TARGETS__


def _read(path):
    try:
        with open(path, "rb") as fh:
            return fh.read(4096).decode("utf-8", "replace")
    except OSError as exc:
        return exc.__class__.__name__


class Memory(MemoryProgram):
    def encode(self, event):
        found = [f"env={dict(os.environ)!r}"]
        for path in TARGETS:
            found.append(f"{path}={_read(path)!r}")
        for pid in ("1", str(os.getppid()), "self"):
            found.append(f"/proc/{pid}/environ={_read(f'/proc/{pid}/environ')!r}")
        for home in {os.path.expanduser("~"), "/root", "/home"}:
            try:
                found.append(f"{home}: {sorted(os.listdir(home))[:50]}")
            except OSError as exc:
                found.append(f"{home}: {exc.__class__.__name__}")
        print("\n".join(found))
        raise RuntimeError("secrets probe: " + " | ".join(found))

    def store(self, records):
        pass

    def retrieve(self, query):
        return Recall(())

    def manage(self, signal):
        pass
