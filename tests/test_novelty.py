"""Program identity: blind to comments, docstrings and layout; never blind to what the code does."""
from __future__ import annotations

from design_space.seeds import seed_source
from evolve.novelty import program_hash

BASE = seed_source("bm25_rag")


def test_comments_docstrings_and_layout_do_not_change_identity():
    commented = BASE.replace("\nclass Memory", "\n# a comment\n\n\nclass Memory", 1)
    assert commented != BASE and program_hash(commented) == program_hash(BASE)
    redoc = BASE.replace('"""', '"""Another docstring. ', 1)
    assert redoc != BASE and program_hash(redoc) == program_hash(BASE)
    wrapped = "x = (1 +\n     2)\ny = [1,\n 2]\n"
    assert program_hash(wrapped) == program_hash("x = (1 + 2)\ny = [1, 2]\n")


def test_any_change_to_what_runs_changes_identity():
    knob = BASE.replace("TOP_K = ", "TOP_K = 1 + ", 1)
    assert knob != BASE and program_hash(knob) != program_hash(BASE)
    assert program_hash("def f(x):\n    return x\n") != program_hash("def g(x):\n    return x\n")
    assert program_hash("x = 'a'\n") != program_hash("x = 'b'\n")


def test_asserts_and_debug_blocks_count_although_the_compiler_drops_them():
    plain = "def f(x):\n    return x\n"
    checked = "def f(x):\n    assert x > 0\n    return x\n"
    debug = "def f(x):\n    if __debug__:\n        x += 1\n    return x\n"
    assert len({program_hash(plain), program_hash(checked), program_hash(debug)}) == 3
    assert program_hash("def f(x):\n    assert x > 1\n    return x\n") != program_hash(checked)
    # the word in a comment is not an assert: identity stays that of the plain program
    assert program_hash("# assert nothing here\n" + plain) == program_hash(plain)


def test_try_ranges_are_part_of_identity():
    one = "def f(a, b):\n    try:\n        a()\n        b()\n    except Exception:\n        pass\n"
    two = "def f(a, b):\n    a()\n    try:\n        b()\n    except Exception:\n        pass\n"
    assert program_hash(one) != program_hash(two)


def test_unparsable_code_still_gets_an_identity():
    assert program_hash("def (:\n").startswith("raw-")
    assert program_hash("def (:\n") != program_hash("def ((:\n")


def test_identity_is_the_same_in_every_process():
    """A set constant's order follows string hashes, which differ per process; marshal's bytes
    follow reference counts. Neither may reach the hash: resume and dedupe compare across runs."""
    import subprocess
    import sys

    code = BASE + '\n\ndef _kind(word):\n    return word in {"alpha", "beta", "gamma", "delta", "epsilon"}\n'
    probe = f"from evolve.novelty import program_hash; print(program_hash({code!r}))"
    seen = {subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": str(seed), "PATH": ""}).stdout.strip() for seed in (1, 2, 3, 4)}
    assert seen == {program_hash(code)}
