"""Breaks the contract: retrieve returns a string instead of a Recall."""
import ctypes

from design_space import MemoryProgram

ctypes.CDLL(None).prctl(15, b"__TOKEN__", 0, 0, 0)


class Memory(MemoryProgram):
    def encode(self, event):
        return [event.text]

    def store(self, records):
        pass

    def retrieve(self, query):
        return "everything, probably"

    def manage(self, signal):
        pass
