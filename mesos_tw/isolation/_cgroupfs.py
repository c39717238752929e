"""
Linux control groups (v1 hierarchies) as files: where each subsystem is
mounted, which cgroup a process is in, making, writing, reading and
removing cgroups, and listening to a memory cgroup's OOM notifications.
"""

import errno
import os

from zope.interface import implementer
from twisted.internet.interfaces import IReadDescriptor

from mesos_tw.isolation.interface import IsolatorUnavailable

__all__ = [
    "CgroupSet",
    "OOMListener",
    "hierarchy_bases",
    "mounted_hierarchies",
    "own_cgroups",
    "read_keyed",
    "remove_tree",
]


#: The cgroup v1 subsystems (controllers) the kernel may offer.
SUBSYSTEMS = frozenset([
    "blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "hugetlb", "memory", "misc",
    "net_cls", "net_prio", "perf_event", "pids", "rdma",
])


def mounted_hierarchies(mounts="/proc/self/mounts"):
    """
    C{{subsystem: mount point}} of every mounted cgroup v1 hierarchy (a
    hierarchy with several subsystems appears once per subsystem).
    """
    hierarchies = {}
    with open(mounts) as table:
        for line in table:
            fields = line.split()
            if len(fields) < 4 or fields[2] != "cgroup":
                continue
            for option in fields[3].split(","):
                if option in SUBSYSTEMS:
                    hierarchies.setdefault(option, fields[1])
    return hierarchies


def own_cgroups(path="/proc/self/cgroup"):
    """
    C{{subsystem: cgroup path}} of the process reading C{path}: the cgroup
    it is in within each v1 hierarchy.
    """
    cgroups = {}
    with open(path) as table:
        for line in table:
            _, subsystems, cgroup = line.rstrip("\n").split(":", 2)
            for subsystem in filter(None, subsystems.split(",")):
                cgroups[subsystem] = cgroup
    return cgroups


def hierarchy_bases(mounts="/proc/self/mounts", cgroup="/proc/self/cgroup"):
    """
    Our own cgroup's directory in every mounted hierarchy, v1 (named ones
    included) and v2: where a tool that makes cgroups relative to ours
    (LXC with C{lxc.cgroup.relative}) puts them.
    """
    own = {}
    with open(cgroup) as table:
        for line in table:
            _, subsystems, path = line.rstrip("\n").split(":", 2)
            for key in subsystems.split(",") if subsystems else [""]:
                own[key] = path
    bases = []
    with open(mounts) as table:
        for line in table:
            fields = line.split()
            if len(fields) < 4 or fields[2] not in ("cgroup", "cgroup2"):
                continue
            if fields[2] == "cgroup2":
                key = ""
            else:
                keys = [o for o in fields[3].split(",") if o in SUBSYSTEMS or o.startswith("name=")]
                key = keys[0] if keys else None
            if key in own:
                bases.append(os.path.join(fields[1], own[key].lstrip("/")))
    return bases


def remove_tree(directory):
    """
    Remove the cgroup C{directory} and every cgroup below it, deepest
    first; gone already is fine.
    """
    if not os.path.isdir(directory):
        return
    for parent, children, _ in os.walk(directory, topdown=False):
        for child in children:
            _rmdir(os.path.join(parent, child))
    _rmdir(directory)


def _rmdir(directory):
    try:
        os.rmdir(directory)
    except FileNotFoundError:
        pass


def read_keyed(path):
    """
    A flat keyed file (C{memory.stat}, C{cpu.stat}) as C{{key: int}}.
    """
    values = {}
    with open(path) as keyed:
        for line in keyed:
            key, _, value = line.partition(" ")
            try:
                values[key] = int(value)
            except ValueError:
                continue
    return values


class CgroupSet:
    """
    One cgroup, by the same relative name, in each of several hierarchies.

    @param directories: C{{subsystem: directory}}; subsystems mounted
        together share a directory.
    """

    def __init__(self, directories):
        self.directories = dict(directories)

    @classmethod
    def under(cls, subsystems, relative, hierarchies, own):
        """
        The cgroup C{relative} under our own cgroup of each of C{subsystems}.

        @raise IsolatorUnavailable: naming a subsystem that is not mounted.
        """
        directories = {}
        for subsystem in subsystems:
            if subsystem not in hierarchies:
                raise IsolatorUnavailable(f"the cgroup subsystem {subsystem!r} is not mounted")
            base = own.get(subsystem, "/").lstrip("/")
            directories[subsystem] = os.path.join(hierarchies[subsystem], base, relative)
        return cls(directories)

    def _unique(self):
        return sorted(set(self.directories.values()))

    def exists(self):
        """
        Whether the cgroup is there in any hierarchy.
        """
        return any(os.path.isdir(directory) for directory in self._unique())

    def create(self):
        """
        Make the cgroup in every hierarchy (and its parents).
        """
        for directory in self._unique():
            os.makedirs(directory, exist_ok=True)

    def path(self, subsystem, name):
        """
        The control file C{name} of C{subsystem}.
        """
        return os.path.join(self.directories[subsystem], name)

    def write(self, subsystem, name, value):
        """
        Write C{value} to a control file.
        """
        with open(self.path(subsystem, name), "w") as control:
            control.write(str(value))

    def read(self, subsystem, name):
        """
        A control file's text, stripped.
        """
        with open(self.path(subsystem, name)) as control:
            return control.read().strip()

    def has(self, subsystem, name):
        """
        Whether C{subsystem}'s control file C{name} exists.
        """
        return subsystem in self.directories and os.path.exists(self.path(subsystem, name))

    def add_process(self, pid):
        """
        Move process C{pid} (and its threads) into the cgroup everywhere.
        """
        for directory in self._unique():
            with open(os.path.join(directory, "cgroup.procs"), "w") as procs:
                procs.write(str(pid))

    def processes(self):
        """
        The pids in the cgroup, in any hierarchy.
        """
        pids = set()
        for directory in self._unique():
            try:
                with open(os.path.join(directory, "cgroup.procs")) as procs:
                    pids.update(int(line) for line in procs if line.strip())
            except FileNotFoundError:
                continue
        return pids

    def remove(self):
        """
        Remove the (empty) cgroup from every hierarchy; gone already is fine.
        """
        for directory in self._unique():
            try:
                os.rmdir(directory)
            except OSError as error:
                if error.errno != errno.ENOENT:
                    raise


@implementer(IReadDescriptor)
class OOMListener:
    """
    Calls C{on_oom()} when the kernel notifies a memory cgroup's OOM event
    (through C{cgroup.event_control} and an eventfd); the notification also
    comes when the cgroup is removed, so the caller checks
    C{memory.oom_control} before believing it.
    """

    def __init__(self, reactor, cgroups, on_oom):
        self.reactor = reactor
        self.on_oom = on_oom
        self.fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        try:
            self._control = os.open(cgroups.path("memory", "memory.oom_control"),
                                    os.O_RDONLY | os.O_CLOEXEC)
            cgroups.write("memory", "cgroup.event_control", f"{self.fd} {self._control}")
        except OSError:
            self.close()
            raise
        reactor.addReader(self)

    def fileno(self):
        """
        The eventfd.
        """
        return self.fd

    def logPrefix(self):
        """
        How the reactor names it in logs.
        """
        return "oom-eventfd"

    def doRead(self):
        """
        A notification: tell C{on_oom}.
        """
        try:
            os.eventfd_read(self.fd)
        except BlockingIOError:
            return
        self.on_oom()

    def connectionLost(self, reason):
        """
        Nothing to do: L{close} closes the descriptors.
        """

    def close(self):
        """
        Stop listening and close the descriptors.
        """
        if self.fd is None:
            return
        self.reactor.removeReader(self)
        for fd in (self.fd, getattr(self, "_control", None)):
            if fd is not None:
                os.close(fd)
        self.fd = None
