"""Generate docs/cli.md from the commands' --help (``python -m tierwise.cli.docs``)."""
from __future__ import annotations

import click

from .main import cli


def render() -> str:
    out = ["# tierwise command line", "", "Generated from `--help` by `make docs`; do not edit by hand.", ""]
    settings = dict(cli.context_settings, terminal_width=100, max_content_width=100)
    ctx = click.Context(cli, info_name="tierwise", **settings)
    out += ["```", cli.get_help(ctx), "```", ""]
    for name in cli.list_commands(ctx):
        cmd = cli.get_command(ctx, name)
        sub = click.Context(cmd, info_name=f"tierwise {name}", **settings)
        out += [f"## tierwise {name}", "", "```", cmd.get_help(sub), "```", ""]
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover
    print(render(), end="")
