"""Allocates and touches memory until something stops it."""
import ctypes

from design_space import MemoryProgram, Recall

ctypes.CDLL(None).prctl(15, b"__TOKEN__", 0, 0, 0)


class Memory(MemoryProgram):
    def encode(self, event):
        hoard = []
        while True:
            hoard.append(b"x" * (32 << 20))

    def store(self, records):
        pass

    def retrieve(self, query):
        return Recall(())

    def manage(self, signal):
        pass
