"""
The cgroups isolator's view of a cgroup hierarchy, behind one interface
for cgroup v1 (L{CgroupHierarchyV1}: a hierarchy per subsystem) and the v2
unified hierarchy (L{mesos_tw.isolation._cgroup2.CgroupHierarchyV2}), and
L{detect_hierarchy}, which picks the one this machine uses.

The isolator asks a hierarchy for a container's cgroup (an L{ICgroup}) and
asks that cgroup to set limits, notice OOM, kill everything in it and
measure it; the files each version uses are its own business.
"""

import errno
import os

from zope.interface import Attribute, Interface, implementer

from mesos_tw.isolation._cgroupfs import (
    CgroupSet,
    OOMListener,
    mounted_hierarchies,
    own_cgroups,
    read_keyed,
)
from mesos_tw.isolation._containers import kill_and_wait
from mesos_tw.isolation.interface import IsolatorUnavailable

__all__ = [
    "CFS_PERIOD_US",
    "CgroupHierarchyV1",
    "CgroupV1",
    "ICgroup",
    "ICgroupHierarchy",
    "MIN_CFS_QUOTA_US",
    "V1_SUBSYSTEMS",
    "cfs_quota",
    "detect_hierarchy",
    "memory_message",
]

#: The v1 hierarchies every container has a cgroup in.
V1_SUBSYSTEMS = ("cpu", "cpuacct", "memory", "freezer")

CFS_PERIOD_US = 100000
MIN_CFS_QUOTA_US = 1000

_MB = 1024 * 1024
_TICKS = os.sysconf("SC_CLK_TCK")


class ICgroupHierarchy(Interface):
    """
    The cgroup hierarchy (or v1 hierarchies) the isolator puts containers
    in, below the slave's own cgroup.
    """

    version = Attribute("1 or 2.")

    def check():
        """
        Whether containers can be made here.

        @raise IsolatorUnavailable: naming what is missing or not writable.
        """

    def cgroup(relative):
        """
        @return: the L{ICgroup} named C{relative} below the slave's own
            cgroup (not made yet).
        """


class ICgroup(Interface):
    """
    One container's cgroup.
    """

    def exists():
        """
        Whether the cgroup is there.
        """

    def create():
        """
        Make the cgroup (and its parents, with whatever they need to hand
        their controllers down).
        """

    def remove():
        """
        Remove the (empty) cgroup; gone already is fine.
        """

    def add_process(pid):
        """
        Move process C{pid} into the cgroup.
        """

    def processes():
        """
        The set of pids in the cgroup.
        """

    def set_cpu(cpus, shares, enable_cfs):
        """
        Weigh the cgroup's cpu by C{shares} (v1 C{cpu.shares} units) and,
        with C{enable_cfs}, cap it at C{cpus} cpus.
        """

    def set_memory(limit):
        """
        Limit the cgroup's memory to C{limit} bytes (swap included).

        @return: the hard limit now in force: C{limit}, or the old one
            where the cgroup already uses more and C{limit} became a soft
            limit.
        """

    def watch_oom(reactor, on_oom):
        """
        Arrange for C{on_oom()} to be called when the cgroup reaches its
        memory limit (perhaps also at other times: see L{oom_occurred}).

        @return: an object whose C{close()} stops that.
        """

    def oom_occurred():
        """
        Whether the cgroup has reached its memory limit (now, or so that
        the kernel killed a process of it).
        """

    def memory_message(limit):
        """
        Words for a task that failed at the memory limit C{limit}: the
        limit, and how much was used.
        """

    def kill_all(reactor, log):
        """
        Kill every process in the cgroup.

        @return: a Deferred firing once none is left in it.
        """

    def statistics():
        """
        C{mesos.ResourceStatistics} fields (cpu times, throttling, rss) as
        a dict.
        """


def cfs_quota(cpus):
    """
    The CFS quota in microseconds per L{CFS_PERIOD_US} for C{cpus}, or
    C{None} (no quota) for none.
    """
    return max(int(cpus * CFS_PERIOD_US), MIN_CFS_QUOTA_US) if cpus else None


def memory_message(limit, used, rss, cache):
    """
    C{Memory limit of 64 MB reached: 64.0 MB used (rss 63.7 MB, cache 0.0 MB)}
    (all in bytes; without what was used where C{used} is C{None}).
    """
    if used is None:
        return f"Memory limit of {limit / _MB:g} MB reached"
    return (f"Memory limit of {limit / _MB:g} MB reached: {used / _MB:.1f} MB used "
            f"(rss {rss / _MB:.1f} MB, cache {cache / _MB:.1f} MB)")


def detect_hierarchy(mounts="/proc/self/mounts", cgroup="/proc/self/cgroup", files=None):
    """
    The hierarchy the cgroups isolator uses here: the v2 unified one where
    it is mounted with the cpu and memory controllers available in the
    slave's own cgroup, else the v1 hierarchies.

    @param files: how v2 control files are read and written (the real
        filesystem by default).
    """
    from mesos_tw.isolation._cgroup2 import CgroupHierarchyV2

    unified = CgroupHierarchyV2.find(mounts, cgroup, files)
    if unified is not None and unified.offers_needed_controllers():
        return unified
    return CgroupHierarchyV1(mounted_hierarchies(mounts), own_cgroups(cgroup), unified)


@implementer(ICgroupHierarchy)
class CgroupHierarchyV1:
    """
    The v1 hierarchies of L{V1_SUBSYSTEMS}.

    @param hierarchies: C{{subsystem: mount point}}.
    @param own: C{{subsystem: the slave's own cgroup}}.
    @param unified: the v2 hierarchy that was found wanting, if any (named
        when v1 is missing too).
    """

    version = 1

    def __init__(self, hierarchies, own, unified=None):
        self.hierarchies = dict(hierarchies)
        self.own = dict(own)
        self.unified = unified

    def check(self):
        """
        Every subsystem mounted, and the slave's cgroup of each writable.
        """
        missing = [s for s in V1_SUBSYSTEMS if s not in self.hierarchies]
        if missing:
            unified = ("" if self.unified is None else
                       f"; the unified (v2) hierarchy offers {self.unified.describe_controllers()}, "
                       "not both cpu and memory")
            raise IsolatorUnavailable(
                f"cgroup v1 hierarchies not mounted: {', '.join(missing)} "
                f"(mounted: {', '.join(sorted(self.hierarchies)) or 'none'}){unified}")
        for subsystem in V1_SUBSYSTEMS:
            base = os.path.join(self.hierarchies[subsystem],
                                self.own.get(subsystem, "/").lstrip("/"))
            if not os.access(base, os.W_OK):
                raise IsolatorUnavailable(f"the {subsystem} cgroup {base} is not writable")

    def cgroup(self, relative):
        """
        A L{CgroupV1} in each of L{V1_SUBSYSTEMS}.
        """
        return CgroupV1.under(V1_SUBSYSTEMS, relative, self.hierarchies, self.own)


@implementer(ICgroup)
class CgroupV1(CgroupSet):
    """
    A container's cgroup in the v1 hierarchies: C{cpu.shares} and a CFS
    quota, C{memory.limit_in_bytes} (and C{memory.memsw.limit_in_bytes}),
    the OOM killer disabled and C{memory.oom_control} watched through an
    eventfd, destruction through the freezer.
    """

    def set_cpu(self, cpus, shares, enable_cfs):
        """
        C{cpu.shares}, and C{cpu.cfs_quota_us} per C{cpu.cfs_period_us}.
        """
        self.write("cpu", "cpu.shares", shares)
        if enable_cfs:
            self.write("cpu", "cpu.cfs_period_us", CFS_PERIOD_US)
            quota = cfs_quota(cpus)
            self.write("cpu", "cpu.cfs_quota_us", -1 if quota is None else quota)

    def set_memory(self, limit):
        """
        C{memory.limit_in_bytes} and, where swap is accounted,
        C{memory.memsw.limit_in_bytes}; where the cgroup already uses more
        (C{EBUSY}), C{memory.soft_limit_in_bytes} instead.
        """
        current = int(self.read("memory", "memory.limit_in_bytes"))
        swap = self.has("memory", "memory.memsw.limit_in_bytes")
        # Memory and memory+swap limits must keep memsw >= memory.
        order = ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"] if limit > current \
            else ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
        for name in order:
            if name.startswith("memory.memsw") and not swap:
                continue
            try:
                self.write("memory", name, limit)
            except OSError as error:
                if error.errno != errno.EBUSY:
                    raise
                # It uses more than the new limit already: ask the kernel to
                # reclaim towards it instead, keeping the hard limit.
                self.write("memory", "memory.soft_limit_in_bytes", limit)
                return current
        return limit

    def watch_oom(self, reactor, on_oom):
        """
        Disable the OOM killer (an executor at its limit stops instead) and
        listen to C{memory.oom_control}'s eventfd.
        """
        self.write("memory", "memory.oom_control", "1")
        return OOMListener(reactor, self, on_oom)

    def oom_occurred(self):
        """
        C{memory.oom_control} says the cgroup is under OOM, or the kernel
        killed in it; the eventfd also fires when the cgroup goes.
        """
        try:
            control = read_keyed(self.path("memory", "memory.oom_control"))
        except OSError:
            return False
        return bool(control.get("under_oom") or control.get("oom_kill"))

    def memory_message(self, limit):
        """
        The limit, C{memory.max_usage_in_bytes}, and C{total_rss} and
        C{total_cache} from C{memory.stat}.
        """
        try:
            used = int(self.read("memory", "memory.max_usage_in_bytes"))
            stat = read_keyed(self.path("memory", "memory.stat"))
        except OSError:
            return memory_message(limit, None, 0, 0)
        return memory_message(limit, used, stat.get("total_rss", 0), stat.get("total_cache", 0))

    def kill_all(self, reactor, log):
        """
        Freeze, SIGKILL every process, thaw; fires once each has exited.
        """
        frozen = False
        try:
            self.write("freezer", "freezer.state", "FROZEN")
            frozen = True
        except OSError as error:
            if error.errno != errno.ENOENT:
                log.warn("Could not freeze a cgroup: {error}", error=str(error))
        exited = kill_and_wait(reactor, self.processes)
        if frozen:
            try:
                self.write("freezer", "freezer.state", "THAWED")
            except OSError as error:
                log.warn("Could not thaw a cgroup: {error}", error=str(error))
        return exited

    def statistics(self):
        """
        C{cpuacct.stat} (user, system), C{cpu.stat} (periods, throttling)
        and C{memory.stat} (C{total_rss}).

        @raise OSError: when a file cannot be read.
        """
        cpu = read_keyed(self.path("cpuacct", "cpuacct.stat"))
        throttling = read_keyed(self.path("cpu", "cpu.stat"))
        memory = read_keyed(self.path("memory", "memory.stat"))
        return dict(
            cpus_user_time_secs=cpu.get("user", 0) / _TICKS,
            cpus_system_time_secs=cpu.get("system", 0) / _TICKS,
            mem_rss_bytes=memory.get("total_rss", memory.get("rss", 0)),
            cpus_nr_periods=throttling.get("nr_periods", 0),
            cpus_nr_throttled=throttling.get("nr_throttled", 0),
            cpus_throttled_time_secs=throttling.get("throttled_time", 0) / 1e9,
        )
