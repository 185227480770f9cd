"""Forks without end; every child forks too and ignores failures."""
import ctypes
import os
import time

from design_space import MemoryProgram, Recall

ctypes.CDLL(None).prctl(15, b"__TOKEN__", 0, 0, 0)


class Memory(MemoryProgram):
    def encode(self, event):
        while True:
            try:
                os.fork()
            except OSError:
                time.sleep(0.01)

    def store(self, records):
        pass

    def retrieve(self, query):
        return Recall(())

    def manage(self, signal):
        pass
