"""Tries to write files outside its temp dir: the repo, the caller's home, /tmp."""
import ctypes

from design_space import MemoryProgram, Recall

ctypes.CDLL(None).prctl(15, b"__TOKEN__", 0, 0, 0)

TARGETS = __TARGETS__


class Memory(MemoryProgram):
    def encode(self, event):
        outcome = []
        for path in TARGETS:
            try:
                with open(path, "w") as fh:
                    fh.write("escaped __TOKEN__")
                outcome.append(f"{path} WRITTEN")
            except OSError as exc:
                outcome.append(f"{path} {exc.__class__.__name__}")
        raise RuntimeError("write probe: " + "; ".join(outcome))

    def store(self, records):
        pass

    def retrieve(self, query):
        return Recall(())

    def manage(self, signal):
        pass
