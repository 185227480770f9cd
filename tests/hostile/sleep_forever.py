"""Sleeps forever: uses no CPU, so only the wall clock can end it."""
import ctypes
import time

from design_space import MemoryProgram, Recall

ctypes.CDLL(None).prctl(15, b"__TOKEN__", 0, 0, 0)


class Memory(MemoryProgram):
    def encode(self, event):
        time.sleep(10**6)
        return []

    def store(self, records):
        pass

    def retrieve(self, query):
        return Recall(())

    def manage(self, signal):
        pass
