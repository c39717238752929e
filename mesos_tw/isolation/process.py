"""
The process isolator: each executor is a plain process in its own session,
with no resource limits (Mesos's default isolation).
"""

import os
import signal

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from zope.interface import implementer

from mesos_tw.isolation.fetcher import fetch_uris
from mesos_tw.isolation.interface import IIsolator, LaunchError
from mesos_tw.isolation.usage import session_statistics

__all__ = ["ProcessIsolator"]


class _ExecutorProcess(ProcessProtocol):
    """
    Watches one executor's process and reports its end.
    """

    def __init__(self, on_ended):
        self._on_ended = on_ended
        self.pid = None
        self.ended = False

    def connectionMade(self):
        # Remember the pid now: a process that exits at once may be reaped
        # before spawnProcess returns, and the transport then forgets it.
        self.pid = self.transport.pid

    def processEnded(self, reason):
        self.ended = True
        status = getattr(reason.value, "status", None)
        self._on_ended(self.pid, 0 if status is None else status)


@implementer(IIsolator)
class ProcessIsolator:
    """
    Runs executors with C{setsid sh -c <command>}, so that each is the
    leader of its own session and process group and can be killed whole.
    """

    log = Logger()

    def __init__(self, reactor):
        self.reactor = reactor
        self._on_exit = None
        self._processes = {}
        self._waiters = {}

    def initialize(self, on_exit):
        """
        Remember the slave's exit callback.
        """
        self._on_exit = on_exit
        return succeed(None)

    def launch_executor(self, framework_id, framework_info, executor_info, directory,
                        environment, resources):
        """
        Fetch the command's URIs, then spawn it in its own session with its
        output appended to the sandbox's C{stdout} and C{stderr} files (the
        descriptors go to the child, so output never passes through us).
        """
        key = (framework_id, executor_info.executor_id.value)
        try:
            fetch_uris(executor_info.command, directory)
            stdout = os.open(os.path.join(directory, "stdout"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            stderr = os.open(os.path.join(directory, "stderr"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            stdin = os.open(os.devnull, os.O_RDONLY)
        except LaunchError as error:
            return fail(error)
        except OSError as error:
            return fail(LaunchError(f"cannot open the sandbox's output files: {error.strerror}"))
        process = _ExecutorProcess(lambda pid, status: self._ended(key, pid, status))
        try:
            self.reactor.spawnProcess(
                process,
                "setsid", ["setsid", "sh", "-c", executor_info.command.value],
                env=environment, path=directory, childFDs={0: stdin, 1: stdout, 2: stderr},
            )
        except OSError as error:
            return fail(LaunchError(f"cannot start the executor: {error.strerror}"))
        finally:
            for fd in (stdin, stdout, stderr):
                os.close(fd)
        if not process.ended:
            self._processes[key] = process.pid
        self.log.info("Launched executor {executor_id} of framework {framework_id} as pid {pid}",
                      executor_id=key[1], framework_id=framework_id, pid=process.pid)
        return succeed(process.pid)

    def _ended(self, key, pid, status):
        if self._processes.get(key) == pid:
            del self._processes[key]
        if pid is not None:
            # Whatever the executor left running in its group dies with it.
            _kill_session(pid, leader=False)
        # Report on the next turn, outside Twisted's child reaping: a caller
        # that stops the reactor from its callback must not do so while the
        # reaper runs, or the next child's exit goes unnoticed.
        self.reactor.callLater(0, self._report_exit, key, status)

    def _report_exit(self, key, status):
        if self._on_exit is not None:
            self._on_exit(key[0], key[1], status)
        for waiter in self._waiters.pop(key, []):
            waiter.callback(None)

    def kill_executor(self, framework_id, executor_id):
        """
        SIGKILL the executor's process group; fire once it is reaped.
        """
        key = (framework_id, executor_id)
        pid = self._processes.get(key)
        if pid is None:
            return succeed(None)
        waiter = Deferred()
        self._waiters.setdefault(key, []).append(waiter)
        _kill_session(pid)
        return waiter

    def resources_changed(self, framework_id, executor_id, resources):
        """
        Nothing to adjust: processes run without limits.
        """
        return succeed(None)

    def usage(self, framework_id, executor_id):
        """
        CPU times and resident memory of every process in the executor's
        session, from C{/proc}.
        """
        pid = self._processes.get((framework_id, executor_id))
        if pid is None:
            return fail(LaunchError(f"executor {executor_id} is not running"))
        return succeed(session_statistics(pid, self.reactor.seconds()))


def _kill_session(pid, leader=True):
    """
    SIGKILL the process group led by C{pid}, and C{pid} itself in case it
    has not yet made its own session (a kill just after spawning).
    """
    targets = [(os.killpg, pid)] + ([(os.kill, pid)] if leader else [])
    for kill, target in targets:
        try:
            kill(target, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
