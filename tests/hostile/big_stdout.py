"""Floods stdout with gigabytes."""
import ctypes
import os
import sys

from design_space import MemoryProgram, Recall

ctypes.CDLL(None).prctl(15, b"__TOKEN__", 0, 0, 0)


class Memory(MemoryProgram):
    def encode(self, event):
        chunk = "y" * (1 << 20)
        for _ in range(4096):  # 4 GiB
            sys.stdout.write(chunk)
            os.write(1, chunk.encode())
        return []

    def store(self, records):
        pass

    def retrieve(self, query):
        return Recall(())

    def manage(self, signal):
        pass
