"""Leaves a double-forked, setsid()-detached grandchild behind and returns normally."""
import ctypes
import os
import time

from design_space import MemoryProgram, Recall

ctypes.CDLL(None).prctl(15, b"__TOKEN__", 0, 0, 0)


def _linger():
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)
        return
    os.setsid()
    if os.fork():
        os._exit(0)
    for _ in range(3000):  # outlive the job by minutes if nothing stops it
        time.sleep(0.1)
    os._exit(0)


class Memory(MemoryProgram):
    def __init__(self, kit):
        super().__init__(kit)
        _linger()

    def encode(self, event):
        return []

    def store(self, records):
        pass

    def retrieve(self, query):
        return Recall(())

    def manage(self, signal):
        pass
