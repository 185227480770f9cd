"""Program identity: a hash of the compiled program, blind to comments, docstrings and layout.

The program is compiled as ``python -OO`` would (docstrings dropped) and each code object is
hashed without its line and column tables and without the NOPs that only mark lines, so two
programs that differ in comments, docstrings, blank lines or where a statement breaks get
the same hash. Compiling from source runs in C: several times cheaper than walking and
dumping the AST in Python, which a campaign paid for every child.

``-OO`` also compiles out ``assert`` statements and ``if __debug__`` blocks; a program that
uses either (a real token, not a word in a comment) also hashes its token stream, so it stays
distinct from the same program without them (such a program's hash then sees its docstrings).
A mismatch can only ever make two equivalent programs look different (one extra evaluation),
never make two different programs look the same.
"""
from __future__ import annotations

import hashlib
import io
import opcode
import tokenize
from types import CodeType

import numpy as np

NOP = opcode.opmap["NOP"]
_LAYOUT = (tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER)


def _shape(code: CodeType) -> str:
    """What a code object does, without where its lines are, as canonical text (never marshal: its
    output depends on reference counts, so the same program could hash differently run to run)."""
    units = np.frombuffer(code.co_code, dtype="<u2")  # (opcode, argument) byte pairs
    ops = units[(units & 0xFF) != NOP].tobytes()
    parts = (ops, code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars, code.co_name,
             code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount, code.co_flags, code.co_exceptiontable)
    return "code(" + repr(parts) + "," + ",".join(_canon(c) for c in code.co_consts) + ")"


def _canon(value: object) -> str:
    if isinstance(value, CodeType):
        return _shape(value)
    if isinstance(value, tuple):
        return "(" + ",".join(_canon(v) for v in value) + ")"
    if isinstance(value, frozenset):  # set order follows string hashes, which differ per process
        return "{" + ",".join(sorted(_canon(v) for v in value)) + "}"
    return type(value).__name__ + ":" + repr(value)


def _debug_tokens(code: str) -> bytes:
    """The token stream (no comments, no blank lines) if the program uses assert or __debug__."""
    if "assert" not in code and "__debug__" not in code:
        return b""
    tokens = [(t.type, t.string) for t in tokenize.generate_tokens(io.StringIO(code).readline)
              if t.type not in _LAYOUT]
    if not any(kind == tokenize.NAME and text in ("assert", "__debug__") for kind, text in tokens):
        return b""
    return repr(tokens).encode()


def program_hash(code: str) -> str:
    try:
        compiled = compile(code, "<program>", "exec", dont_inherit=True, optimize=2)
        extra = _debug_tokens(code)
    except (SyntaxError, ValueError, tokenize.TokenError):
        return "raw-" + hashlib.sha256(code.encode()).hexdigest()[:24]
    return hashlib.sha256(_shape(compiled).encode() + extra).hexdigest()[:24]
