"""A throwaway PostgreSQL server for tests and benchmarks.

`running_server()` runs `initdb` into a new temporary directory, starts `postgres` listening on
127.0.0.1 at a free port (its Unix socket goes into the same directory, so nothing outside it is
touched), creates a database and yields its DSN; on exit it stops the server with a fast shutdown
and deletes the directory.

The binaries are looked for in `$STEPLINE_PG_BIN`, then Debian's `/usr/lib/postgresql/<major>/bin`
(newest first), then `PATH`. PostgreSQL refuses to run as root, so under root the server runs as
the `postgres` system user that Debian's `postgresql` package creates (the data directory is
handed to that user); under any other user it runs as that user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Final, NamedTuple

SERVER_USER: Final = "postgres"
DATABASE: Final = "stepline"
ROLE: Final = "stepline"
_START_TIMEOUT_S: Final = 30.0


class ServerUnavailable(Exception):
    """PostgreSQL cannot be run here; the message says why (tests skip with it)."""


def find_bin_dir() -> Path:
    """Return the directory holding `initdb`, `postgres` and `pg_isready`."""
    candidates: list[Path] = []
    if override := os.environ.get("STEPLINE_PG_BIN"):
        candidates.append(Path(override))
    debian = Path("/usr/lib/postgresql").glob("*/bin")
    candidates.extend(sorted(debian, key=_major_version, reverse=True))
    if on_path := shutil.which("initdb"):
        candidates.append(Path(on_path).parent)
    for directory in candidates:
        if all((directory / name).is_file() for name in ("initdb", "postgres", "pg_isready")):
            return directory
    raise ServerUnavailable(
        "PostgreSQL server binaries not found (set STEPLINE_PG_BIN, or "
        "`apt-get install -y postgresql`)"
    )


def _major_version(bin_dir: Path) -> int:
    name = bin_dir.parent.name
    return int(name) if name.isdigit() else 0


def _server_account() -> pwd.struct_passwd | None:
    """The account to run the server as, or None to run it as ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise ServerUnavailable(
            f"running as root and there is no {SERVER_USER!r} user to run PostgreSQL as"
        ) from None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_server(settings: Mapping[str, str] | None = None) -> Iterator[str]:
    """Run a private server for the duration of the block; yield a DSN of its database.

    `settings` are extra `postgres -c name=value` options.

    Raises:
        ServerUnavailable: no binaries, or no account to run them as.
        RuntimeError: the server did not start (its log is in the message).
    """
    bin_dir = find_bin_dir()
    account = _server_account()
    root = Path(tempfile.mkdtemp(prefix="stepline-pg-"))
    try:
        if account is not None:
            os.chown(root, account.pw_uid, account.pw_gid)
        as_server = _runner(account)
        data = root / "data"
        as_server(
            [
                bin_dir / "initdb",
                "-D",
                data,
                "-U",
                ROLE,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
        )
        port = _free_port()
        options = {
            "listen_addresses": "127.0.0.1",
            "port": str(port),
            "unix_socket_directories": str(root),
            "max_connections": "200",
            **(settings or {}),
        }
        arguments: list[str | Path] = [bin_dir / "postgres", "-D", data]
        for name, value in options.items():
            arguments += ["-c", f"{name}={value}"]
        log_path = root / "server.log"
        who = _identity(account)
        with log_path.open("wb") as log_file:
            server = subprocess.Popen(
                arguments,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                user=who.user,
                group=who.group,
                extra_groups=who.extra_groups,
            )
        try:
            _wait_until_ready(bin_dir, server, port, log_path)
            as_server(
                [bin_dir / "createdb", "-h", "127.0.0.1", "-p", str(port), "-U", ROLE, DATABASE]
            )
            yield f"postgresql://{ROLE}@127.0.0.1:{port}/{DATABASE}"
        finally:
            # SIGINT is PostgreSQL's "fast" shutdown: it ends sessions instead of waiting.
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=_START_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    finally:
        shutil.rmtree(root, ignore_errors=True)


class _Identity(NamedTuple):
    """`subprocess` arguments that run a child as the server account (all None: as ourselves)."""

    user: int | None
    group: int | None
    extra_groups: list[int] | None


def _identity(account: pwd.struct_passwd | None) -> _Identity:
    if account is None:
        return _Identity(None, None, None)
    return _Identity(account.pw_uid, account.pw_gid, [])


def _runner(account: pwd.struct_passwd | None) -> Callable[[list[str | Path]], None]:
    who = _identity(account)

    def run(arguments: list[str | Path]) -> None:
        completed = subprocess.run(
            arguments,
            capture_output=True,
            check=False,
            user=who.user,
            group=who.group,
            extra_groups=who.extra_groups,
        )
        if completed.returncode != 0:
            output = (completed.stdout + completed.stderr).decode(errors="replace")
            raise RuntimeError(f"{arguments[0]} failed ({completed.returncode}):\n{output}")

    return run


def _wait_until_ready(
    bin_dir: Path, server: subprocess.Popen[bytes], port: int, log_path: Path
) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"postgres exited with {server.returncode}:\n{log_path.read_text()}")
        probe = subprocess.run(
            [bin_dir / "pg_isready", "-q", "-h", "127.0.0.1", "-p", str(port)], check=False
        )
        if probe.returncode == 0:
            return
        time.sleep(0.05)
    raise RuntimeError(f"postgres did not accept connections in time:\n{log_path.read_text()}")
