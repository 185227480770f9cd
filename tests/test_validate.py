"""Static validation accepts the seeds and names every problem of a bad program."""
import pytest

from design_space.seeds import seed_names, seed_source
from design_space.validate import validate_source

GOOD = '''
from design_space import MemoryProgram, Recall
class Memory(MemoryProgram):
    def encode(self, event): return [event]
    def store(self, records): pass
    def retrieve(self, query): return Recall(())
    def manage(self, signal): pass
'''


@pytest.mark.parametrize("name", seed_names())
def test_every_seed_validates(name):
    assert validate_source(seed_source(name)) == []


def codes(src):
    return [p.code for p in validate_source(src)]


def test_minimal_program_is_valid():
    assert validate_source(GOOD) == []


@pytest.mark.parametrize("snippet,code,word", [
    ("import os", "import", "'os'"),
    ("from subprocess import run", "import", "'subprocess'"),
    ("import socket", "import", "'socket'"),
    ("from . import x", "import", "relative"),
    ("X = eval('1')", "forbidden-call", "eval()"),
    ("X = exec('1')", "forbidden-call", "exec()"),
    ("X = open('/etc/passwd')", "forbidden-call", "open()"),
    ("X = __import__('os')", "forbidden-call", "__import__()"),
    ("X = (1).__class__.__subclasses__", "forbidden-attr", "__subclasses__"),
    ("X = getattr(len, '__globals__')", "forbidden-attr", "__globals__"),
])
def test_forbidden_constructs_are_named(snippet, code, word):
    problems = validate_source(snippet + "\n" + GOOD)
    assert any(p.code == code and word in p.message for p in problems), problems
    assert all(p.line >= 1 for p in problems if p.code != "contract")


def test_contract_problems_are_each_reported():
    src = "class Memory:\n    def encode(self, e):\n        return []\n"
    problems = validate_source(src)
    msgs = " | ".join(p.message for p in problems)
    assert "subclass MemoryProgram" in msgs
    for m in ("store()", "retrieve()", "manage()"):
        assert m in msgs
    assert "encode()" not in msgs


def test_missing_class_and_syntax_error():
    assert codes("x = 1\n") == ["contract"]
    problems = validate_source("def f(:\n  pass\n")
    assert [p.code for p in problems] == ["syntax"]


def test_size_limit():
    big = GOOD + "\n".join(f"X{i} = {i}" for i in range(3000))
    assert "size" in codes(big)


KIT_WRITER = GOOD.replace("    def store(self, records): pass", "    def store(self, records):\n        {line}")


@pytest.mark.parametrize("line", ["self.kit.hits = 12345", "self.kit.embedder.misses += 7",
                                  "self.kit.extra['k'] = records"])
def test_writing_into_the_toolkit_is_refused(line):
    # the kit's counters are left out of the footprint: a program must not keep state in them
    problems = validate_source(KIT_WRITER.format(line=line))
    assert [p.code for p in problems] == ["forbidden-attr"] and "self.kit" in problems[0].message


@pytest.mark.parametrize("line,refused", [
    ("import numpy as np\nX = np.zeros(3)\nX[np.arange(2)] = 1.0", False),  # writes X, reads np
    ("import numpy as np\nA, B = np.zeros(2), 1", False),
    ("import numpy as np\nnp.cache = 1", True),
    ("import numpy as np\nfor np.y in range(3):\n    pass", True),
    ("import numpy as np\nA, np.z = 1, 2", True),
    ("import numpy as np\nA = [0 for np.q in range(2)]", True),
])
def test_assignment_into_an_import_is_judged_by_what_is_written(line, refused):
    problems = [p for p in validate_source(line + "\n" + GOOD) if "imported" in p.message]
    assert bool(problems) == refused, problems
