"""``--backend`` and ``--spark-conf``: one decorator for the commands that evaluate (run, explain, test)."""
from __future__ import annotations

import functools
from typing import Any, Callable

import click

BACKEND_HELP = ("Where to evaluate: duckdb (default, in process), spark (local[2] unless SPARK_MASTER, "
                "spark-defaults.conf or --spark-conf spark.master=... names a cluster) or "
                "postgresql://USER@HOST[:PORT]/DB (password from TIERWISE_PG_PASSWORD or PGPASSWORD).")


def backend_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Adds --backend (also TIERWISE_BACKEND) and --spark-conf KEY=VALUE (repeatable); the command
    runs with that backend chosen (``engine.backends.use_backend``)."""

    @click.option("--backend", "backend", envvar="TIERWISE_BACKEND", metavar="BACKEND", help=BACKEND_HELP)
    @click.option("--spark-conf", "spark_conf", multiple=True, metavar="KEY=VALUE",
                  help="A Spark setting for --backend spark (repeatable), e.g. spark.executor.memory=4g.")
    @functools.wraps(fn)
    def wrapper(*args: Any, backend: str | None, spark_conf: tuple[str, ...], **kwargs: Any) -> Any:
        from ..engine.backends import check_spec, use_backend

        if backend is not None and check_spec(backend):
            raise click.BadParameter(str(check_spec(backend)), param_hint="--backend")
        conf = {}
        for item in spark_conf:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise click.BadParameter(f"'{item}' is not KEY=VALUE", param_hint="--spark-conf")
            conf[key.strip()] = value.strip()
        with use_backend(backend, conf):
            return fn(*args, **kwargs)

    return wrapper
