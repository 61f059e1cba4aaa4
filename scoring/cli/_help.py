"""How the commands' help reads: ``Usage: carescore score [OPTIONS] FILE``, and flags
without a value shown as taking none.

typer 0.29 writes a required argument as ``{file}`` in the usage line and a flag as
``--quiet <bool>``, although a flag takes no value; every command and group of
``carescore`` is built with :class:`Command` or :class:`Group`, which write ``FILE``
(``[FILE]`` when optional) and show no type after a flag.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import typer.core

# typer 0.29 builds commands on its own copy of click: contexts and parameters are its
from typer import _click
from typer.core import TyperArgument, TyperOption


def _argument_piece(param: TyperArgument) -> str:
    """An argument as the usage line shows it: its name in capitals, ``[NAME]`` when it
    may be left out, ``...`` when it takes several."""
    name = (param.metavar or param.name or "").upper()
    if param.nargs != 1:
        name += "..."
    return name if param.required else f"[{name}]"


def _no_flag_types(params: Iterable[object]) -> None:
    """A flag takes no value: no ``<bool>`` after it."""
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""


def _usage_pieces(command: _click.core.Command, ctx: _click.core.Context) -> list[str]:
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if isinstance(param, TyperArgument):
            pieces.append(_argument_piece(param))
    return pieces


class Command(typer.core.TyperCommand):
    """A ``carescore`` command (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _no_flag_types(self.params)

    def get_help_option(self, ctx: _click.core.Context) -> TyperOption | None:
        option = super().get_help_option(ctx)
        _no_flag_types([option])
        return option

    def collect_usage_pieces(self, ctx: _click.core.Context) -> list[str]:
        return _usage_pieces(self, ctx)


class Group(typer.core.TyperGroup):
    """A ``carescore`` group of commands (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _no_flag_types(self.params)

    def get_help_option(self, ctx: _click.core.Context) -> TyperOption | None:
        option = super().get_help_option(ctx)
        _no_flag_types([option])
        return option

    def collect_usage_pieces(self, ctx: _click.core.Context) -> list[str]:
        return [*_usage_pieces(self, ctx), self.subcommand_metavar or "COMMAND [ARGS]..."]
