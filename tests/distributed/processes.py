"""Start and stop the processes of the multi-process tests: free ports on
127.0.0.1, a timeout on every wait, every child stopped in the end."""

import contextlib
import os
import socket
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def free_ports(count: int) -> list:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@contextlib.contextmanager
def started(commands, log_dir, envs=None):
    """Start each command (a list of arguments to Python) with its output
    in `log_dir` and its extra environment variables from `envs`; kill
    whatever is still running on exit."""
    base = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    base.pop("TF_CONFIG", None)
    children = []
    try:
        for i, command in enumerate(commands):
            env = dict(base, **(envs[i] if envs else {}))
            log = open(Path(log_dir) / f"process-{len(children)}-{i}.log", "w")
            children.append(
                (
                    subprocess.Popen(
                        [sys.executable, *map(str, command)],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env=env,
                    ),
                    log,
                )
            )
        yield [child for child, _ in children]
    finally:
        for child, log in children:
            if child.poll() is None:
                child.kill()
            child.wait(timeout=30)
            log.close()


def wait_all(children, timeout: float) -> list:
    """Wait for every child (at most `timeout` seconds each); their return
    codes."""
    return [child.wait(timeout=timeout) for child in children]


def logs(log_dir) -> str:
    return "\n".join(
        f"--- {p.name}\n{p.read_text()[-3000:]}"
        for p in sorted(Path(log_dir).glob("*.log"))
    )
