"""
Resource usage of a process session, read from C{/proc}.
"""

import os

from mesos_tw.protocols import mesos_pb2

__all__ = ["session_statistics"]

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid, proc):
    with open(os.path.join(proc, str(pid), "stat"), "rb") as stat:
        data = stat.read()
    # The command name may hold spaces and parentheses: split after it.
    return data[data.rindex(b")") + 2:].split()


def session_statistics(session_id, timestamp, proc="/proc"):
    """
    CPU seconds (user, system) and resident memory summed over every process
    in the session C{session_id}, counting its leader even before it has
    made its own session (just after it was spawned).
    """
    user = system = rss = 0
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            fields = _stat_fields(entry, proc)
        except OSError:
            continue
        # Fields after the name: state(0) ppid(1) pgrp(2) session(3) ...
        # utime(11) stime(12) ... rss(21).
        if int(fields[3]) != session_id and int(entry) != session_id:
            continue
        user += int(fields[11])
        system += int(fields[12])
        rss += int(fields[21])
    return mesos_pb2.ResourceStatistics(
        timestamp=timestamp,
        cpus_user_time_secs=user / _TICKS,
        cpus_system_time_secs=system / _TICKS,
        mem_rss_bytes=rss * _PAGE,
    )
