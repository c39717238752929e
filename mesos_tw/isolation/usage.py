"""
Processes and their resource usage, read from C{/proc}.
"""

import os

from mesos_tw.protocols import mesos_pb2

__all__ = ["ProcessTable", "container_processes", "forked_executors", "marked_processes",
           "process_statistics"]

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid, proc):
    # os.open and os.read: about a third of open()'s cost, which counts
    # when every process is read once a second.
    fd = os.open(f"{proc}/{pid}/stat", os.O_RDONLY)
    try:
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    # The command name may hold spaces and parentheses: split after it.
    # Fields after the name: state(0) ppid(1) pgrp(2) session(3) ...
    # utime(11) stime(12) ... rss(21).
    return data[data.rindex(b")") + 2:].split()


def _all_stats(proc):
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            yield int(entry), _stat_fields(entry, proc)
        except (OSError, ValueError):
            continue


def _has_variable(pid, marker, proc):
    try:
        with open(os.path.join(proc, str(pid), "environ"), "rb") as environ:
            return marker in environ.read().split(b"\0")
    except OSError:
        return False


class ProcessTable:
    """
    One reading of every process's C{stat}: what a round of usage samples
    shares, so that sampling N executors reads C{/proc} once, not N times.
    """

    def __init__(self, proc="/proc"):
        self.proc = proc
        self.stats = {}
        self.children = {}
        self.by_group = {}
        for pid, fields in _all_stats(proc):
            if fields[0] == b"Z":
                continue
            self.stats[pid] = fields
            self.children.setdefault(int(fields[1]), []).append(pid)
            self.by_group.setdefault(int(fields[2]), []).append(pid)
            session = int(fields[3])
            if session != int(fields[2]):
                self.by_group.setdefault(session, []).append(pid)

    def members(self, leader, variable=None):
        """
        The live processes of the executor C{leader} (see
        L{container_processes}).
        """
        members = set(self.by_group.get(leader, ()))
        if leader in self.stats:
            members.add(leader)
        if variable is not None:
            marker = f"{variable[0]}={variable[1]}".encode()
            for pid in self.stats:
                if pid not in members and _has_variable(pid, marker, self.proc):
                    members.add(pid)
        pending = list(members)
        while pending:
            for child in self.children.get(pending.pop(), ()):
                if child not in members:
                    members.add(child)
                    pending.append(child)
        return members

    def statistics(self, pids, timestamp):
        """
        CPU seconds (user, system) and resident memory summed over C{pids},
        as read.
        """
        user = system = rss = 0
        for pid in pids:
            fields = self.stats.get(pid)
            if fields is not None:
                user += int(fields[11])
                system += int(fields[12])
                rss += int(fields[21])
        return _statistics(timestamp, user, system, rss)


def container_processes(leader, variable=None, proc="/proc"):
    """
    The live (not zombie) processes of an executor: the session and
    process group C{leader} leads, C{leader} itself, every descendant of
    any of them, and, with C{variable} (C{(name, value)}), every process
    whose environment holds it; the last finds processes that made a
    session of their own and were reparented.

    @return: a set of pids.
    """
    return ProcessTable(proc).members(leader, variable)


def marked_processes(name, proc="/proc"):
    """
    The live processes whose environment sets C{name}, with what else of
    their environment the caller may want to check.

    @return: C{{pid: {variable: value}}} (bytes decoded as UTF-8, lenient).
    """
    marker = name.encode() + b"="
    found = {}
    for pid, fields in _all_stats(proc):
        if fields[0] == b"Z":
            continue
        try:
            with open(os.path.join(proc, str(pid), "environ"), "rb") as environ:
                entries = environ.read().split(b"\0")
        except OSError:
            continue
        if any(entry.startswith(marker) for entry in entries):
            found[pid] = dict(entry.decode("utf-8", "replace").split("=", 1)
                              for entry in entries if b"=" in entry)
    return found


def forked_executors(sandboxes, command, proc="/proc"):
    """
    The live processes working in a directory under C{sandboxes} whose
    command line holds the word C{command}: the executors a launcher
    forked (L{mesos_tw.executors.launcher}).  Their environment, as
    C{/proc} shows it, is the launcher's (a process's is the one it was
    exec'd with), without their run's mark; but they work in their
    sandbox from the start, and their command line is the launcher's.

    @param sandboxes: a real path ending with a separator.
    @return: C{{pid: working directory}}.
    """
    word = command.encode()
    found = {}
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            directory = os.readlink(os.path.join(proc, entry, "cwd"))
            if not directory.startswith(sandboxes):
                continue
            with open(os.path.join(proc, entry, "cmdline"), "rb") as cmdline:
                if word in cmdline.read().split(b"\0"):
                    found[int(entry)] = directory
        except OSError:
            continue
    return found


def process_statistics(pids, timestamp, proc="/proc"):
    """
    CPU seconds (user, system) and resident memory summed over C{pids}
    (those that are gone by now count for nothing).
    """
    user = system = rss = 0
    for pid in pids:
        try:
            fields = _stat_fields(pid, proc)
        except (OSError, ValueError):
            continue
        user += int(fields[11])
        system += int(fields[12])
        rss += int(fields[21])
    return _statistics(timestamp, user, system, rss)


def _statistics(timestamp, user, system, rss):
    return mesos_pb2.ResourceStatistics(
        timestamp=timestamp,
        cpus_user_time_secs=user / _TICKS,
        cpus_system_time_secs=system / _TICKS,
        mem_rss_bytes=rss * _PAGE,
    )

