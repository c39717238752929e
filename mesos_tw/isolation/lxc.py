"""
The LXC isolator: each executor runs in a Linux container through LXC's
own tools.  C{lxc-execute} runs it with a generated configuration: no root
filesystem of its own (it shares the host's files), but its own pid, mount,
uts and ipc namespaces and an empty network namespace, so it sees only its
own processes and can signal nothing outside.  Its cgroup limits are
C{lxc.cgroup.*} settings from its resources, as Mesos's LXC module set
them, changed with C{lxc-cgroup}; it is stopped with C{lxc-stop}.

LXC puts the container's cgroups in C{<cgroups_root>/mesos-<run id>} below
the slave's own cgroup of each hierarchy (C{lxc.cgroup.relative}); the
isolator watches the payload's C{memory.oom_control} as the cgroups
isolator does (the OOM killer is off inside), removes what LXC leaves of
those cgroups, and kills whatever is left once the container has ended.
"""

import os
import shutil
import signal

from twisted.internet import inotify
from twisted.internet.defer import fail, gatherResults, succeed
from twisted.internet.utils import getProcessOutputAndValue
from twisted.internet.error import ConnectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from zope.interface import implementer

from mesos_tw.isolation._cgroupfs import (
    OOMListener,
    hierarchy_bases,
    mounted_hierarchies,
    own_cgroups,
    read_keyed,
    remove_tree,
)
from mesos_tw.isolation._containers import (
    ContainerRun,
    ContainerTable,
    ExecutorProcess,
    follow,
    kill_and_wait,
    recovered_process,
    spawn_executor,
    switch_user,
    watch_exit,
)
from mesos_tw.isolation._hierarchy import CgroupV1
from mesos_tw.isolation.cgroups import cpu_shares, memory_limit
from mesos_tw.isolation.interface import (
    Container,
    IIsolator,
    IsolatorUnavailable,
    LaunchError,
    Termination,
    UnknownContainer,
)
from mesos_tw.isolation.usage import container_processes
from mesos_tw.protocols import mesos_pb2

__all__ = ["LXCIsolator", "NETWORKS", "TOOLS", "check_lxc", "lxc_configuration"]

#: The values of C{--lxc_network}.
NETWORKS = ("host", "empty")

#: The LXC tools the isolator runs.
TOOLS = ("lxc-execute", "lxc-stop", "lxc-cgroup")

#: Where LXC, run as root, keeps a lock file per container, which it leaves
#: behind.
LOCK_DIRECTORY = "/run/lxc/lock"

#: Hierarchies the limits and statistics come from.
SUBSYSTEMS = ("cpu", "cpuacct", "memory")

_TICKS = os.sysconf("SC_CLK_TCK")


def check_lxc(which=shutil.which):
    """
    Whether LXC can be used here.

    @raise IsolatorUnavailable: naming what is missing: root, a tool, or
        a mounted cgroup hierarchy.
    """
    if os.geteuid() != 0:
        raise IsolatorUnavailable(f"the lxc isolator needs root (the slave runs as uid {os.geteuid()})")
    missing = [tool for tool in TOOLS if which(tool) is None]
    if missing:
        raise IsolatorUnavailable(
            f"LXC's tools are not installed: {', '.join(missing)} not found (Debian: apt-get install lxc)")
    hierarchies = mounted_hierarchies()
    absent = [s for s in SUBSYSTEMS if s not in hierarchies]
    if absent:
        raise IsolatorUnavailable(f"cgroup v1 hierarchies not mounted: {', '.join(absent)}")


def lxc_configuration(name, cgroup_dir, directory, environment, resources, network="empty",
                      ids=None):
    """
    The text of an C{lxc-execute} configuration for one container.

    @param cgroup_dir: where LXC puts its cgroups, relative to ours.
    @param network: C{"host"} to share the slave's network (what an
        executor needs to reach its slave over TCP), or C{"empty"} for a
        network namespace of its own with only loopback.
    @param ids: C{(uid, gid)} to run the command as, or C{None}.
    Variables LXC's configuration cannot hold (with a newline) are left out.
    """
    lines = [
        f"lxc.uts.name = {name}",
        "lxc.net.0.type = none" if network == "host" else "lxc.net.0.type = empty",
        "lxc.console.path = none",
        # sysfs can only be mounted afresh in a network namespace of one's
        # own; sharing the host's network, the container sees the host's.
        "lxc.mount.auto = proc:mixed cgroup:mixed" if network == "host"
        else "lxc.mount.auto = proc:mixed sys:ro cgroup:mixed",
        "lxc.cgroup.relative = 1",
        f"lxc.cgroup.dir = {cgroup_dir}",
        f"lxc.cgroup.cpu.shares = {cpu_shares(resources)}",
        f"lxc.cgroup.memory.limit_in_bytes = {memory_limit(resources)}",
        "lxc.cgroup.memory.oom_control = 1",
        f"lxc.init.cwd = {directory}",
    ]
    if ids is not None:
        lines += [f"lxc.init.uid = {ids[0]}", f"lxc.init.gid = {ids[1]}"]
    for key, value in sorted(environment.items()):
        if "\n" in key or "\n" in value or "=" in key:
            continue
        lines.append(f"lxc.environment = {key}={value}")
    return "\n".join(lines) + "\n"


@implementer(IIsolator)
class LXCIsolator:
    """
    Runs executors in LXC containers.

    @param root: the cgroup, under the slave's own, that holds the
        containers' cgroups (C{--cgroups_root}).
    @param network: C{"host"} or C{"empty"} (C{--lxc_network}), as in
        L{lxc_configuration}.
    @param lxcpath: the directory holding the containers' LXC directories
        (each removed when its container has ended).
    """

    log = Logger()

    def __init__(self, reactor, lxcpath, root="mesos", network="empty"):
        self.reactor = reactor
        self.lxcpath = os.path.abspath(lxcpath)
        self.root = root.strip("/")
        self.network = network
        self._hierarchies = mounted_hierarchies()
        self._own = own_cgroups()
        self._containers = ContainerTable()

    def _state(self, container):
        """
        The container's LXC name, cgroup directory, LXC path and payload
        cgroups.

        @raise IsolatorUnavailable: if a hierarchy it needs is not mounted.
        """
        name = f"mesos-{container.run_id}"
        state = _LXCState(name, f"{self.root}/{name}", self.lxcpath)
        state.payload = CgroupV1.under(
            SUBSYSTEMS, os.path.join(state.cgroup_dir, f"lxc.payload.{name}"),
            self._hierarchies, self._own)
        state.resources = container.resources
        return state

    def cgroups_of(self, container):
        """
        The L{CgroupV1} LXC makes for a L{Container}'s payload.
        """
        return self._state(container).payload

    def recover(self, containers):
        """
        Resume each container that still runs (its C{lxc-execute} pid,
        with the checkpointed start time): its OOM watch comes back, and
        its end is watched through a pidfd, as it is not our child.  Stop
        the others and remove their cgroups, and end them; and stop
        orphans: containers under our LXC path named like a run that is
        not listed.
        """
        ends = []
        for container in containers:
            run = self._containers.add(container)
            run.state = self._state(container)
            fd = recovered_process(container.pid, container.start_time)
            if fd is not None:
                self._resume(run, fd)
                continue
            d = self._stop(run).addCallback(lambda _, run=run: self._kill_leftovers(run))
            d.addCallback(lambda _, run=run: run.terminated(Termination(
                None, None, "The executor could not be recovered after the slave restarted: "
                "its container is gone")))
            ends.append(d)
        known = {f"mesos-{container.run_id}" for container in containers}
        for name in _entries(self.lxcpath):
            if name.startswith("mesos-") and name not in known:
                self.log.warn("Stopping the orphan container {name}: the slave did not "
                              "checkpoint its run", name=name)
                orphan = ContainerRun(Container(
                    framework_id="", executor_id=name, run_id=name[len("mesos-"):],
                    executor_info=None, directory="", resources=None))
                orphan.state = self._state(orphan.container)
                d = self._stop(orphan).addCallback(lambda _, run=orphan: self._kill_leftovers(run))
                d.addCallback(lambda _, name=name: shutil.rmtree(
                    os.path.join(self.lxcpath, name), ignore_errors=True))
                ends.append(d)
        return gatherResults(ends).addCallback(lambda _: None)

    def _resume(self, run, fd):
        state = run.state
        run.pid = run.container.pid
        if os.path.isdir(state.payload.directories["memory"]):
            self._payload_ready(run)
        self.log.info("Recovered executor {executor_id} of framework {framework_id} in container "
                      "{name} (lxc-execute pid {pid})", executor_id=run.container.executor_id,
                      framework_id=run.container.framework_id, name=state.name, pid=run.pid)
        watch_exit(self.reactor, fd).addCallback(lambda _: self._ended(run, None))

    def prepare(self, container):
        """
        Record the container and where its LXC files and cgroups will go.
        """
        try:
            run = self._containers.add(container)
        except LaunchError as error:
            return fail(error)
        try:
            run.state = self._state(container)
        except IsolatorUnavailable as error:
            self._containers.remove(*container.key)
            return fail(LaunchError(f"cannot prepare the container: {error}"))
        return succeed(None)

    def launch(self, framework_id, executor_id, environment):
        """
        Write the configuration and run the command with C{lxc-execute};
        watch for its payload cgroup, to listen for OOM there.
        """
        try:
            run = self._containers.get(framework_id, executor_id)
            if run.pid is not None or run.termination is not None:
                raise LaunchError(f"executor {executor_id} was already launched or destroyed")
            container, state = run.container, run.state
            if container.tty:
                raise LaunchError("the lxc isolator cannot run an executor on a TTY "
                                  "(the process isolator can)")
            os.makedirs(os.path.join(state.lxcpath, state.name), exist_ok=True)
            config = os.path.join(state.lxcpath, state.name, "config")
            text = lxc_configuration(state.name, state.cgroup_dir, container.directory,
                                     environment, container.resources, self.network,
                                     switch_user(container))
            with open(config, "w") as written:
                written.write(text)
            self._watch_payload(run)
            process = ExecutorProcess(lambda pid, status: self._ended(run, status))
            spawn_executor(
                self.reactor, process, container, environment,
                ["setsid", "lxc-execute", "-n", state.name, "-P", state.lxcpath, "-f", config,
                 "--", "sh", "-c", container.executor_info.command.value])
        except OSError as error:
            return fail(LaunchError(f"cannot write the container's configuration: {error.strerror}"))
        except LaunchError as error:
            return fail(error)
        run.pid = process.pid
        self.log.info("Launched executor {executor_id} of framework {framework_id} in container "
                      "{name} (lxc-execute pid {pid})", executor_id=executor_id,
                      framework_id=framework_id, name=state.name, pid=process.pid)
        return succeed(process.pid)

    def _watch_payload(self, run):
        """
        Listen for OOM in the payload's memory cgroup as soon as LXC makes it.
        """
        state = run.state
        parent = os.path.dirname(state.payload.directories["memory"])
        os.makedirs(parent, exist_ok=True)
        notifier = state.watcher = inotify.INotify(self.reactor)
        notifier.startReading()
        payload = os.path.basename(state.payload.directories["memory"])

        def created(_, filepath, mask):
            if os.fsdecode(filepath.basename()) == payload:
                state.stop_watching()
                self._payload_ready(run)

        notifier.watch(FilePath(parent), mask=inotify.IN_CREATE, callbacks=[created])

    def _payload_ready(self, run):
        state = run.state
        if run.termination is not None or state.stopping:
            return
        try:
            state.oom = OOMListener(self.reactor, state.payload, lambda: self._oom(run))
        except OSError as error:
            self.log.warn("Cannot listen for OOM in container {name}: {error}",
                          name=state.name, error=str(error))
        if state.resources != run.container.resources:
            self._apply(run, state.resources).addErrback(lambda failure: self.log.warn(
                "Could not set the limits of container {name}: {error}",
                name=state.name, error=failure.getErrorMessage()))

    def _oom(self, run):
        state = run.state
        if state.limitation is not None or state.stopping:
            return
        if not state.payload.oom_occurred():
            return
        message = state.payload.memory_message(memory_limit(state.resources))
        self.log.warn("Container {name} reached its memory limit: {message}",
                      name=state.name, message=message)
        state.limitation = (mesos_pb2.TaskStatus.REASON_CONTAINER_LIMITATION_MEMORY, message)
        self._stop(run)

    def _stop(self, run):
        """
        C{lxc-stop -k} the container, then kill whatever is left of it.
        """
        state = run.state
        if state.stopping is None:
            state.stopping = getProcessOutputAndValue(
                "lxc-stop", ["-n", state.name, "-P", state.lxcpath, "-k"],
                env=os.environ, reactor=self.reactor)
            state.stopping.addCallback(lambda _: self._kill_leftovers(run))
        return follow(state.stopping)

    def _kill_leftovers(self, run):
        """
        Kill what is left in the payload cgroup and below C{lxc-execute}
        (a container that was not yet running when it was stopped).
        """
        state = run.state

        def find():
            pids = state.payload.processes()
            if run.pid is not None and run.termination is None:
                pids |= container_processes(run.pid)
            return pids

        return kill_and_wait(self.reactor, find)

    def _ended(self, run, status):
        state = run.state
        state.stop_watching()
        d = self._kill_leftovers(run)

        def gone(_):
            state.close()
            shutil.rmtree(os.path.join(state.lxcpath, state.name), ignore_errors=True)
            _remove_lock(state)
            for base in hierarchy_bases():
                try:
                    remove_tree(os.path.join(base, state.cgroup_dir))
                except OSError as error:
                    self.log.warn("Could not remove the cgroups of container {name}: {error}",
                                  name=state.name, error=str(error))
            # What lxc-execute reports of a container it was stopping is its
            # own business: the executor in it was killed.
            final = signal.SIGKILL if state.stopping is not None else status
            # A later turn, outside Twisted's child reaping.
            self.reactor.callLater(0, run.terminated, Termination(
                final, *(state.limitation or (None, ""))))

        d.addCallback(gone)

    def wait(self, framework_id, executor_id):
        """
        Fires with the termination once the container has ended.
        """
        try:
            return self._containers.get(framework_id, executor_id).wait()
        except LaunchError as error:
            return fail(error)

    def update(self, framework_id, executor_id, resources):
        """
        New limits through C{lxc-cgroup}; before the container runs, they
        are applied as soon as it does.
        """
        try:
            run = self._containers.get(framework_id, executor_id)
        except LaunchError as error:
            return fail(error)
        run.state.resources = resources
        if run.running and os.path.isdir(run.state.payload.directories["memory"]):
            return self._apply(run, resources)
        return succeed(None)

    def _apply(self, run, resources):
        state = run.state
        settings = [("cpu.shares", cpu_shares(resources)),
                    ("memory.limit_in_bytes", memory_limit(resources))]
        results = [getProcessOutputAndValue(
            "lxc-cgroup", ["-n", state.name, "-P", state.lxcpath, key, str(value)],
            env=os.environ, reactor=self.reactor) for key, value in settings]

        def applied(outcomes):
            failed = [f"{key}: {err.decode(errors='replace').strip() or code}"
                      for (key, _), (_, err, code) in zip(settings, outcomes) if code != 0]
            if failed:
                raise LaunchError(f"lxc-cgroup could not set {'; '.join(failed)}")

        return gatherResults(results).addCallback(applied)

    def usage(self, framework_id, executor_id):
        """
        CPU times, memory and limits from the container's payload cgroup
        (zeros, with the limits, before LXC has made it).
        """
        run = self._containers.find(framework_id, executor_id)
        if run is None or not run.running:
            return fail(UnknownContainer(
                f"executor {executor_id} of framework {framework_id} is not running"))
        state = run.state
        try:
            cpu = read_keyed(state.payload.path("cpuacct", "cpuacct.stat"))
            memory = read_keyed(state.payload.path("memory", "memory.stat"))
        except OSError:
            cpu, memory = {}, {}
        return succeed(mesos_pb2.ResourceStatistics(
            timestamp=self.reactor.seconds(),
            cpus_user_time_secs=cpu.get("user", 0) / _TICKS,
            cpus_system_time_secs=cpu.get("system", 0) / _TICKS,
            cpus_limit=state.resources.scalar("cpus") if state.resources else 0.0,
            mem_rss_bytes=memory.get("total_rss", 0),
            mem_limit_bytes=memory_limit(state.resources),
        ))

    def destroy(self, framework_id, executor_id):
        """
        Stop the container; fire once it has ended.
        """
        run = self._containers.find(framework_id, executor_id)
        if run is None:
            return succeed(None)
        if run.pid is None:
            run.terminated(Termination(None, None, "Destroyed before it was launched"))
        elif run.termination is None:
            self._stop(run)
        ended = run.wait()
        if run.state is not None and run.state.stopping is not None:
            # lxc-stop can outlive the container it stops (the executor may
            # have ended on its own meanwhile): destroyed means both are gone.
            ended = gatherResults([ended, follow(run.state.stopping)])
        return ended.addCallback(lambda _: None)

    def cleanup(self, framework_id, executor_id):
        """
        Forget the container.
        """
        run = self._containers.remove(framework_id, executor_id)
        if run is not None and run.state is not None:
            run.state.close()
            shutil.rmtree(os.path.join(run.state.lxcpath, run.state.name), ignore_errors=True)
            _remove_lock(run.state)
        return succeed(None)


class _LXCState:
    """
    What the LXC isolator keeps about one container.
    """

    def __init__(self, name, cgroup_dir, lxcpath):
        self.name = name
        self.cgroup_dir = cgroup_dir
        self.lxcpath = lxcpath
        self.payload = None
        self.resources = None
        self.oom = None
        self.watcher = None
        self.limitation = None
        self.stopping = None

    def stop_watching(self):
        """
        Stop waiting for LXC to make the payload cgroup.
        """
        if self.watcher is not None:
            self.watcher.stopReading()
            self.watcher.connectionLost(Failure(ConnectionDone()))
            self.watcher = None

    def close(self):
        """
        Stop listening for OOM events and for the payload cgroup.
        """
        self.stop_watching()
        if self.oom is not None:
            self.oom.close()
            self.oom = None


def _remove_lock(state):
    """
    Remove the lock file LXC leaves for an ended container.
    """
    try:
        os.unlink(os.path.join(LOCK_DIRECTORY, state.lxcpath.lstrip("/"), f".{state.name}"))
    except OSError:
        pass


def _entries(directory):
    try:
        return sorted(os.listdir(directory))
    except OSError:
        return []
