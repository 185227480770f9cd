"""Program identity: a hash of the normalised AST, blind to comments, docstrings and layout."""
from __future__ import annotations

import ast
import hashlib


def _strip_docstrings(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]


def program_hash(code: str) -> str:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return "raw-" + hashlib.sha256(code.encode()).hexdigest()[:24]
    _strip_docstrings(tree)
    return hashlib.sha256(ast.dump(tree, annotate_fields=False).encode()).hexdigest()[:24]
