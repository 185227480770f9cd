"""What is searched: the memory-program contract, building blocks and seed programs."""
from design_space.contract import (
    STAGES,
    Event,
    MemoryProgram,
    Query,
    Recall,
    RecallItem,
    Signal,
    Toolkit,
)

__all__ = ["STAGES", "Event", "MemoryProgram", "Query", "Recall", "RecallItem", "Signal", "Toolkit"]
