"""
The built-in default executor: the slave runs it for task groups whose
executor is of type DEFAULT (Mesos's C{mesos-default-executor}).

One executor runs any number of task groups.  Each task's command runs with
C{sh -c} in a session of its own, in a sandbox of its own
(C{<executor sandbox>/tasks/<task id>}, holding its fetched URIs and its
C{stdout} and C{stderr} files; C{MESOS_SANDBOX} names it).  A task reports
TASK_STARTING, TASK_RUNNING once started and then how its command ended; its
C{HealthCheck} runs on the executor's reactor (L{mesos_tw.checks}), and it
is killed with its C{KillPolicy} (or the kill's): SIGTERM, then SIGKILL
after the grace period, with TASK_KILLING first for frameworks that can
handle it.  As in Mesos, a group stands or falls together: when one of its
tasks fails or is killed, the others are killed.  Once no task is left the
executor stops (after the slave has acknowledged its updates) and exits.

Run by the slave as ``python -m mesos_tw.executors.default``.
"""

import os
import signal
import subprocess
import sys

from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import react
from twisted.logger import Logger

from mesos_tw.checks.checker import HealthChecker
from mesos_tw.checks.twisted_loop import ReactorLoop
from mesos_tw.checks.validation import DEFAULT_KILL_GRACE_PERIOD, kill_grace_period
from mesos_tw.interface import Executor
from mesos_tw.isolation._containers import watch_exit
from mesos_tw.isolation.interface import LaunchError
from mesos_tw.native import MesosExecutorDriver
from mesos_tw.protocols import mesos_pb2
from mesos_tw.slave.fetcher import Fetcher

__all__ = ["DefaultExecutor", "main"]

#: Time between SIGTERM and SIGKILL when neither the task's nor the kill's
#: policy says (shorter than the slave's default grace period before it kills
#: the whole executor).
KILL_GRACE_PERIOD = DEFAULT_KILL_GRACE_PERIOD

Capability = mesos_pb2.FrameworkInfo.Capability


class _RunningTask:
    """
    One task's process, and what has been done to it.
    """

    def __init__(self, task, group, process):
        self.task = task
        self.task_id = task.task_id.value
        self.group = group
        self.process = process
        self.health_checker = None
        self.killed = False
        self.killed_by_health_check = False
        self.kill_started = None
        self.kill_call = None

    def kill_policy(self):
        """
        The task's own C{KillPolicy}, or L{None}.
        """
        return self.task.kill_policy if self.task.HasField("kill_policy") else None

    def signal(self, number):
        """
        Signal the task's whole session (its command's children too).
        """
        if self.process.returncode is None:
            try:
                os.killpg(self.process.pid, number)
            except ProcessLookupError:
                pass


class _Launch:
    """
    A group whose URIs are being fetched; a kill meanwhile stops it from
    starting.
    """

    def __init__(self, group):
        self.group = group
        self.killed = False


class DefaultExecutor(Executor):
    """
    Runs task groups' commands as child processes.

    @param reactor: watches the processes and times kills.
    @param sandbox: the executor's sandbox; each task gets a directory in it.
    @param environ: the environment tasks start from (the executor's own).
    @param fetcher: fetches tasks' URIs (a L{Fetcher} on C{reactor}).

    @ivar running: C{{task id: _RunningTask}} of the tasks started.
    @ivar launching: the groups whose URIs are being fetched.
    """

    log = Logger()

    def __init__(self, reactor, sandbox, environ, kill_grace_period=KILL_GRACE_PERIOD,
                 fetcher=None):
        self.reactor = reactor
        self.sandbox = sandbox
        self.environ = dict(environ)
        self.kill_grace_period = kill_grace_period
        self.fetcher = Fetcher(reactor) if fetcher is None else fetcher
        self.loop = ReactorLoop(reactor)
        self.framework_info = None
        self.running = {}
        self.launching = []

    def registered(self, driver, executorInfo, frameworkInfo, slaveInfo):
        """
        Keep the framework's info: its capabilities decide TASK_KILLING.
        """
        self.framework_info = frameworkInfo

    def launchTaskGroup(self, driver, tasks):
        """
        Fetch the group's URIs, then start every task; if one cannot be
        fetched or started, the group fails whole (those started are
        killed, the others fail).
        """
        group = [task.task_id.value for task in tasks]
        missing = [task.task_id.value for task in tasks if not task.command.value]
        if missing:
            for task_id in group:
                self._update(driver, task_id, mesos_pb2.TASK_FAILED,
                             f"Task(s) {', '.join(missing)} of the group have no command")
            self._stop_if_idle(driver)
            return
        launch = _Launch(group)
        self.launching.append(launch)
        self._fetch(tasks).addCallback(self._fetched, driver, tasks, launch)

    def launchTask(self, driver, task):
        """
        A single task is a group of one (the master sends DEFAULT executors
        groups only).
        """
        self.launchTaskGroup(driver, [task])

    def _directory(self, task_id):
        return os.path.join(self.sandbox, "tasks", task_id)

    @inlineCallbacks
    def _fetch(self, tasks):
        """
        Make each task's sandbox and fetch its URIs there.

        @return: a Deferred firing with L{None}, or with C{(task id, why)}
            for the first task whose sandbox could not be made ready.
        """
        for task in tasks:
            directory = self._directory(task.task_id.value)
            try:
                os.makedirs(directory, exist_ok=True)
                yield self.fetcher.fetch(task.command, directory)
            except LaunchError as error:
                return task.task_id.value, str(error)
            except OSError as error:
                return task.task_id.value, f"Cannot make the task's sandbox: {error.strerror}"
        return None

    def _fetched(self, problem, driver, tasks, launch):
        self.launching.remove(launch)
        group = launch.group
        if launch.killed:
            for task_id in group:
                self._update(driver, task_id, mesos_pb2.TASK_KILLED,
                             "Killed before it started")
        elif problem is not None:
            failed, why = problem
            for task_id in group:
                self._update(driver, task_id, mesos_pb2.TASK_FAILED, why if task_id == failed
                             else f"Task {failed} of the group could not be fetched")
        else:
            for index, task in enumerate(tasks):
                error = self._start(driver, task, group)
                if error is None:
                    continue
                self._update(driver, group[index], mesos_pb2.TASK_FAILED, error)
                for task_id in group[index + 1:]:
                    self._update(driver, task_id, mesos_pb2.TASK_FAILED,
                                 f"Task {group[index]} of the group could not start")
                self._kill_group(driver, group, group[index], mesos_pb2.TASK_FAILED)
                break
        self._stop_if_idle(driver)

    def _start(self, driver, task, group):
        """
        Start one task's command in its (ready) sandbox.

        @return: L{None}, or why it could not start.
        """
        task_id = task.task_id.value
        directory = self._directory(task_id)
        environment = dict(self.environ)
        for variable in task.command.environment.variables:
            environment[variable.name] = variable.value
        environment["MESOS_SANDBOX"] = directory
        self._update(driver, task_id, mesos_pb2.TASK_STARTING, "")
        try:
            with open(os.path.join(directory, "stdout"), "ab") as stdout, \
                    open(os.path.join(directory, "stderr"), "ab") as stderr:
                process = subprocess.Popen(
                    ["sh", "-c", task.command.value], cwd=directory, env=environment,
                    stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                    start_new_session=True)
        except OSError as error:
            return f"Cannot start the command: {error.strerror}"
        running = self.running[task_id] = _RunningTask(task, group, process)
        watch_exit(self.reactor, os.pidfd_open(process.pid)).addCallback(
            lambda _: self._exited(driver, running))
        self._update(driver, task_id, mesos_pb2.TASK_RUNNING, "")
        if task.HasField("health_check"):
            running.health_checker = HealthChecker(
                self.loop, task.health_check,
                lambda change, message: self._health_changed(driver, running, change, message),
                environ=environment, cwd=directory,
                warn=lambda text: self.log.warn("Task {task_id}: {text}", task_id=task_id,
                                                text=text))
            running.health_checker.start()
        return None

    def _health_changed(self, driver, running, change, message):
        """
        Report a task's new health (TASK_RUNNING with C{healthy} and
        REASON_TASK_HEALTH_CHECK_STATUS_UPDATED, as Mesos); kill it if the
        checks say so.
        """
        if running.killed or self.running.get(running.task_id) is not running:
            return
        self._update(driver, running.task_id, mesos_pb2.TASK_RUNNING, message,
                     healthy=change.healthy,
                     reason=mesos_pb2.TaskStatus.REASON_TASK_HEALTH_CHECK_STATUS_UPDATED)
        if change.kill_task:
            self.log.warn("Killing task {task_id} after {count} failed health checks",
                          task_id=running.task_id, count=change.consecutive_failures)
            running.killed_by_health_check = True
            self._kill(driver, running, kill_grace_period(None, running.kill_policy(),
                                                          self.kill_grace_period))

    def _exited(self, driver, running):
        code = running.process.wait()
        if running.kill_call is not None and running.kill_call.active():
            running.kill_call.cancel()
        if running.health_checker is not None:
            running.health_checker.stop()
        del self.running[running.task_id]
        if running.killed:
            state, text = mesos_pb2.TASK_KILLED, "Command killed"
        elif code == 0:
            state, text = mesos_pb2.TASK_FINISHED, "Command exited with status 0"
        elif code < 0:
            state, text = mesos_pb2.TASK_FAILED, f"Command terminated by signal {-code}"
        else:
            state, text = mesos_pb2.TASK_FAILED, f"Command exited with status {code}"
        self._update(driver, running.task_id, state, text,
                     healthy=False if running.killed_by_health_check else None)
        if state != mesos_pb2.TASK_FINISHED:
            self._kill_group(driver, running.group, running.task_id, state)
        self._stop_if_idle(driver)

    def _kill_group(self, driver, group, task_id, state):
        """
        Task C{task_id} of C{group} ended with C{state}, not finished: kill
        the others still running.
        """
        for other in group:
            if other in self.running:
                self.log.info("Killing task {other}: task {task_id} of its group ended "
                              "{state}", other=other, task_id=task_id,
                              state=mesos_pb2.TaskState.Name(state))
                other_task = self.running[other]
                self._kill(driver, other_task, kill_grace_period(
                    None, other_task.kill_policy(), self.kill_grace_period))

    def _stop_if_idle(self, driver):
        if not self.running and not self.launching:
            driver.stop()

    def killTask(self, driver, taskId):
        """
        SIGTERM the task, SIGKILL it after its kill policy's grace period;
        the rest of its group follows it.
        """
        self.killTaskWithPolicy(driver, taskId, None)

    def killTaskWithPolicy(self, driver, taskId, killPolicy):
        """
        As L{killTask}, with the kill's C{KillPolicy} (or L{None}) overriding
        the task's.
        """
        for launch in self.launching:
            if taskId.value in launch.group:
                # Still fetching: the group will not start.
                launch.killed = True
                return
        running = self.running.get(taskId.value)
        if running is None:
            self.log.warn("Not killing task {task_id}: it is not running here",
                          task_id=taskId.value)
            return
        self._kill(driver, running, kill_grace_period(killPolicy, running.kill_policy(),
                                                      self.kill_grace_period))

    def _kill(self, driver, running, grace_period):
        """
        SIGTERM the task's session, SIGKILL it after C{grace_period}
        seconds; a later kill can only shorten that (as in Mesos).
        """
        now = self.reactor.seconds()
        if running.killed:
            call = running.kill_call
            if call is not None and call.active() and \
                    running.kill_started + grace_period < call.getTime():
                call.reset(max(0.0, running.kill_started + grace_period - now))
            return
        running.killed = True
        running.kill_started = now
        if running.health_checker is not None:
            running.health_checker.stop()
        info = self.framework_info
        if info is not None and any(c.type == Capability.TASK_KILLING_STATE
                                    for c in info.capabilities):
            self._update(driver, running.task_id, mesos_pb2.TASK_KILLING, "")
        running.signal(signal.SIGTERM)
        running.kill_call = self.reactor.callLater(grace_period, running.signal, signal.SIGKILL)

    def shutdown(self, driver):
        """
        Kill every task at once: the slave kills the executor soon anyway.
        """
        for launch in self.launching:
            launch.killed = True
        for running in list(self.running.values()):
            running.killed = True
            if running.health_checker is not None:
                running.health_checker.stop()
            running.signal(signal.SIGKILL)

    def _update(self, driver, task_id, state, text, healthy=None, reason=None):
        driver.sendStatusUpdate(mesos_pb2.TaskStatus(
            task_id=mesos_pb2.TaskID(value=task_id), state=state, message=text,
            healthy=healthy, reason=reason))


def main(reactor, environ=os.environ):
    """
    Run under the slave that started this process, until no task is left.
    """
    sandbox = environ.get("MESOS_SANDBOX") or environ.get("MESOS_DIRECTORY") or os.getcwd()
    driver = MesosExecutorDriver(DefaultExecutor(reactor, sandbox, environ), reactor=reactor,
                                 environ=environ)
    driver.start()
    return driver.stopped.addCallback(
        lambda status: None if status == mesos_pb2.DRIVER_STOPPED else sys.exit(1))


if __name__ == "__main__":
    react(main)
