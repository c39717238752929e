"""
The built-in command executor: the slave runs it for tasks that give a
C{CommandInfo} instead of an executor.  It runs the command with C{sh -c}
in its own session, reports TASK_RUNNING and then how the command ended, and
exits once the slave has the final update.

Run by the slave as ``python -m mesos_tw.executors.command``.
"""

import os
import signal
import sys

from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger

from mesos_tw.interface import Executor, mesos_pb2

__all__ = ["CommandExecutor", "main"]

#: Time between SIGTERM and SIGKILL when a task is killed.
KILL_GRACE_PERIOD = 3.0


class _CommandProcess(ProcessProtocol):
    def __init__(self, on_ended):
        self._on_ended = on_ended

    def processEnded(self, reason):
        self._on_ended(reason.value)


class CommandExecutor(Executor):
    """
    Runs one task's command and reports its end.
    """

    log = Logger()

    def __init__(self, reactor, environ=None):
        self.reactor = reactor
        self.environ = dict(os.environ if environ is None else environ)
        self.task_id = None
        self.process = None
        self.killed = False
        self._kill_call = None

    def launchTask(self, driver, task):
        """
        Start the task's command, or fail the task if there is none or a
        second task arrives.
        """
        if self.task_id is not None:
            self._update(driver, task.task_id, mesos_pb2.TASK_FAILED,
                         "The command executor runs one task only")
            return
        self.task_id = task.task_id
        if not task.HasField("command") or not task.command.value:
            self._update(driver, task.task_id, mesos_pb2.TASK_FAILED, "Task has no command")
            driver.stop()
            return
        environment = dict(self.environ)
        for variable in task.command.environment.variables:
            environment[variable.name] = variable.value
        try:
            self.process = self.reactor.spawnProcess(
                _CommandProcess(lambda reason: self._ended(driver, reason)),
                "setsid", ["setsid", "sh", "-c", task.command.value],
                env=environment, childFDs={0: "w", 1: 1, 2: 2},
            )
        except OSError as error:
            self._update(driver, task.task_id, mesos_pb2.TASK_FAILED,
                         f"Cannot start the command: {error.strerror}")
            driver.stop()
            return
        self._update(driver, task.task_id, mesos_pb2.TASK_RUNNING, "")

    def _ended(self, driver, reason):
        if self._kill_call is not None and self._kill_call.active():
            self._kill_call.cancel()
        code, sig = getattr(reason, "exitCode", None), getattr(reason, "signal", None)
        if self.killed:
            state, text = mesos_pb2.TASK_KILLED, "Command killed"
        elif code == 0:
            state, text = mesos_pb2.TASK_FINISHED, "Command exited with status 0"
        elif sig is not None:
            state, text = mesos_pb2.TASK_FAILED, f"Command terminated by signal {sig}"
        else:
            state, text = mesos_pb2.TASK_FAILED, f"Command exited with status {code}"
        self._update(driver, self.task_id, state, text)
        driver.stop()

    def killTask(self, driver, taskId):
        """
        SIGTERM the command's process group, SIGKILL after a grace period.
        """
        if self.process is None or self.process.pid is None or self.killed:
            return
        self.killed = True
        self._signal(signal.SIGTERM)
        self._kill_call = self.reactor.callLater(KILL_GRACE_PERIOD, self._signal, signal.SIGKILL)

    def shutdown(self, driver):
        """
        Kill the command at once.
        """
        if self.process is not None and self.process.pid is not None:
            self.killed = True
            self._signal(signal.SIGKILL)

    def _signal(self, number):
        try:
            os.killpg(self.process.pid, number)
        except (ProcessLookupError, TypeError):
            pass

    def _update(self, driver, task_id, state, text):
        driver.sendStatusUpdate(mesos_pb2.TaskStatus(task_id=task_id, state=state, message=text))


def main():
    """
    Run the command executor on the global reactor until its task ends.
    """
    from twisted.internet import reactor

    from mesos_tw.native import MesosExecutorDriver

    driver = MesosExecutorDriver(CommandExecutor(reactor), reactor=reactor)
    if driver.start() != mesos_pb2.DRIVER_RUNNING:
        return 1
    driver.stopped.addBoth(lambda _: reactor.stop())
    reactor.run()
    return 0 if driver.status == mesos_pb2.DRIVER_STOPPED else 1


if __name__ == "__main__":
    sys.exit(main())
