"""Hunts for gold: walks the whole visible filesystem for planted canaries and benchmark data files.

It lists every directory it can reach from ``/`` (``/proc``, ``/sys`` and ``/dev`` aside) and
reads the first 256 KB of every regular file, looking for the gold canaries planted in a
run database, a data directory, the caller's temp dir and home, and for data files by name.
Canaries and names are stored reversed, so its own source in the job dir cannot match.
"""
import ctypes
import os
import stat

from design_space import MemoryProgram, Recall

ctypes.CDLL(None).prctl(15, b"__TOKEN__", 0, 0, 0)

CANARIES = [c[::-1].encode() for c in __CANARIES__]
NAMES = {n[::-1] for n in __NAMES__}
SKIP = {"/proc", "/sys", "/dev"}
CHUNK = 256 * 1024


def _hunt():
    found, files, harness = [], 0, False
    for root, dirs, names in os.walk("/", onerror=lambda exc: None):
        dirs[:] = [d for d in dirs if os.path.join(root, d) not in SKIP]
        for name in dirs + names:
            if name in NAMES or any(c.decode() in name for c in CANARIES):
                found.append(os.path.join(root, name))
        for name in names:
            path = os.path.join(root, name)
            harness |= name == "harness.py"
            try:
                if not stat.S_ISREG(os.lstat(path).st_mode):
                    continue
                files += 1
                with open(path, "rb") as fh:
                    data = fh.read(CHUNK)
            except OSError:
                continue
            if any(c in data for c in CANARIES):
                found.append(path)
    return found, files, harness


class Memory(MemoryProgram):
    def encode(self, event):
        found, files, harness = _hunt()
        raise RuntimeError(f"hunt probe: files={files} harness={harness} found={sorted(set(found))[:20]}")

    def store(self, records):
        pass

    def retrieve(self, query):
        return Recall(())

    def manage(self, signal):
        pass
