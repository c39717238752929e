"""
The cgroups isolator: each executor run gets a cgroup of its own, named
C{<cgroups_root>/<run id>} under the slave's own cgroup of each v1
hierarchy (C{cpu}, C{cpuacct}, C{memory}, C{freezer}), with
C{cpu.shares} = 1024 x cpus (and a CFS quota when asked), and a memory
limit from the tasks' C{mem}.

The kernel's OOM killer is disabled in the cgroup: an executor that reaches
its limit stops, the kernel notifies the C{memory.oom_control} eventfd, and
the isolator records how much it used and destroys the container, so its
tasks fail saying so.  Destroying freezes the cgroup, kills every process
in it, thaws it, and removes it once they have all exited.
"""

import errno
import os

from twisted.internet.defer import fail, gatherResults, succeed
from twisted.logger import Logger
from zope.interface import implementer

from mesos_tw.isolation._cgroupfs import CgroupSet, OOMListener, mounted_hierarchies, own_cgroups, read_keyed
from mesos_tw.isolation._containers import (
    ContainerTable,
    ExecutorProcess,
    follow,
    kill_and_wait,
    run_as,
    spawn_executor,
)
from mesos_tw.isolation.interface import (
    IIsolator,
    IsolatorUnavailable,
    LaunchError,
    Termination,
    UnknownContainer,
)
from mesos_tw.protocols import mesos_pb2

__all__ = ["CgroupsIsolator", "check_cgroups", "cpu_shares", "memory_limit"]

#: The hierarchies every container has a cgroup in.
SUBSYSTEMS = ("cpu", "cpuacct", "memory", "freezer")

CPU_SHARES_PER_CPU = 1024
MIN_CPU_SHARES = 10
CFS_PERIOD_US = 100000
MIN_CFS_QUOTA_US = 1000
MIN_MEMORY_BYTES = 32 * 1024 * 1024

_MB = 1024 * 1024
_TICKS = os.sysconf("SC_CLK_TCK")

#: Runs in the new process before the executor: it waits on descriptor 3
#: until the isolator has moved it into its cgroup, so that nothing the
#: executor starts is ever outside it, then becomes the executor ($2),
#: through the user switch $1 (words without spaces, or nothing).
_GATE = 'read -r go <&3; [ "$go" = go ] || exit 70; exec 3<&-; exec setsid $1 sh -c "$2"'


def cpu_shares(resources):
    """
    C{cpu.shares} for C{resources}: 1024 per cpu, at least 10.
    """
    return max(int(CPU_SHARES_PER_CPU * _scalar(resources, "cpus")), MIN_CPU_SHARES)


def memory_limit(resources):
    """
    The memory limit in bytes for C{resources}: their C{mem}, at least 32 MB.
    """
    return max(int(_scalar(resources, "mem") * _MB), MIN_MEMORY_BYTES)


def _scalar(resources, name):
    return 0.0 if resources is None else resources.scalar(name)


def check_cgroups(hierarchies=None, own=None):
    """
    Whether cgroups can be used here.

    @raise IsolatorUnavailable: naming what is missing: root, or a
        mounted, writable hierarchy of one of L{SUBSYSTEMS}.
    """
    if os.geteuid() != 0:
        raise IsolatorUnavailable("the cgroups isolator needs root (the slave runs as uid "
                                  f"{os.geteuid()})")
    hierarchies = mounted_hierarchies() if hierarchies is None else hierarchies
    own = own_cgroups() if own is None else own
    missing = [s for s in SUBSYSTEMS if s not in hierarchies]
    if missing:
        raise IsolatorUnavailable(
            f"cgroup v1 hierarchies not mounted: {', '.join(missing)} "
            f"(mounted: {', '.join(sorted(hierarchies)) or 'none'})")
    for subsystem in SUBSYSTEMS:
        base = os.path.join(hierarchies[subsystem], own.get(subsystem, "/").lstrip("/"))
        if not os.access(base, os.W_OK):
            raise IsolatorUnavailable(f"the {subsystem} cgroup {base} is not writable")


@implementer(IIsolator)
class CgroupsIsolator:
    """
    Runs executors in cgroups of their own.

    @param root: the name of the cgroup, under the slave's own, that holds
        every container's (C{--cgroups_root}).
    @param enable_cfs: also cap cpu time with a CFS quota.
    """

    log = Logger()

    def __init__(self, reactor, root="mesos", enable_cfs=False, hierarchies=None, own=None):
        self.reactor = reactor
        self.root = root.strip("/")
        self.enable_cfs = enable_cfs
        self._hierarchies = mounted_hierarchies() if hierarchies is None else hierarchies
        self._own = own_cgroups() if own is None else own
        self._containers = ContainerTable()

    def cgroups_of(self, container):
        """
        The L{CgroupSet} of a L{Container}.
        """
        return CgroupSet.under(SUBSYSTEMS, os.path.join(self.root, container.run_id),
                               self._hierarchies, self._own)

    def recover(self, containers):
        """
        Nothing can be resumed (the executors are not our children):
        destroy each named container's cgroup and end it.
        """
        ends = []
        for container in containers:
            run = self._containers.add(container)
            run.state = _CgroupState(self.cgroups_of(container))
            d = self._destroy_cgroup(run) if run.state.cgroups.exists() else succeed(None)
            d.addCallback(lambda _, run=run: run.terminated(Termination(
                None, None, "The executor could not be recovered after the slave restarted")))
            ends.append(d)
        return gatherResults(ends).addCallback(lambda _: None)

    def prepare(self, container):
        """
        Make the container's cgroup, set its limits, and listen for OOM.
        """
        try:
            run = self._containers.add(container)
        except LaunchError as error:
            return fail(error)
        try:
            cgroups = self.cgroups_of(container)
            run.state = _CgroupState(cgroups)
            cgroups.create()
            self._set_limits(run, container.resources)
            cgroups.write("memory", "memory.oom_control", "1")
            run.state.oom = OOMListener(self.reactor, cgroups, lambda: self._oom(run))
        except (OSError, IsolatorUnavailable) as error:
            self._discard(run)
            return fail(LaunchError(f"cannot set up the executor's cgroup: {_why(error)}"))
        return succeed(None)

    def _discard(self, run):
        self._containers.remove(*run.container.key)
        if run.state is not None:
            run.state.close()
            try:
                run.state.cgroups.remove()
            except OSError as error:
                self.log.warn("Could not remove cgroup {cgroup}: {error}",
                              cgroup=run.container.run_id, error=_why(error))

    def _set_limits(self, run, resources):
        cgroups = run.state.cgroups
        cpus = _scalar(resources, "cpus")
        cgroups.write("cpu", "cpu.shares", cpu_shares(resources))
        if self.enable_cfs:
            cgroups.write("cpu", "cpu.cfs_period_us", CFS_PERIOD_US)
            quota = max(int(cpus * CFS_PERIOD_US), MIN_CFS_QUOTA_US) if cpus else -1
            cgroups.write("cpu", "cpu.cfs_quota_us", quota)
        limit = memory_limit(resources)
        current = int(cgroups.read("memory", "memory.limit_in_bytes"))
        swap = cgroups.has("memory", "memory.memsw.limit_in_bytes")
        # Memory and memory+swap limits must keep memsw >= memory.
        order = ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"] if limit > current \
            else ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
        applied = limit
        for name in order:
            if name.startswith("memory.memsw") and not swap:
                continue
            try:
                cgroups.write("memory", name, limit)
            except OSError as error:
                if error.errno != errno.EBUSY:
                    raise
                # It uses more than the new limit already: ask the kernel to
                # reclaim towards it instead, keeping the hard limit.
                cgroups.write("memory", "memory.soft_limit_in_bytes", limit)
                self.log.warn("Executor {executor_id} uses more memory than its new limit "
                              "of {limit} bytes; set as a soft limit",
                              executor_id=run.container.executor_id, limit=limit)
                applied = current
                break
        run.state.cpus = cpus
        run.state.memory_limit = applied

    def launch(self, framework_id, executor_id, environment):
        """
        Fetch the command's URIs, spawn it, move it into the cgroup, and
        only then let it run the command (in a session of its own).
        """
        try:
            run = self._containers.get(framework_id, executor_id)
            if run.pid is not None or run.termination is not None:
                raise LaunchError(f"executor {executor_id} was already launched or destroyed")
            if run.container.tty:
                raise LaunchError("the cgroups isolator cannot run an executor on a TTY "
                                  "(the process isolator can)")
            command = run.container.executor_info.command.value
            process = ExecutorProcess(lambda pid, status: self._ended(run, status))
            transport = spawn_executor(
                self.reactor, process, run.container, environment,
                ["sh", "-c", _GATE, "mesos-executor", " ".join(run_as(run.container)), command],
                extra_fds={3: "w"})
        except LaunchError as error:
            return fail(error)
        run.pid = process.pid
        try:
            run.state.cgroups.add_process(process.pid)
        except OSError as error:
            transport.signalProcess("KILL")
            return fail(LaunchError(f"cannot move the executor into its cgroup: {_why(error)}"))
        transport.writeToChild(3, b"go\n")
        transport.closeChildFD(3)
        self.log.info("Launched executor {executor_id} of framework {framework_id} as pid {pid} "
                      "in cgroup {cgroup}", executor_id=executor_id, framework_id=framework_id,
                      pid=process.pid, cgroup=run.container.run_id)
        return succeed(process.pid)

    def _ended(self, run, status):
        # The executor is gone: so is everything it started.
        run.state.exit_status = status
        # Report on a later turn, outside Twisted's child reaping (see the
        # process isolator).
        self._destroy_cgroup(run).addCallback(
            lambda _: self.reactor.callLater(0, self._terminated, run))

    def _terminated(self, run):
        state = run.state
        status = state.exit_status
        if state.limitation is not None:
            run.terminated(Termination(status, *state.limitation))
        else:
            run.terminated(Termination(status))

    def _oom(self, run):
        state = run.state
        if state.limitation is not None or state.destroying is not None:
            return
        try:
            control = read_keyed(state.cgroups.path("memory", "memory.oom_control"))
        except OSError:
            return
        if not (control.get("under_oom") or control.get("oom_kill")):
            return
        message = self._memory_message(state)
        self.log.warn("Executor {executor_id} reached its memory limit: {message}",
                      executor_id=run.container.executor_id, message=message)
        state.limitation = (mesos_pb2.TaskStatus.REASON_CONTAINER_LIMITATION_MEMORY, message)
        self._destroy_cgroup(run)

    def _memory_message(self, state):
        cgroups = state.cgroups
        try:
            used = int(cgroups.read("memory", "memory.max_usage_in_bytes"))
            stat = read_keyed(cgroups.path("memory", "memory.stat"))
        except OSError:
            return f"Memory limit of {state.memory_limit / _MB:g} MB reached"
        return (f"Memory limit of {state.memory_limit / _MB:g} MB reached: "
                f"{used / _MB:.1f} MB used (rss {stat.get('total_rss', 0) / _MB:.1f} MB, "
                f"cache {stat.get('total_cache', 0) / _MB:.1f} MB)")

    def _destroy_cgroup(self, run):
        """
        Freeze, kill everything, thaw; once all have exited, remove the
        cgroup.  One destruction per container, however often asked.
        """
        state = run.state
        if state.destroying is None:
            state.destroying = self._kill_all(state.cgroups)
            state.destroying.addCallback(lambda _: self._remove(run))
        return follow(state.destroying)

    def _kill_all(self, cgroups):
        frozen = False
        try:
            cgroups.write("freezer", "freezer.state", "FROZEN")
            frozen = True
        except OSError as error:
            if error.errno != errno.ENOENT:
                self.log.warn("Could not freeze a cgroup: {error}", error=_why(error))
        exited = kill_and_wait(self.reactor, cgroups.processes)
        if frozen:
            try:
                cgroups.write("freezer", "freezer.state", "THAWED")
            except OSError as error:
                self.log.warn("Could not thaw a cgroup: {error}", error=_why(error))
        return exited

    def _remove(self, run):
        run.state.close()
        try:
            run.state.cgroups.remove()
        except OSError as error:
            self.log.warn("Could not remove cgroup {cgroup}: {error}",
                          cgroup=run.container.run_id, error=_why(error))

    def wait(self, framework_id, executor_id):
        """
        Fires with the termination once the executor and its cgroup are gone.
        """
        try:
            return self._containers.get(framework_id, executor_id).wait()
        except LaunchError as error:
            return fail(error)

    def update(self, framework_id, executor_id, resources):
        """
        Set the cgroup's cpu shares (and quota) and memory limit anew.
        """
        try:
            run = self._containers.get(framework_id, executor_id)
            if run.state.destroying is None:
                self._set_limits(run, resources)
        except LaunchError as error:
            return fail(error)
        except OSError as error:
            return fail(LaunchError(f"cannot update the executor's limits: {_why(error)}"))
        return succeed(None)

    def usage(self, framework_id, executor_id):
        """
        CPU times and throttling from C{cpuacct.stat} and C{cpu.stat},
        memory from C{memory.stat}, and the limits.
        """
        run = self._containers.find(framework_id, executor_id)
        if run is None or not run.running or run.state.destroying is not None:
            return fail(UnknownContainer(
                f"executor {executor_id} of framework {framework_id} is not running"))
        cgroups = run.state.cgroups
        try:
            cpu = read_keyed(cgroups.path("cpuacct", "cpuacct.stat"))
            throttling = read_keyed(cgroups.path("cpu", "cpu.stat"))
            memory = read_keyed(cgroups.path("memory", "memory.stat"))
        except OSError as error:
            return fail(UnknownContainer(f"cannot read executor {executor_id}'s cgroup: {_why(error)}"))
        statistics = mesos_pb2.ResourceStatistics(
            timestamp=self.reactor.seconds(),
            cpus_user_time_secs=cpu.get("user", 0) / _TICKS,
            cpus_system_time_secs=cpu.get("system", 0) / _TICKS,
            cpus_limit=run.state.cpus,
            mem_rss_bytes=memory.get("total_rss", memory.get("rss", 0)),
            mem_limit_bytes=run.state.memory_limit,
            cpus_nr_periods=throttling.get("nr_periods", 0),
            cpus_nr_throttled=throttling.get("nr_throttled", 0),
            cpus_throttled_time_secs=throttling.get("throttled_time", 0) / 1e9,
        )
        return succeed(statistics)

    def destroy(self, framework_id, executor_id):
        """
        Kill everything in the container; fire once its wait has fired.
        """
        run = self._containers.find(framework_id, executor_id)
        if run is None:
            return succeed(None)
        if run.pid is None:
            self._destroy_cgroup(run).addCallback(lambda _: run.terminated(
                Termination(None, None, "Destroyed before it was launched")))
        elif run.termination is None:
            self._destroy_cgroup(run)
        return run.wait().addCallback(lambda _: None)

    def cleanup(self, framework_id, executor_id):
        """
        Forget the container; its cgroup went with its executor.
        """
        run = self._containers.remove(framework_id, executor_id)
        if run is not None and run.state is not None and run.state.destroying is None:
            # Never launched and never destroyed: nothing runs in it.
            self._discard(run)
        return succeed(None)


class _CgroupState:
    """
    What the cgroups isolator keeps about one container.
    """

    def __init__(self, cgroups):
        self.cgroups = cgroups
        self.oom = None
        self.cpus = 0.0
        self.memory_limit = 0
        self.limitation = None
        self.destroying = None
        self.exit_status = None

    def close(self):
        """
        Stop listening for OOM events.
        """
        if self.oom is not None:
            self.oom.close()
            self.oom = None


def _why(error):
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror} ({error.filename})" if error.filename else error.strerror
    return str(error)
