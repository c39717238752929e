"""
A fake cgroup v2 (unified) hierarchy: a temporary directory laid out like a
v2 mount, with L{FakeCgroup2Kernel} playing the kernel's part behind the
isolator's L{mesos_tw.isolation._cgroup2.CgroupFiles}, so the cgroups
isolator's v2 code runs against it with real executor processes where no
real v2 hierarchy with cpu and memory can be had.
"""

import errno
import os
import signal

from zope.interface.verify import verifyObject

from mesos_tw.isolation._cgroup2 import CgroupFiles, CgroupHierarchyV2
from mesos_tw.isolation._hierarchy import ICgroupHierarchy

__all__ = ["FakeCgroup2Kernel"]

#: The files every fake cgroup has, with their first contents.
CORE_FILES = {
    "cgroup.controllers": "",
    "cgroup.subtree_control": "",
    "cgroup.procs": "",
    "cgroup.events": "populated 0\nfrozen 0\n",
    "cgroup.freeze": "0",
    "cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\n",
}

#: The files a controller adds to a cgroup it is enabled in.
CONTROLLER_FILES = {
    "cpu": {
        "cpu.weight": "100",
        "cpu.max": "max 100000",
        "cpu.stat": ("usage_usec 0\nuser_usec 0\nsystem_usec 0\nnr_periods 0\n"
                     "nr_throttled 0\nthrottled_usec 0\n"),
    },
    "memory": {
        "memory.max": "max",
        "memory.high": "max",
        "memory.swap.max": "max",
        "memory.current": "0",
        "memory.peak": "0",
        "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n",
        "memory.stat": "anon 0\nfile 0\n",
        "memory.oom.group": "0",
    },
    "pids": {"pids.max": "max", "pids.current": "0"},
}


class FakeCgroup2Kernel(CgroupFiles):
    """
    Plays the kernel for a fake v2 hierarchy mounted at C{mount}: new
    cgroups get control files for the controllers their parent hands down;
    C{cgroup.subtree_control} refuses controllers the cgroup lacks, and
    (below the root) any while the cgroup holds a process; C{cgroup.procs}
    lists the live processes of a cgroup (a process written there, and its
    descendants that have not been written elsewhere); C{cgroup.kill}
    SIGKILLs them; a cgroup that holds a process or a child cannot be
    removed.  A process whose parent dies is no longer followed (the real
    kernel keeps it): the fake suits executors that do not daemonize.

    @param own: the slave's cgroup in the hierarchy (made here).
    @param controllers: the controllers the slave's cgroup offers.
    @param kill: whether cgroups have C{cgroup.kill} (kernels since 5.14).
    @param delegated: whether the slave's cgroup is writable to it.

    @ivar writes: C{(path relative to the mount, value)} of every write, in order.
    """

    def __init__(self, mount, own="/", controllers=("cpu", "memory", "pids"), kill=True,
                 delegated=True):
        self.mount = mount
        self.own = own
        self.kill = kill
        self.delegated = delegated
        self.writes = []
        self._placed = {}
        os.makedirs(mount, exist_ok=True)
        self._populate(mount, controllers)
        # Every cgroup above the slave's hands the controllers down to it.
        parent = mount
        for name in own.strip("/").split("/") if own.strip("/") else []:
            self._set(parent, "cgroup.subtree_control", " ".join(controllers))
            parent = os.path.join(parent, name)
            os.mkdir(parent)
            self._populate(parent, controllers)

    def directory(self, cgroup):
        """
        The directory of C{cgroup} (a path like C{/a/b}) in the mount.
        """
        return os.path.join(self.mount, cgroup.strip("/")).rstrip("/")

    def hierarchy(self):
        """
        A L{CgroupHierarchyV2} on this fake, for the slave's cgroup.
        """
        hierarchy = CgroupHierarchyV2(self.mount, self.own, files=self)
        verifyObject(ICgroupHierarchy, hierarchy)
        return hierarchy

    def proc_files(self, directory):
        """
        Write C{mounts} and C{cgroup} files in C{directory} as
        C{/proc/self/mounts} and C{/proc/self/cgroup} would read with this
        fake as the unified hierarchy (and no v1 one): C{(mounts, cgroup)}.
        """
        mounts = os.path.join(directory, "mounts")
        cgroup = os.path.join(directory, "cgroup")
        with open(mounts, "w") as table:
            table.write(f"proc /proc proc rw 0 0\ncgroup2 {self.mount} cgroup2 rw,nosuid 0 0\n")
        with open(cgroup, "w") as table:
            table.write(f"0::{self.own}\n")
        return mounts, cgroup

    def place(self, directory, pid):
        """
        Put process C{pid} in the cgroup C{directory}, as the system did
        before the slave started.
        """
        self._placed[pid] = directory

    def _populate(self, directory, controllers):
        files = dict(CORE_FILES, **{"cgroup.controllers": " ".join(controllers)})
        for controller in controllers:
            files.update(CONTROLLER_FILES.get(controller, {}))
        if self.kill:
            files["cgroup.kill"] = ""
        for name, text in files.items():
            self._set(directory, name, text)

    def _set(self, directory, name, text):
        with open(os.path.join(directory, name), "w") as control:
            control.write(text)

    def _get(self, directory, name):
        with open(os.path.join(directory, name)) as control:
            return control.read()

    def members(self, directory):
        """
        The live processes in the cgroup C{directory}.
        """
        parents = _live_processes()
        members = set()
        for pid in parents:
            ancestor = pid
            while ancestor not in self._placed and ancestor in parents:
                ancestor = parents[ancestor]
            if self._placed.get(ancestor) == directory:
                members.add(pid)
        return members

    def writable(self, path):
        """
        Whether the slave may write to C{path}: anything, unless its own
        cgroup is not delegated to it.
        """
        base = self.directory(self.own)
        if not self.delegated and (path == base or os.path.dirname(path) == base):
            return False
        return super().writable(path)

    def read(self, path):
        """
        A control file's text; C{cgroup.procs} lists the live members.
        """
        if os.path.basename(path) == "cgroup.procs":
            if not os.path.exists(path):
                raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
            return "".join(f"{pid}\n" for pid in sorted(self.members(os.path.dirname(path))))
        return super().read(path)

    def write(self, path, value):
        """
        Do as the kernel does with a write to a control file.
        """
        value = str(value)
        directory, name = os.path.split(path)
        self.writes.append((os.path.relpath(path, self.mount), value))
        if not os.path.exists(path):
            # cgroupfs has no room for new files.
            raise PermissionError(errno.EACCES, "Permission denied", path)
        if name == "cgroup.procs":
            if directory != self.mount and self._get(directory, "cgroup.subtree_control").split():
                raise OSError(errno.EBUSY, "Device or resource busy", path)
            self._placed[int(value)] = directory
        elif name == "cgroup.subtree_control":
            self._subtree_control(directory, value, path)
        elif name == "cgroup.kill":
            for pid in self.members(directory):
                _kill(pid)
        else:
            self._set(directory, name, value)

    def _subtree_control(self, directory, value, path):
        offered = self._get(directory, "cgroup.controllers").split()
        enabled = self._get(directory, "cgroup.subtree_control").split()
        for change in value.split():
            controller = change[1:]
            if controller not in offered:
                raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
            if change.startswith("+") and controller not in enabled:
                if directory != self.mount and self.members(directory):
                    raise OSError(errno.EBUSY, "Device or resource busy", path)
                enabled.append(controller)
            elif change.startswith("-") and controller in enabled:
                enabled.remove(controller)
        self._set(directory, "cgroup.subtree_control", " ".join(enabled))

    def mkdir(self, path):
        """
        Make a cgroup with the files of the controllers its parent hands down.
        """
        os.mkdir(path)
        parent = os.path.dirname(path)
        self._populate(path, self._get(parent, "cgroup.subtree_control").split())

    def rmdir(self, path):
        """
        Remove a cgroup that holds no process and no child cgroup.
        """
        if not os.path.isdir(path):
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        busy = self.members(path) or any(
            os.path.isdir(os.path.join(path, entry)) for entry in os.listdir(path))
        if busy:
            raise OSError(errno.EBUSY, "Device or resource busy", path)
        for entry in os.listdir(path):
            os.unlink(os.path.join(path, entry))
        os.rmdir(path)
        self._placed = {pid: d for pid, d in self._placed.items() if d != path}

    def oom_kill(self, directory, used, anon, file, kill=True):
        """
        Play an OOM kill in the cgroup C{directory}: C{memory.events}
        counts it, C{memory.peak} and C{memory.stat} say what was used, and
        (with C{kill}) every process in it is SIGKILLed, as
        C{memory.oom.group} has the kernel do.
        """
        events = {}
        for line in self._get(directory, "memory.events").splitlines():
            key, _, count = line.partition(" ")
            events[key] = int(count)
        events["oom"] += 1
        events["oom_kill"] += 1
        self._set(directory, "memory.peak", str(used))
        self._set(directory, "memory.stat", f"anon {anon}\nfile {file}\n")
        self._set(directory, "memory.events",
                  "".join(f"{key} {count}\n" for key, count in events.items()))
        if kill:
            for pid in self.members(directory):
                _kill(pid)


def _live_processes():
    """
    C{{pid: parent pid}} of every process that is not a zombie.
    """
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] not in (b"Z", b"X"):
            parents[int(entry)] = int(fields[1])
    return parents


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
