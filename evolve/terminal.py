"""The CLI's rich consoles: wrapped to the terminal when there is one, never wrapped when piped.

Rich lays out for 80 columns when its stream is not a terminal, which breaks one-line errors,
commands in hints and tables into pieces once output goes to a file, `grep` or `less`. Piped,
every line is printed whole (text soft-wrapped, tables as wide as their content).
"""
from __future__ import annotations

import sys
import time
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax

PIPE_WIDTH = 10_000  # wide enough that no table cell or line is ever folded


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def make_console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    if _is_tty(stream):
        return Console(stderr=stderr, log_path=False)
    return Console(stderr=stderr, log_path=False, width=PIPE_WIDTH, soft_wrap=True)


def log_line(console: Console, message: str) -> None:
    """A timestamped progress line: rich's log layout on a terminal; piped, one plain line (rich's
    log grid would pad it with spaces to the pipe width)."""
    if console.is_terminal:
        console.log(message)
    else:
        console.print(f"[{time.strftime('%H:%M:%S')}] {message}", markup=False, highlight=False)


def print_error(message: str, label: str = "error") -> None:
    """`error: <message>` on stderr, the message printed literally (brackets are not markup)."""
    make_console(stderr=True).print(f"[red]{label}:[/] {escape(message)}", highlight=False)


def code_view(console: Console, code: str, lexer: str) -> Syntax:
    """Highlighted code that is only as wide as its longest line when piped (Syntax pads to the width)."""
    width = None if console.is_terminal else max((len(s) for s in code.splitlines()), default=0) + 6
    return Syntax(code, lexer, line_numbers=lexer == "python", word_wrap=console.is_terminal, code_width=width)
