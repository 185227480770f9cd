"""Spins forever on the first event: the CPU limit or the wall clock must end it."""
import ctypes

from design_space import MemoryProgram, Recall

ctypes.CDLL(None).prctl(15, b"__TOKEN__", 0, 0, 0)


class Memory(MemoryProgram):
    def encode(self, event):
        while True:
            pass

    def store(self, records):
        pass

    def retrieve(self, query):
        return Recall(())

    def manage(self, signal):
        pass
