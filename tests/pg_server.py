"""A throwaway PostgreSQL server on this machine (initdb + pg_ctl on a free port, as user postgres when
run as root), for the tests (tests/conftest.py's ``postgres_url``) and the store bench (bench/store.py)."""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class PostgresUnavailable(Exception):
    """The server programs are missing or the server would not start (the message says which)."""


def pg_program(name: str) -> str | None:
    installed = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))  # Debian keeps them off PATH
    return shutil.which(name) or (installed[-1] if installed else None)


@contextmanager
def postgres_server() -> Iterator[str]:
    """A URL (``postgresql+psycopg://postgres@127.0.0.1:PORT/postgres``) of a fresh server, stopped and
    removed on exit."""
    initdb, pg_ctl = pg_program("initdb"), pg_program("pg_ctl")
    if not initdb or not pg_ctl:
        raise PostgresUnavailable("PostgreSQL server programs (initdb, pg_ctl) are not installed")
    base = Path(tempfile.mkdtemp(prefix="tierwise-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(base, ignore_errors=True)
            raise PostgresUnavailable("running as root and there is no postgres user to start PostgreSQL as") \
                from None
        prefix = [shutil.which("runuser") or "runuser", "-u", "postgres", "--"]
        os.chown(base, user.pw_uid, user.pw_gid)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = base / "data"
    try:
        subprocess.run(prefix + [initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"],
                       check=True, capture_output=True)
        subprocess.run(prefix + [pg_ctl, "-D", str(data), "-l", str(base / "log"), "-w", "-o",
                                 f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                       check=True, capture_output=True)
    except (subprocess.CalledProcessError, OSError) as exc:
        shutil.rmtree(base, ignore_errors=True)
        raise PostgresUnavailable(f"could not start PostgreSQL: {exc}") from None
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(prefix + [pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
