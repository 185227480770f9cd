"""How the CLI presents itself: help that reads like a man page, and usage errors on one line.

Typer's defaults show flags as `--all <bool>` (inviting `--all true`, which fails), arguments
as `{run}`, and usage errors as a multi-line box. Here arguments are shown as `RUN`, flags
take no value label, and a usage error is one line on stderr (exit 2) that names the usage.
"""
from __future__ import annotations

import sys
from typing import Any

from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from evolve.terminal import print_error


def _tidy(params: list[Any]) -> None:
    for p in params:
        if isinstance(p, TyperArgument) and p.metavar is None:
            p.metavar = p.name.upper()
        elif isinstance(p, TyperOption) and p.is_flag and p.metavar is None:
            p.metavar = ""


def _adopt(group: TyperGroup) -> None:
    """Commands come from `@app.command()` in several modules (and sub-groups like `sandbox`):
    give every one this presentation without each decorator having to ask for it."""
    _tidy(group.params)
    for cmd in group.commands.values():
        if type(cmd) is TyperCommand:
            cmd.__class__ = Command
            _tidy(cmd.params)
        elif type(cmd) is TyperGroup:
            cmd.__class__ = Group
            _adopt(cmd)


class Command(TyperCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _tidy(self.params)

    def get_help_option(self, ctx: Any) -> Any:
        opt = super().get_help_option(ctx)
        if opt is not None:
            opt.metavar = ""
        return opt

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        """`RUN [CANDIDATE] [OPTIONS]` rather than `[OPTIONS] {run} [candidate]`."""
        args = [p for p in self.get_params(ctx) if isinstance(p, TyperArgument)]
        pieces = [p.metavar if p.required else f"[{p.metavar}]" for p in args]
        return pieces + (["[OPTIONS]"] if any(isinstance(p, TyperOption) for p in self.params) else [])


class Group(TyperGroup):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _adopt(self)

    def get_help_option(self, ctx: Any) -> Any:
        opt = super().get_help_option(ctx)
        if opt is not None:
            opt.metavar = ""
        return opt

    def main(self, args: Any = None, prog_name: Any = None, complete_var: Any = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        from typer._click.exceptions import ClickException, NoArgsIsHelpError
        from typer.exceptions import Abort

        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except NoArgsIsHelpError as exc:  # help was printed: nothing to add
            sys.exit(exc.exit_code)
        except ClickException as exc:
            ctx = getattr(exc, "ctx", None)
            hint = f" (usage: {ctx.get_usage().removeprefix('Usage: ').strip()}; " \
                   f"`{ctx.command_path} --help` for more)" if ctx is not None else ""
            print_error(" ".join(exc.format_message().replace("Value error, ", "").split()) + hint)
            sys.exit(exc.exit_code)
        except Abort:
            print_error("aborted")
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)
