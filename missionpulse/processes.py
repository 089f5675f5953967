"""Background servers this project starts (Airflow standalone, Superset): process groups
and ports.

Each server runs in its own process group (``start_new_session=True``), so stopping it
signals every child, and stopping is confirmed by /proc (zombies do not count) and by its
port being free again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Sequence
from pathlib import Path


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``, from /proc."""
    members = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            stat = stat_file.read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after the last ')'
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(stat_file.parent.name))
    return members


def group_alive(pgid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pgid, os.WNOHANG)  # reap the leader when this process started it
    if Path("/proc").is_dir():
        return bool(group_members(pgid))
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def stop_group(
    pgid: int, steps: Sequence[tuple[signal.Signals, float]], port: int | None = None
) -> bool:
    """Signal the group with each (signal, seconds to wait) in turn until it has gone (and
    ``port`` is free); True when it had gone by the end."""
    for sig, wait in steps:
        if not group_alive(pgid):
            break
        signal_group(pgid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and (
            group_alive(pgid) or (port is not None and not port_free(port))
        ):
            time.sleep(0.3)
    return not group_alive(pgid)
