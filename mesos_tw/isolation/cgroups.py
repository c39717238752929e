"""
The cgroups isolator: each executor run gets a cgroup of its own, named
C{<cgroups_root>/<run id>} under the slave's own cgroup, with cpu weighed
by its cpus (and capped with a CFS quota when asked) and a memory limit
from the tasks' C{mem}.

It works on the cgroup v1 hierarchies (C{cpu}, C{cpuacct}, C{memory},
C{freezer}) and on the v2 unified hierarchy where that is the one with the
cpu and memory controllers and it is delegated to the slave; the
difference is behind L{mesos_tw.isolation._hierarchy.ICgroupHierarchy}.

An executor that reaches its memory limit (v1: the OOM killer is disabled
and C{memory.oom_control}'s eventfd tells; v2: the kernel OOM-kills the
cgroup and C{memory.events} counts it) is destroyed, and the isolator
records how much it used, so its tasks fail saying so.  Destroying kills
every process in the cgroup and removes it once they have all exited.
"""

import os
import signal
import re

from twisted.internet.defer import fail, gatherResults, succeed
from twisted.logger import Logger
from zope.interface import implementer

from mesos_tw.isolation._containers import (
    CONTAINER_VARIABLE,
    ContainerTable,
    ExecutorProcess,
    follow,
    recovered_process,
    run_as,
    spawn_executor,
    switch_user,
    watch_exit,
)
from mesos_tw.isolation._hierarchy import V1_SUBSYSTEMS, detect_hierarchy
from mesos_tw.isolation.interface import (
    IIsolator,
    IsolatorUnavailable,
    LaunchError,
    Termination,
    UnknownContainer,
)
from mesos_tw.protocols import mesos_pb2

__all__ = ["CgroupsIsolator", "check_cgroups", "cpu_shares", "memory_limit"]

#: The v1 hierarchies every container has a cgroup in (on v1).
SUBSYSTEMS = V1_SUBSYSTEMS

CPU_SHARES_PER_CPU = 1024
MIN_CPU_SHARES = 10
MIN_MEMORY_BYTES = 32 * 1024 * 1024

_MB = 1024 * 1024

#: A run id (a uuid): the name of a container's cgroup under the root.
_RUN_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

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


def check_cgroups(hierarchy=None):
    """
    Whether cgroups can be used here.

    @param hierarchy: the L{ICgroupHierarchy} to check (by default, the
        one L{detect_hierarchy} picks).
    @raise IsolatorUnavailable: naming what is missing: root, or a
        mounted, writable hierarchy with what the isolator needs.
    """
    if os.geteuid() != 0:
        raise IsolatorUnavailable("the cgroups isolator needs root (the slave runs as uid "
                                  f"{os.geteuid()})")
    (detect_hierarchy() if hierarchy is None else hierarchy).check()


@implementer(IIsolator)
class CgroupsIsolator:
    """
    Runs executors in cgroups of their own.

    @param root: the name of the cgroup, under the slave's own, that holds
        every container's (C{--cgroups_root}).
    @param enable_cfs: also cap cpu time with a CFS quota.
    @param hierarchy: the L{ICgroupHierarchy} to use; by default the one
        L{detect_hierarchy} picks (v2 where it is the one with cpu and
        memory, else v1).
    """

    log = Logger()

    def __init__(self, reactor, root="mesos", enable_cfs=False, hierarchy=None, launcher=None):
        self.reactor = reactor
        self.root = root.strip("/")
        self.enable_cfs = enable_cfs
        self.hierarchy = detect_hierarchy() if hierarchy is None else hierarchy
        self.launcher = launcher
        self._containers = ContainerTable()

    def cgroups_of(self, container):
        """
        The L{ICgroup} of a L{Container}.
        """
        return self.hierarchy.cgroup(os.path.join(self.root, container.run_id))

    def recover(self, containers):
        """
        Resume each container whose cgroup still holds its executor (its
        pid, with the checkpointed start time): its limits and OOM watch
        come back, and its end is watched through a pidfd, as it is not
        our child.  Destroy the cgroups of the others, and end them; and
        destroy orphans: cgroups under our root named like a run that is
        not listed.
        """
        ends = []
        for container in containers:
            run = self._containers.add(container)
            cgroups = self.cgroups_of(container)
            run.state = _CgroupState(cgroups)
            fd = None
            if cgroups.exists() and container.pid in cgroups.processes():
                fd = recovered_process(container.pid, container.start_time)
            if fd is not None:
                self._resume(run, fd)
                continue
            d = self._destroy_cgroup(run) if cgroups.exists() else succeed(None)
            d.addCallback(lambda _, run=run: run.terminated(Termination(
                None, None, "The executor could not be recovered after the slave restarted: "
                "its process or its cgroup is gone")))
            ends.append(d)
        known = {container.run_id for container in containers}
        for name in self._run_cgroups():
            if name not in known:
                self.log.warn("Destroying the orphan cgroup {cgroup}: the slave did not "
                              "checkpoint its run", cgroup=name)
                orphan = self.hierarchy.cgroup(os.path.join(self.root, name))
                ends.append(orphan.kill_all(self.reactor, self.log).addCallback(
                    lambda _, orphan=orphan: orphan.remove()))
        return gatherResults(ends).addCallback(lambda _: None)

    def _resume(self, run, fd):
        state, container = run.state, run.container
        run.pid = container.pid
        state.cpus = _scalar(container.resources, "cpus")
        state.memory_limit = memory_limit(container.resources)
        try:
            state.oom = state.cgroups.watch_oom(self.reactor, lambda: self._oom(run))
        except (OSError, IsolatorUnavailable) as error:
            self.log.warn("Cannot listen for OOM in recovered cgroup {cgroup}: {error}",
                          cgroup=container.run_id, error=_why(error))
        self.log.info("Recovered executor {executor_id} of framework {framework_id} (pid {pid}) "
                      "in cgroup {cgroup}", executor_id=container.executor_id,
                      framework_id=container.framework_id, pid=run.pid, cgroup=container.run_id)
        watch_exit(self.reactor, fd).addCallback(lambda _: self._ended(run, None))

    def _run_cgroups(self):
        """
        The names of the cgroups under our root that name a run (a uuid).
        """
        root = self.hierarchy.cgroup(self.root)
        directories = set(getattr(root, "directories", {}).values()) or {root.directory}
        names = set()
        for directory in directories:
            try:
                names.update(name for name in os.listdir(directory)
                             if _RUN_ID.fullmatch(name)
                             and os.path.isdir(os.path.join(directory, name)))
            except OSError:
                continue
        return names

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
            run.state.oom = cgroups.watch_oom(self.reactor, lambda: self._oom(run))
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
        cgroups.set_cpu(cpus, cpu_shares(resources), self.enable_cfs)
        limit = memory_limit(resources)
        applied = cgroups.set_memory(limit)
        if applied != limit:
            self.log.warn("Executor {executor_id} uses more memory than its new limit "
                          "of {limit} bytes; set as a soft limit",
                          executor_id=run.container.executor_id, limit=limit)
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
            if self.launcher is not None and run.container.builtin == "command":
                return self._launch_forked(run, environment)
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

    def _launch_forked(self, run, environment):
        """
        The command executor, forked by the launcher: it waits until it is
        in its cgroup before it runs anything.
        """
        ids = switch_user(run.container)
        environment = dict(environment, **{CONTAINER_VARIABLE: run.container.run_id})
        d = self.launcher.launch(run.container.run_id, run.container.directory, environment,
                                 lambda pid, status: self._ended(run, status), ids=ids,
                                 gated=True)

        def launched(pid):
            run.pid = pid
            if run.state.destroying is not None or run.termination is not None:
                os.kill(pid, signal.SIGKILL)
                raise LaunchError(f"executor {run.container.executor_id} was destroyed while "
                                  "it was being launched")
            try:
                run.state.cgroups.add_process(pid)
            except OSError as error:
                os.kill(pid, signal.SIGKILL)
                raise LaunchError(f"cannot move the executor into its cgroup: {_why(error)}")
            self.launcher.go(pid)
            self.log.info("Launched executor {executor_id} of framework {framework_id} as pid "
                          "{pid} in cgroup {cgroup} (forked by the launcher)",
                          executor_id=run.container.executor_id,
                          framework_id=run.container.framework_id, pid=pid,
                          cgroup=run.container.run_id)
            return pid

        return d.addCallback(launched)

    def _ended(self, run, status):
        # The executor is gone: so is everything it started.  The kernel
        # may have killed it at its memory limit (v2) before we heard.
        run.state.exit_status = status
        self._oom(run)
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
        if not state.cgroups.oom_occurred():
            return
        message = state.cgroups.memory_message(state.memory_limit)
        self.log.warn("Executor {executor_id} reached its memory limit: {message}",
                      executor_id=run.container.executor_id, message=message)
        state.limitation = (mesos_pb2.TaskStatus.REASON_CONTAINER_LIMITATION_MEMORY, message)
        self._destroy_cgroup(run)

    def _destroy_cgroup(self, run):
        """
        Kill everything in the cgroup; once all have exited, remove it.
        One destruction per container, however often asked.
        """
        state = run.state
        if state.destroying is None:
            state.destroying = state.cgroups.kill_all(self.reactor, self.log)
            state.destroying.addCallback(lambda _: self._remove(run))
        return follow(state.destroying)

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
        Set the cgroup's cpu weight (and quota) and memory limit anew.
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
        CPU times, throttling and rss from the cgroup (v1: C{cpuacct.stat},
        C{cpu.stat}, C{memory.stat}; v2: C{cpu.stat}, C{memory.stat}), and
        the limits.
        """
        run = self._containers.find(framework_id, executor_id)
        if run is None or not run.running or run.state.destroying is not None:
            return fail(UnknownContainer(
                f"executor {executor_id} of framework {framework_id} is not running"))
        try:
            measured = run.state.cgroups.statistics()
        except OSError as error:
            return fail(UnknownContainer(f"cannot read executor {executor_id}'s cgroup: {_why(error)}"))
        statistics = mesos_pb2.ResourceStatistics(
            timestamp=self.reactor.seconds(), cpus_limit=run.state.cpus,
            mem_limit_bytes=run.state.memory_limit, **measured)
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

    def stop(self):
        """
        Stop the launcher, if there is one (the slave is stopping).
        """
        if self.launcher is None:
            return succeed(None)
        return self.launcher.stop()

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
