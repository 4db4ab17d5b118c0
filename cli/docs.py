"""Generate docs/cli.md from the commands' --help (``python -m tierwise.cli.docs``), and list every
command's ``Example:`` lines (a test runs them as written)."""
from __future__ import annotations

import shlex
from collections.abc import Iterator

import click

from .main import cli

SETTINGS = dict(cli.context_settings, terminal_width=100, max_content_width=100)


def commands() -> Iterator[tuple[str, click.Command, click.Context]]:
    """Every command with its full name ("" for tierwise itself, "override approve" for a subcommand)
    and a help context, groups before their subcommands, in the order of the help."""
    def walk(cmd: click.Command, path: list[str], parent: click.Context | None) -> Iterator[tuple[str, click.Command,
                                                                                                    click.Context]]:
        ctx = click.Context(cmd, info_name=" ".join(["tierwise", *path]), parent=None, **SETTINGS)
        yield " ".join(path), cmd, ctx
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                if sub is not None:  # a listed command is there
                    yield from walk(sub, [*path, name], ctx)

    yield from walk(cli, [], None)


def examples(help_text: str) -> list[str]:
    """The command lines under ``Example:`` in a help text (each starts with ``tierwise``)."""
    out: list[str] = []
    lines = help_text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() in ("Example:", "Examples:"):
            found = 0
            for follow in lines[i + 1:]:
                text = follow.strip()
                if not text.startswith("tierwise "):
                    if text or found:  # the block ends at the first other line, or a blank one after it
                        break
                    continue
                out.append(text)
                found += 1
    return out


def example_args(line: str) -> list[str]:
    """An example line as the arguments of ``tierwise`` (shell quoting as a user types it)."""
    words = shlex.split(line)
    assert words[0] == "tierwise", line
    return words[1:]


def render() -> str:
    out = ["# tierwise command line", "", "Generated from `--help` by `make docs`; do not edit by hand.", ""]
    for path, cmd, ctx in commands():
        if path:
            out += [f"## tierwise {path}", ""]
        out += ["```", cmd.get_help(ctx), "```", ""]
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover
    print(render(), end="")
