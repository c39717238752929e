"""
The process isolator: each executor is a plain process in its own session,
with no resource limits (Mesos's default isolation).  Destroying one kills
its session, its descendants, and every process that carries its run's
mark in its environment (those that made a session of their own and were
reparented), all found through C{/proc}.
"""

import os
import signal

from twisted.internet.defer import fail, gatherResults, succeed
from twisted.logger import Logger
from zope.interface import implementer

from mesos_tw.isolation._containers import (
    CONTAINER_VARIABLE,
    ContainerTable,
    ExecutorProcess,
    kill_and_wait,
    recovered_process,
    run_as,
    spawn_executor,
    switch_user,
    watch_exit,
)
from mesos_tw.isolation._pty import spawn_on_pty
from mesos_tw.isolation.interface import IIsolator, LaunchError, Termination, UnknownContainer
from mesos_tw.isolation.launcher import LAUNCHER_MODULE
from mesos_tw.isolation.usage import (
    ProcessTable, container_processes, forked_executors, marked_processes)

__all__ = ["ProcessIsolator"]


@implementer(IIsolator)
class ProcessIsolator:
    """
    Runs executors with C{setsid sh -c <command>}, so that each is the
    leader of its own session and process group and can be killed whole,
    as the container's user where it names one (C{setpriv});
    one whose container asks for a TTY runs on a pseudo-terminal instead
    (and leads its session all the same).

    The built-in command executor is forked by C{launcher} (a
    L{mesos_tw.isolation.launcher.Launcher}), when there is one, instead of
    starting an interpreter: it still leads its own session, in its
    sandbox, as its user, with its environment and its run's mark.

    @param proc: where C{/proc} is.
    """

    log = Logger()

    def __init__(self, reactor, proc="/proc", work_dir=None, launcher=None):
        self.reactor = reactor
        self.proc = proc
        self.work_dir = work_dir
        self.launcher = launcher
        self._containers = ContainerTable()
        self._table = None

    def recover(self, containers):
        """
        Resume each container whose executor still runs (its pid, with the
        checkpointed start time): its end is watched through a pidfd, as it
        is not our child.  Kill what is left of the others, found by their
        run's mark, and end them; and kill orphans: marked processes whose
        sandbox is under our work directory but whose run is not listed.
        """
        ends = []
        for container in containers:
            run = self._containers.add(container)
            fd = recovered_process(container.pid, container.start_time, self.proc)
            if fd is not None:
                self._resume(run, fd)
                continue
            d = self._kill(None, container.run_id)
            d.addCallback(lambda _, run=run: run.terminated(Termination(
                None, None, "The executor could not be recovered after the slave restarted: "
                "its process is gone")))
            ends.append(d)
        ends.extend(self._kill_orphans({container.run_id for container in containers}))
        return gatherResults(ends).addCallback(lambda _: None)

    def _resume(self, run, fd):
        run.pid = run.container.pid
        self.log.info("Recovered executor {executor_id} of framework {framework_id} (pid {pid})",
                      executor_id=run.container.executor_id,
                      framework_id=run.container.framework_id, pid=run.pid)
        watch_exit(self.reactor, fd).addCallback(lambda _: self._ended(run, run.pid, None))

    def _kill_orphans(self, known):
        """
        Kill the processes of runs under our work directory not in
        C{known} (run ids); L{None} work directory: none are looked for.
        """
        if self.work_dir is None:
            return []
        sandboxes = os.path.join(os.path.realpath(self.work_dir), "slaves") + os.sep
        orphans = {}
        leaders = {}
        for pid, environment in marked_processes(CONTAINER_VARIABLE, self.proc).items():
            run_id = environment.get(CONTAINER_VARIABLE)
            directory = environment.get("MESOS_DIRECTORY", "")
            if run_id not in known and os.path.realpath(directory).startswith(sandboxes):
                orphans.setdefault(run_id, directory)
        # A command executor forked by a launcher is not marked as /proc
        # shows it; it works in its run's sandbox, .../runs/<run id>.
        for pid, directory in forked_executors(sandboxes, LAUNCHER_MODULE, self.proc).items():
            runs, run_id = os.path.split(directory)
            if os.path.basename(runs) == "runs" and run_id not in known:
                orphans.setdefault(run_id, directory)
                leaders.setdefault(run_id, []).append(pid)
        kills = []
        for run_id, directory in orphans.items():
            self.log.warn("Killing the orphan executor run {run_id} in {directory}: the slave "
                          "did not checkpoint it", run_id=run_id, directory=directory)
            kills.append(self._kill(None, run_id))
            kills.extend(self._kill(pid, run_id) for pid in leaders.get(run_id, ()))
        return kills

    def prepare(self, container):
        """
        Record the container; there is nothing to set up.
        """
        try:
            self._containers.add(container)
        except LaunchError as error:
            return fail(error)
        return succeed(None)

    def launch(self, framework_id, executor_id, environment):
        """
        Fetch the command's URIs, then spawn it in its own session.
        """
        try:
            run = self._containers.get(framework_id, executor_id)
            if run.pid is not None or run.termination is not None:
                raise LaunchError(f"executor {executor_id} was already launched or destroyed")
            command = run.container.executor_info.command.value
            if self._forks(run.container):
                return self._launch_forked(run, environment)
            if run.container.tty:
                run.pid = spawn_on_pty(self.reactor, run.container, environment,
                                       ["sh", "-c", command],
                                       lambda pid, status: self._ended(run, pid, status))
            else:
                process = ExecutorProcess(lambda pid, status: self._ended(run, pid, status))
                spawn_executor(self.reactor, process, run.container, environment,
                               ["setsid"] + run_as(run.container) + ["sh", "-c", command])
                run.pid = process.pid
        except LaunchError as error:
            return fail(error)
        self.log.info("Launched executor {executor_id} of framework {framework_id} as pid {pid}",
                      executor_id=executor_id, framework_id=framework_id, pid=run.pid)
        return succeed(run.pid)

    def _forks(self, container):
        """
        Whether C{container}'s executor is forked by the launcher.
        """
        return self.launcher is not None and container.builtin == "command" and not container.tty

    def _launch_forked(self, run, environment):
        ids = switch_user(run.container)
        environment = dict(environment, **{CONTAINER_VARIABLE: run.container.run_id})
        d = self.launcher.launch(run.container.run_id, run.container.directory, environment,
                                 lambda pid, status: self._forked_ended(run, pid, status),
                                 ids=ids)

        def launched(pid):
            if run.termination is not None:
                # Destroyed while the launcher forked it: it goes now.
                self._kill(pid, run.container.run_id)
                raise LaunchError(f"executor {run.container.executor_id} was destroyed while "
                                  "it was being launched")
            run.pid = pid
            self.log.info("Launched executor {executor_id} of framework {framework_id} as pid "
                          "{pid} (forked by the launcher)",
                          executor_id=run.container.executor_id,
                          framework_id=run.container.framework_id, pid=pid)
            return pid

        return d.addCallback(launched)

    def _forked_ended(self, run, pid, status):
        run.pid = pid
        if status is not None and os.WIFEXITED(status):
            # The command executor exits only once nothing it started is
            # left (it is their subreaper): no need to look for leftovers.
            run.terminated(Termination(status))
            return
        d = self._kill(pid, run.container.run_id)
        d.addCallback(lambda _: run.terminated(Termination(
            status, None, "" if status is not None else
            "The executor ended after its launcher did (its wait status is unknown)")))

    def _ended(self, run, pid, status):
        run.pid = pid
        # Whatever the executor left running dies with it.  Report on a
        # later turn, outside Twisted's child reaping: a caller that stops
        # the reactor from its callback must not do so while the reaper
        # runs, or the next child's exit goes unnoticed.
        d = self._kill(pid, run.container.run_id)
        d.addCallback(lambda _: self.reactor.callLater(0, run.terminated, Termination(status)))

    def wait(self, framework_id, executor_id):
        """
        Fires with the executor's wait status once it has been reaped.
        """
        try:
            return self._containers.get(framework_id, executor_id).wait()
        except LaunchError as error:
            return fail(error)

    def update(self, framework_id, executor_id, resources):
        """
        Nothing to adjust: processes run without limits.
        """
        try:
            self._containers.get(framework_id, executor_id)
        except LaunchError as error:
            return fail(error)
        return succeed(None)

    def usage(self, framework_id, executor_id):
        """
        CPU times and resident memory of the executor's session and
        descendants (not of processes that escaped both: finding those
        reads every process's environment, which destroy does, but which
        is too costly to do for every sample).
        """
        run = self._containers.find(framework_id, executor_id)
        if run is None or not run.running:
            return fail(_not_running(framework_id, executor_id))
        table = self._process_table()
        return succeed(table.statistics(table.members(run.pid), self.reactor.seconds()))

    def _process_table(self):
        """
        The processes as read in this turn of the reactor: a round of
        samples (every executor's, in one turn) reads C{/proc} once.
        """
        if self._table is None:
            self._table = ProcessTable(self.proc)
            self.reactor.callLater(0, self._forget_table)
        return self._table

    def _forget_table(self):
        self._table = None

    def destroy(self, framework_id, executor_id):
        """
        SIGKILL everything of the executor; fire once it is reaped.
        """
        run = self._containers.find(framework_id, executor_id)
        if run is None:
            return succeed(None)
        if run.pid is None:
            run.terminated(Termination(None, None, "Destroyed before it was launched"))
        elif run.termination is None:
            self._kill(run.pid, run.container.run_id)
        return run.wait().addCallback(lambda _: None)

    def _kill(self, leader, run_id):
        """
        SIGKILL the session and group C{leader} leads (and C{leader}, in
        case it has not yet made its own session), their descendants, and
        every process marked with C{run_id}.

        @return: a Deferred firing once they have all exited.
        """
        def find():
            if leader is not None:
                _killpg(leader)
            return container_processes(
                -1 if leader is None else leader, (CONTAINER_VARIABLE, run_id), self.proc)

        return kill_and_wait(self.reactor, find)

    def stop(self):
        """
        Stop the launcher, if there is one (the slave is stopping).
        """
        if self.launcher is None:
            return succeed(None)
        return self.launcher.stop()

    def cleanup(self, framework_id, executor_id):
        """
        Forget the container.
        """
        self._containers.remove(framework_id, executor_id)
        return succeed(None)


def _not_running(framework_id, executor_id):
    return UnknownContainer(f"executor {executor_id} of framework {framework_id} is not running")


def _killpg(leader):
    try:
        os.killpg(leader, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
