"""PgBouncer for the benchmark: a throw-away instance in transaction mode.

PgBouncer refuses to run as root; when the benchmark runs as root, PgBouncer runs as
the `postgres` user (which Debian's packages create) and its files are made readable
to it.
"""

import os
import pwd
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def find() -> str | None:
    """The pgbouncer executable (Debian puts it in /usr/sbin), if installed."""
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/bin")


def version(executable: str) -> str:
    """`PgBouncer 1.18.0`, say."""
    output = subprocess.run([executable, "--version"], capture_output=True, text=True).stdout
    return output.splitlines()[0].strip() if output else "PgBouncer"


def supports_prepared_statements(banner: str) -> bool:
    """Whether this PgBouncer tracks protocol-level prepared statements (1.21 and later)."""
    match = re.search(r"(\d+)\.(\d+)", banner)
    return match is not None and (int(match.group(1)), int(match.group(2))) >= (1, 21)


@contextmanager
def running(
    executable: str,
    folder: Path,
    *,
    listen_port: int,
    upstream: tuple[str, int],
    database: str,
    user: str,
    password: str,
    pool_size: int,
) -> Iterator[str]:
    """Run PgBouncer in transaction mode in front of `database`; yield its version.

    `folder` (which must exist, and be reachable by the `postgres` user when run as
    root) receives the configuration, the log and the pid file.
    """
    banner = version(executable)
    settings = [
        "[databases]",
        f"{database} = host={upstream[0]} port={upstream[1]} dbname={database} "
        f"user={user} password={password}",
        "[pgbouncer]",
        "listen_addr = 127.0.0.1",
        f"listen_port = {listen_port}",
        "auth_type = any",
        "pool_mode = transaction",
        f"default_pool_size = {pool_size}",
        "max_client_conn = 500",
        "unix_socket_dir =",
        f"logfile = {folder / 'pgbouncer.log'}",
        f"pidfile = {folder / 'pgbouncer.pid'}",
    ]
    if supports_prepared_statements(banner):
        settings.append("max_prepared_statements = 200")
    config = folder / "pgbouncer.ini"
    config.write_text("\n".join(settings) + "\n")
    command = [executable, str(config)]
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        for path in (folder, config):
            os.chown(path, account.pw_uid, account.pw_gid)
        command = ["runuser", "-u", "postgres", "--", *command]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        _wait_for_port(listen_port, process, folder / "pgbouncer.log")
        yield banner
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = log.read_text() if log.exists() else ""
            raise RuntimeError(f"pgbouncer exited ({process.returncode}):\n{text[-2000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("pgbouncer did not start listening")
