"""Opens TCP connections to listeners the test runs (loopback, and a test network namespace)."""
import ctypes
import socket

from design_space import MemoryProgram, Recall

ctypes.CDLL(None).prctl(15, b"__TOKEN__", 0, 0, 0)

TARGETS = __TARGETS__


class Memory(MemoryProgram):
    def encode(self, event):
        outcome = []
        for host, port in TARGETS:
            try:
                with socket.create_connection((host, port), timeout=1.0) as conn:
                    conn.sendall(b"__TOKEN__")
                outcome.append(f"{host}:{port} CONNECTED")
            except OSError as exc:
                outcome.append(f"{host}:{port} {exc.__class__.__name__}")
        raise RuntimeError("network probe: " + "; ".join(outcome))

    def store(self, records):
        pass

    def retrieve(self, query):
        return Recall(())

    def manage(self, signal):
        pass
