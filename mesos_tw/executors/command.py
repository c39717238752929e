"""
The built-in command executor: the slave runs it for tasks that give a
C{CommandInfo} instead of an executor.  It runs the command with C{sh -c} in
its own session, reports TASK_RUNNING and then how the command ended, and
exits once the slave has acknowledged the final update.  It waits for that
acknowledgement as long as its slave's connection is open, however busy the
machine: exiting before the slave has read the update could lose it.

It starts once per command task, so start-up time is task-launch latency:
it speaks the wire protocol with a small blocking client and the standard
library, without importing Twisted (about a fifth of the start-up cost).
Custom executors use L{mesos_tw.native.MesosExecutorDriver} instead.

Run by the slave as ``python -m mesos_tw.executors.command``.
"""

import ctypes
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
import traceback
import uuid

from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.codec import FrameError, decode_envelope, encode_frame, split_frames
from mesos_tw.isolation.usage import container_processes
from mesos_tw.protocols.dispatch import Dispatcher
from mesos_tw.protocols.upid import UPID

__all__ = ["CommandExecutor", "become_subreaper", "kill_leftovers", "main"]

#: Time between SIGTERM and SIGKILL when a task is killed.
KILL_GRACE_PERIOD = 3.0

#: prctl(2)'s option making a process the reaper of its orphaned descendants.
_PR_SET_CHILD_SUBREAPER = 36

TERMINAL = frozenset({mesos_pb2.TASK_FINISHED, mesos_pb2.TASK_FAILED, mesos_pb2.TASK_KILLED})


class CommandExecutor:
    """
    One task's command, from launch to its acknowledged final update.

    @param connection: a connected socket to the slave.
    @param clock: returns the time in seconds, for timeouts (monotonic).
    @param wall_clock: returns the time of day, for status update stamps.
    """

    def __init__(self, connection, slave, framework_id, executor_id, environ,
                 clock=time.monotonic, wall_clock=time.time):
        self.connection = connection
        self.slave = slave
        self.upid = UPID(f"executor-{uuid.uuid4()}", socket.gethostname(), 0)
        self.framework_id = mesos_pb2.FrameworkID(value=framework_id)
        self.executor_id = mesos_pb2.ExecutorID(value=executor_id)
        self.environ = dict(environ)
        self.clock = clock
        self.wall_clock = wall_clock
        self.slave_id = None
        self.task_id = None
        self.process = None
        self.killed = False
        self.kill_deadline = None
        self.unacknowledged = set()
        self.finished_at = None
        self._buffer = b""
        self._selector = selectors.DefaultSelector()
        self.dispatcher = Dispatcher({
            internal.ExecutorRegisteredMessage: self._registered,
            internal.RunTaskMessage: self._run_task,
            internal.KillTaskMessage: self._kill_task,
            internal.ShutdownExecutorMessage: self._shutdown,
            internal.StatusUpdateAcknowledgementMessage: self._acknowledged,
            internal.FrameworkToExecutorMessage: lambda message: None,
        }, _StandardErrorLog(), with_sender=False)

    def send(self, message):
        """
        Send a message to the slave.
        """
        self.connection.sendall(encode_frame(self.upid, message))

    def run(self):
        """
        Register, run the task, and return the exit status for this process.
        """
        self.send(internal.RegisterExecutorMessage(
            framework_id=self.framework_id, executor_id=self.executor_id))
        self._selector.register(self.connection, selectors.EVENT_READ, self._readable)
        while True:
            if self.may_exit():
                return 0
            now = self.clock()
            if self.kill_deadline is not None and now >= self.kill_deadline:
                self._signal(signal.SIGKILL)
                self.kill_deadline = None
            for key, _ in self._selector.select(self._timeout(now)):
                if key.data() is False:
                    return 1

    def may_exit(self):
        """
        Whether the task has ended and the slave has acknowledged every
        update: however long that takes, while the slave's connection is
        open (its end is how an executor learns its slave is gone).
        """
        return self.finished_at is not None and not self.unacknowledged

    def _timeout(self, now):
        if self.kill_deadline is None:
            return None
        return max(0.0, self.kill_deadline - now)

    def _readable(self):
        data = self.connection.recv(65536)
        if not data:
            sys.stderr.write("command executor: the slave closed the connection\n")
            self._signal(signal.SIGKILL)
            return False
        try:
            envelopes, self._buffer = split_frames(self._buffer + data)
            for envelope in envelopes:
                sender, message = decode_envelope(envelope)
                self.dispatcher.dispatch(sender, message)
        except FrameError as error:
            sys.stderr.write(f"command executor: unreadable frame from the slave: {error}\n")
            self._signal(signal.SIGKILL)
            return False
        return True

    def _registered(self, message):
        self.slave_id = message.slave_id

    def _run_task(self, message):
        task = message.task
        if self.task_id is not None:
            self._update(task.task_id, mesos_pb2.TASK_FAILED,
                         "The command executor runs one task only")
            return
        self.task_id = task.task_id
        if not task.HasField("command") or not task.command.value:
            self._finish(mesos_pb2.TASK_FAILED, "Task has no command")
            return
        environment = dict(self.environ)
        for variable in task.command.environment.variables:
            environment[variable.name] = variable.value
        try:
            self.process = subprocess.Popen(
                ["sh", "-c", task.command.value], env=environment, stdin=subprocess.DEVNULL,
                start_new_session=True)
        except OSError as error:
            self._finish(mesos_pb2.TASK_FAILED, f"Cannot start the command: {error.strerror}")
            return
        self._selector.register(os.pidfd_open(self.process.pid), selectors.EVENT_READ,
                                self._command_ended)
        self._update(self.task_id, mesos_pb2.TASK_RUNNING, "")

    def _command_ended(self):
        code = self.process.wait()
        for key in list(self._selector.get_map().values()):
            if key.data == self._command_ended:
                self._selector.unregister(key.fileobj)
                os.close(key.fd)
        self.kill_deadline = None
        kill_leftovers(self.process.pid)
        if self.killed:
            self._finish(mesos_pb2.TASK_KILLED, "Command killed")
        elif code == 0:
            self._finish(mesos_pb2.TASK_FINISHED, "Command exited with status 0")
        elif code < 0:
            self._finish(mesos_pb2.TASK_FAILED, f"Command terminated by signal {-code}")
        else:
            self._finish(mesos_pb2.TASK_FAILED, f"Command exited with status {code}")
        return True

    def _kill_task(self, message):
        if self.process is None or self.killed or self.finished_at is not None:
            return
        self.killed = True
        self._signal(signal.SIGTERM)
        self.kill_deadline = self.clock() + KILL_GRACE_PERIOD

    def _shutdown(self, message):
        if self.process is not None and self.finished_at is None:
            self.killed = True
            self._signal(signal.SIGKILL)

    def _signal(self, number):
        if self.process is not None and self.process.returncode is None:
            try:
                os.killpg(self.process.pid, number)
            except ProcessLookupError:
                pass

    def _acknowledged(self, message):
        self.unacknowledged.discard(message.uuid)

    def _finish(self, state, text):
        self._update(self.task_id, state, text)
        self.finished_at = self.clock()

    def _update(self, task_id, state, text):
        now = self.wall_clock()
        update = internal.StatusUpdate(
            framework_id=self.framework_id, executor_id=self.executor_id, timestamp=now,
            uuid=uuid.uuid4().bytes,
            status=mesos_pb2.TaskStatus(
                task_id=task_id, state=state, message=text, timestamp=now,
                executor_id=self.executor_id, source=mesos_pb2.TaskStatus.SOURCE_EXECUTOR))
        update.status.uuid = update.uuid
        if self.slave_id is not None:
            update.slave_id.CopyFrom(self.slave_id)
            update.status.slave_id.CopyFrom(self.slave_id)
        self.unacknowledged.add(update.uuid)
        self.send(internal.StatusUpdateMessage(update=update))


class _StandardErrorLog:
    """
    The dispatcher's log, for a program without Twisted: lines on standard
    error (which the slave keeps in the sandbox), tracebacks included.
    """

    def warn(self, format, **fields):
        """
        One line.
        """
        sys.stderr.write(f"command executor: {format.format(**fields)}\n")

    def failure(self, format, **fields):
        """
        One line, then the traceback of the exception being handled.
        """
        self.warn(format, **fields)
        traceback.print_exc()


def become_subreaper():
    """
    Make this process the reaper of its orphaned descendants (Linux's
    C{PR_SET_CHILD_SUBREAPER}): what a task leaves behind, even in a
    session of its own, stays our descendant, so it can be found without
    scanning every process.
    """
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def kill_leftovers(group, rounds=50):
    """
    Once a task's command has ended: SIGKILL its process group C{group}
    and every descendant of ours still running, and reap them, so that an
    executor that exits leaves nothing behind.  The common case (nothing
    left) costs two system calls; only leftovers make it read C{/proc}.
    """
    try:
        os.killpg(group, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for _ in range(rounds):
        try:
            if os.waitpid(-1, os.WNOHANG) != (0, 0):
                continue
        except ChildProcessError:
            return
        for pid in container_processes(os.getpid()) - {os.getpid()}:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def main(environ=os.environ):
    """
    Connect to the slave named in the environment and run the task.
    """
    become_subreaper()
    try:
        slave = UPID.parse(environ["MESOS_SLAVE_PID"])
        framework_id, executor_id = environ["MESOS_FRAMEWORK_ID"], environ["MESOS_EXECUTOR_ID"]
    except (KeyError, ValueError) as error:
        sys.stderr.write(f"command executor: cannot find the slave in the environment: {error}\n")
        return 2
    try:
        connection = socket.create_connection((slave.host, slave.port), timeout=10)
    except OSError as error:
        sys.stderr.write(f"command executor: cannot connect to the slave {slave}: {error}\n")
        return 1
    connection.settimeout(None)
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return CommandExecutor(connection, slave, framework_id, executor_id, environ).run()


if __name__ == "__main__":
    sys.exit(main())
