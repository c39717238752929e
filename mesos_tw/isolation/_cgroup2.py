"""
The cgroup v2 (unified) hierarchy for the cgroups isolator: one directory
per container, C{cpu.weight} and C{cpu.max}, C{memory.max} (and
C{memory.swap.max}), OOM kills counted in C{memory.events} (watched with
inotify), destruction with C{cgroup.kill} (or C{cgroup.freeze}), and usage
from C{cpu.stat}, C{memory.current} and C{memory.stat}.

A v2 cgroup can hand controllers to its children only while it holds no
process itself (the root excepted).  The slave's own cgroup (the C{0::}
line of C{/proc/self/cgroup}) is delegated to it and holds it, so, where
that cgroup has not handed C{cpu} and C{memory} down yet, the processes in
it move to a leaf of their own, L{SLAVE_LEAF}, first (as systemd asks of
a service with C{Delegate=yes}); a slave that finds itself in that leaf
puts containers next to it.
"""

import errno
import os

from twisted.internet import inotify
from twisted.internet.defer import succeed
from twisted.python.filepath import FilePath
from zope.interface import implementer

from mesos_tw.isolation._containers import kill_and_wait, wait_for_exits
from mesos_tw.isolation._hierarchy import (
    CFS_PERIOD_US,
    ICgroup,
    ICgroupHierarchy,
    cfs_quota,
    memory_message,
)
from mesos_tw.isolation.interface import IsolatorUnavailable

__all__ = [
    "CgroupFiles",
    "CgroupHierarchyV2",
    "CgroupV2",
    "NEEDED_CONTROLLERS",
    "SLAVE_LEAF",
    "cpu_weight",
]

#: Controllers without which the unified hierarchy is not used.
NEEDED_CONTROLLERS = ("cpu", "memory")

#: Controllers handed down to containers where the hierarchy offers them.
WANTED_CONTROLLERS = ("cpu", "memory", "pids")

#: The leaf the processes of the slave's own cgroup move to.
SLAVE_LEAF = "mesos_tw_slave"

#: How often the processes of a cgroup are killed again before giving up
#: on its becoming empty (each round waits for those it killed).
KILL_ROUNDS = 10


def cpu_weight(shares):
    """
    The v2 C{cpu.weight} for v1 C{cpu.shares}: shares in [2, 262144] mapped
    onto weights in [1, 10000], as systemd and the kernel's documentation
    map them.
    """
    return 1 + ((shares - 2) * 9999) // 262142


def _keyed(text):
    values = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        try:
            values[key] = int(value)
        except ValueError:
            continue
    return values


class CgroupFiles:
    """
    The cgroup v2 filesystem, as the hierarchy reads and writes it: here
    plain file operations, in tests a fake that plays the kernel (see
    L{mesos_tw.testing.cgroupfs}).
    """

    def read(self, path):
        """
        A control file's text.
        """
        with open(path) as control:
            return control.read()

    def write(self, path, value):
        """
        Write C{value} to a control file.
        """
        with open(path, "w") as control:
            control.write(str(value))

    def exists(self, path):
        """
        Whether a control file or cgroup is there.
        """
        return os.path.exists(path)

    def writable(self, path):
        """
        Whether we may write to C{path}.
        """
        return os.access(path, os.W_OK)

    def mkdir(self, path):
        """
        Make a cgroup (its parent exists).
        """
        os.mkdir(path)

    def rmdir(self, path):
        """
        Remove an empty cgroup.
        """
        os.rmdir(path)


@implementer(ICgroupHierarchy)
class CgroupHierarchyV2:
    """
    The unified hierarchy mounted at C{mount}, containers below C{base}
    (the slave's own cgroup, or the one holding L{SLAVE_LEAF}).
    """

    version = 2

    def __init__(self, mount, own, files=None):
        self.mount = mount
        self.files = CgroupFiles() if files is None else files
        own = "/" + own.strip("/")
        if os.path.basename(own) == SLAVE_LEAF:
            own = os.path.dirname(own)
        self.base = os.path.join(mount, own.lstrip("/")).rstrip("/") or "/"

    @classmethod
    def find(cls, mounts="/proc/self/mounts", cgroup="/proc/self/cgroup", files=None):
        """
        The unified hierarchy named in C{mounts}, with the slave's cgroup
        from C{cgroup}'s C{0::} line; C{None} where there is none.
        """
        mount = own = None
        with open(mounts) as table:
            for line in table:
                fields = line.split()
                if len(fields) >= 3 and fields[2] == "cgroup2":
                    mount = fields[1]
                    break
        with open(cgroup) as table:
            for line in table:
                if line.startswith("0::"):
                    own = line.rstrip("\n")[3:]
        if mount is None or own is None:
            return None
        return cls(mount, own, files)

    def _path(self, *names):
        return os.path.join(self.base, *names)

    def controllers(self):
        """
        The controllers available in the slave's cgroup (C{cgroup.controllers}).
        """
        try:
            return set(self.files.read(self._path("cgroup.controllers")).split())
        except OSError:
            return set()

    def offers_needed_controllers(self):
        """
        Whether C{cpu} and C{memory} are available in the slave's cgroup.
        """
        return set(NEEDED_CONTROLLERS) <= self.controllers()

    def describe_controllers(self):
        """
        The controllers available in the slave's cgroup, in words.
        """
        return ", ".join(sorted(self.controllers())) or "no controllers"

    def check(self):
        """
        C{cpu} and C{memory} available in the slave's cgroup, which we may
        write to (it is delegated to us).
        """
        if not self.offers_needed_controllers():
            raise IsolatorUnavailable(
                f"the cgroup v2 hierarchy's cgroup {self.base} offers "
                f"{self.describe_controllers()}, not both cpu and memory")
        for path in (self.base, self._path("cgroup.subtree_control"), self._path("cgroup.procs")):
            if not self.files.writable(path):
                raise IsolatorUnavailable(
                    f"the cgroup v2 cgroup {self.base} is not delegated to the slave "
                    f"({path} is not writable)")

    def cgroup(self, relative):
        """
        A L{CgroupV2} at C{relative} below the base.
        """
        return CgroupV2(self, self._path(relative))

    def delegate(self, directory):
        """
        Make the parents of the cgroup C{directory} and have each, from the
        base down, hand the controllers we want to its children, moving
        the base's own processes to L{SLAVE_LEAF} first where they are in
        the way.
        """
        wanted = [c for c in WANTED_CONTROLLERS if c in self.controllers()]
        parents = []
        parent = os.path.dirname(directory)
        while parent != self.base and parent.startswith(self.base + "/"):
            parents.append(parent)
            parent = os.path.dirname(parent)
        for cgroup in [self.base] + parents[::-1]:
            if not self.files.exists(cgroup):
                self.files.mkdir(cgroup)
            self._hand_down(cgroup, wanted)

    def _hand_down(self, cgroup, wanted):
        control = os.path.join(cgroup, "cgroup.subtree_control")
        missing = [c for c in wanted if c not in self.files.read(control).split()]
        if not missing:
            return
        change = " ".join("+" + c for c in missing)
        try:
            self.files.write(control, change)
        except OSError as error:
            if error.errno != errno.EBUSY or cgroup != self.base:
                raise
            self._move_to_leaf()
            self.files.write(control, change)

    def _move_to_leaf(self):
        leaf = self._path(SLAVE_LEAF)
        if not self.files.exists(leaf):
            self.files.mkdir(leaf)
        for pid in self.files.read(self._path("cgroup.procs")).split():
            try:
                self.files.write(os.path.join(leaf, "cgroup.procs"), pid)
            except OSError as error:
                # Gone meanwhile.
                if error.errno != errno.ESRCH:
                    raise


@implementer(ICgroup)
class CgroupV2:
    """
    A container's cgroup in the unified hierarchy.
    """

    def __init__(self, hierarchy, directory):
        self.hierarchy = hierarchy
        self.directory = directory
        self.files = hierarchy.files

    def path(self, name):
        """
        The control file C{name}.
        """
        return os.path.join(self.directory, name)

    def read(self, name):
        """
        A control file's text, stripped.
        """
        return self.files.read(self.path(name)).strip()

    def write(self, name, value):
        """
        Write C{value} to a control file.
        """
        self.files.write(self.path(name), value)

    def has(self, name):
        """
        Whether the control file C{name} exists.
        """
        return self.files.exists(self.path(name))

    def exists(self):
        """
        Whether the cgroup is there.
        """
        return self.files.exists(self.directory)

    def create(self):
        """
        Make the cgroup, its parents handing it C{cpu}, C{memory} (and
        C{pids}).
        """
        self.hierarchy.delegate(self.directory)
        if not self.exists():
            self.files.mkdir(self.directory)

    def remove(self):
        """
        Remove the (empty) cgroup; gone already is fine.
        """
        try:
            self.files.rmdir(self.directory)
        except OSError as error:
            if error.errno != errno.ENOENT:
                raise

    def add_process(self, pid):
        """
        Move process C{pid} into the cgroup.
        """
        self.write("cgroup.procs", pid)

    def processes(self):
        """
        The pids in C{cgroup.procs}.
        """
        try:
            return {int(pid) for pid in self.read("cgroup.procs").split()}
        except OSError:
            return set()

    def set_cpu(self, cpus, shares, enable_cfs):
        """
        C{cpu.weight} from the shares, and C{cpu.max} (quota and period).
        """
        self.write("cpu.weight", cpu_weight(shares))
        if enable_cfs:
            quota = cfs_quota(cpus)
            self.write("cpu.max", f"{'max' if quota is None else quota} {CFS_PERIOD_US}")

    def set_memory(self, limit):
        """
        C{memory.max}, and C{memory.swap.max} 0 (no swap, as v1's memsw
        limit equal to the memory limit); once a hard limit is set, a
        lower one below what the cgroup already uses goes to
        C{memory.high} instead, so the kernel reclaims towards it rather
        than killing at once.
        """
        current = int(self.read("memory.current"))
        applied = limit
        if current > limit and self.read("memory.max") != "max":
            applied = int(self.read("memory.max"))
            self.write("memory.high", limit)
        else:
            self.write("memory.max", limit)
            if self.has("memory.high"):
                self.write("memory.high", "max")
        if self.has("memory.swap.max"):
            self.write("memory.swap.max", 0)
        return applied

    def watch_oom(self, reactor, on_oom):
        """
        Have the kernel's OOM killer take the whole cgroup
        (C{memory.oom.group}) and call C{on_oom} whenever C{memory.events}
        changes.
        """
        if self.has("memory.oom.group"):
            self.write("memory.oom.group", 1)
        return _EventsWatcher(reactor, self.path("memory.events"), on_oom)

    def oom_occurred(self):
        """
        C{memory.events} counts an OOM kill in the cgroup.
        """
        try:
            return _keyed(self.read("memory.events")).get("oom_kill", 0) > 0
        except OSError:
            return False

    def memory_message(self, limit):
        """
        The limit, C{memory.peak} (or C{memory.current}), and C{anon} and
        C{file} from C{memory.stat}.
        """
        try:
            used = int(self.read("memory.peak" if self.has("memory.peak") else "memory.current"))
            stat = _keyed(self.read("memory.stat"))
        except (OSError, ValueError):
            return memory_message(limit, None, 0, 0)
        return memory_message(limit, used, stat.get("anon", 0), stat.get("file", 0))

    def kill_all(self, reactor, log):
        """
        C{cgroup.kill} where the kernel has it, again until C{cgroup.procs}
        is empty; else freeze (C{cgroup.freeze}), SIGKILL every process,
        thaw.  Fires once every process has exited.
        """
        if self.has("cgroup.kill"):
            return self._kill_rounds(reactor, log, KILL_ROUNDS)
        frozen = False
        try:
            self.write("cgroup.freeze", 1)
            frozen = True
        except OSError as error:
            if error.errno != errno.ENOENT:
                log.warn("Could not freeze a cgroup: {error}", error=str(error))
        exited = kill_and_wait(reactor, self.processes)
        if frozen:
            try:
                self.write("cgroup.freeze", 0)
            except OSError as error:
                log.warn("Could not thaw a cgroup: {error}", error=str(error))
        return exited

    def _kill_rounds(self, reactor, log, rounds):
        pids = self.processes()
        if not pids:
            return succeed(None)
        if not rounds:
            log.warn("Processes {pids} are still in cgroup {cgroup} after it was killed",
                     pids=sorted(pids), cgroup=self.directory)
            return succeed(None)
        # Hold each process before the kill, so its exit is seen however
        # soon it comes and a reused pid is never waited for.
        exits = wait_for_exits(reactor, pids)
        try:
            self.write("cgroup.kill", 1)
        except OSError as error:
            if error.errno != errno.ENOENT:
                # Kill them one by one instead.
                log.warn("Could not write cgroup.kill: {error}", error=str(error))
                exits = kill_and_wait(reactor, self.processes)
        return exits.addCallback(lambda _: self._kill_rounds(reactor, log, rounds - 1))

    def statistics(self):
        """
        C{cpu.stat} (user, system, periods, throttling) and C{memory.stat}
        (C{anon} as rss).

        @raise OSError: when a file cannot be read.
        """
        cpu = _keyed(self.read("cpu.stat"))
        memory = _keyed(self.read("memory.stat"))
        return dict(
            cpus_user_time_secs=cpu.get("user_usec", 0) / 1e6,
            cpus_system_time_secs=cpu.get("system_usec", 0) / 1e6,
            mem_rss_bytes=memory.get("anon", 0),
            cpus_nr_periods=cpu.get("nr_periods", 0),
            cpus_nr_throttled=cpu.get("nr_throttled", 0),
            cpus_throttled_time_secs=cpu.get("throttled_usec", 0) / 1e6,
        )



class _EventsWatcher:
    """
    Calls C{on_change()} whenever the kernel changes the file C{path}
    (C{memory.events} notifies inotify of every change).
    """

    def __init__(self, reactor, path, on_change):
        self._notifier = inotify.INotify(reactor)
        self._notifier.startReading()
        try:
            self._notifier.watch(FilePath(path), mask=inotify.IN_MODIFY,
                                 callbacks=[lambda *_: on_change()])
        except inotify.INotifyError:
            self.close()
            raise

    def close(self):
        """
        Stop watching.
        """
        if self._notifier is not None:
            self._notifier.loseConnection()
            self._notifier = None
