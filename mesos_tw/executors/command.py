"""
The built-in command executor: the slave runs it for tasks that give a
C{CommandInfo} instead of an executor.  It runs the command with C{sh -c} in
its own session, reports TASK_STARTING, TASK_RUNNING and then how the command
ended, and exits once the slave has acknowledged the final update.  It
waits for that acknowledgement as long as its slave's connection is open,
however busy the machine: exiting before the slave has read the update could
lose it.  As Mesos's, it runs the task's C{HealthCheck} (L{mesos_tw.checks}),
reporting changes of health and killing the task after too many failures,
and kills with the task's (or the kill's) C{KillPolicy}: SIGTERM, then
SIGKILL after the grace period, with TASK_KILLING first for frameworks that
can handle it.

It starts once per command task, forked from the slave's launcher
(L{mesos_tw.executors.launcher}), so what it imports is what every fork
and exit pays for: it speaks the wire protocol with a small blocking
client and the standard library, without Twisted, and reads and writes its
few messages with L{mesos_tw.executors.wire}, without the protobuf
runtime.  Custom executors use L{mesos_tw.native.MesosExecutorDriver}
instead.

Starting, it keeps trying to connect to its slave for up to
L{mesos_tw.executors.slave_connection.CONNECT_TIMEOUT} (on an overloaded machine a first attempt can be
refused or time out while the slave would still take its registration).

With C{MESOS_CHECKPOINT=1} it outlives a restarting slave, as the driver
does: when the slave's connection closes, the command keeps running and
its updates are kept; every L{RECONNECT_INTERVAL} it tries to connect again
and subscribe with C{ReregisterExecutorMessage} (its task, unless that has
ended acknowledged, and its unacknowledged updates), for up to
C{MESOS_RECOVERY_TIMEOUT}; then it kills the command and exits.

Run by the slave as ``python -m mesos_tw.executors.command``.
"""

import functools
import os
import selectors
import signal
import socket
import sys
import time
import traceback

from mesos_tw.checks.loops import SelectorLoop
from mesos_tw.executors import wire
from mesos_tw.executors.slave_connection import (
    RECONNECT_INTERVAL, SlaveAddress, connect_patiently, connect_to_slave)
from mesos_tw.executors.task_process import (
    TaskCommand, become_subreaper, kill_leftovers, libc)
from mesos_tw.protocols.wire_format import FrameError, random_uuid, split_frames

__all__ = ["CommandExecutor", "main", "warm_up"]

#: How long to wait for a restarting slave without MESOS_RECOVERY_TIMEOUT.
RECOVERY_TIMEOUT = 15 * 60.0

#: Time between SIGTERM and SIGKILL when neither the task nor the kill says
#: (Mesos's built-in executors: 3 s; L{mesos_tw.checks.validation} has it
#: too, with the protobuf runtime this process does without).
DEFAULT_KILL_GRACE_PERIOD = 3.0

# TaskState values (mesos.proto), written here for the reason above (as
# are the two below; tests/test_command_executor.py ties each to mesos_pb2).
TASK_STARTING, TASK_RUNNING, TASK_FINISHED, TASK_FAILED, TASK_KILLED = 0, 1, 2, 3, 4
TASK_KILLING = 8
TERMINAL = frozenset({TASK_FINISHED, TASK_FAILED, TASK_KILLED})

#: FrameworkInfo.Capability.TASK_KILLING_STATE.
TASK_KILLING_STATE = 2

#: TaskStatus.Reason.REASON_TASK_HEALTH_CHECK_STATUS_UPDATED.
REASON_TASK_HEALTH_CHECK_STATUS_UPDATED = 29


class CommandExecutor:
    """
    One task's command, from launch to its acknowledged final update.

    It reads and writes its messages with L{wire}: ids are kept as the
    serialized messages they came in (C{slave_id}, C{task_id}), the task as
    its serialized C{TaskInfo} (sent back as it came when subscribing
    again), and each unacknowledged update as its serialized
    C{StatusUpdate} with its state.

    @param connection: a connected socket to the slave.
    @param slave: the slave's UPID (anything with C{host}, C{port} and its
        text as C{str}).
    @param framework_id: the framework's id, a string; so is C{executor_id}.
    @param clock: returns the time in seconds, for timeouts (monotonic).
    @param wall_clock: returns the time of day, for status update stamps.
    @param connect: C{connect(slave)} returns a new connected socket to the
        slave, or raises C{OSError} (to reach a restarted slave).
    """

    def __init__(self, connection, slave, framework_id, executor_id, environ,
                 clock=time.monotonic, wall_clock=time.time, connect=None):
        self.connection = connection
        self.slave = slave
        self.upid = f"executor-{os.urandom(16).hex()}@{socket.gethostname()}:0"
        self.framework_id = framework_id
        self.executor_id = executor_id
        self.environ = dict(environ)
        self.clock = clock
        self.wall_clock = wall_clock
        self.slave_id = None
        self.capabilities = frozenset()
        self.task_id = None
        self.process = None
        self.health_checker = None
        self.killed = False
        self.killed_by_health_check = False
        self.kill_started = None
        self.kill_call = None
        #: C{{uuid: (state, serialized StatusUpdate)}}, in the order sent.
        self.unacknowledged = {}
        #: The task's serialized C{TaskInfo}, until its final update is
        #: acknowledged.
        self.task = None
        self.task_kill_policy = None
        self.finished_at = None
        self.connect = connect or functools.partial(connect_to_slave, environ=self.environ)
        self.checkpoint = self.environ.get("MESOS_CHECKPOINT") == "1"
        self.recovery_timeout = _duration(self.environ.get("MESOS_RECOVERY_TIMEOUT"),
                                          RECOVERY_TIMEOUT)
        #: When the slave's connection closed (we then wait for it), or None.
        self.lost_at = None
        self.next_attempt = None
        self._buffer = b""
        self.loop = SelectorLoop(clock=clock)
        self.handlers = {
            wire.EXECUTOR_REGISTERED: self._registered,
            wire.RUN_TASK: self._run_task,
            wire.KILL_TASK: self._kill_task,
            wire.SHUTDOWN_EXECUTOR: self._shutdown,
            wire.STATUS_UPDATE_ACKNOWLEDGEMENT: self._acknowledged,
            wire.RECONNECT_EXECUTOR: lambda message: self._resubscribe(),
            wire.FRAMEWORK_TO_EXECUTOR: lambda message: None,
        }

    def send(self, name, body):
        """
        Send the message C{name} with C{body} to the slave (nothing while
        it is away: what must arrive is sent again when we subscribe
        again).
        """
        if self.connection is None:
            return
        try:
            self.connection.sendall(wire.frame(self.upid, name, body, self.slave))
        except OSError as error:
            sys.stderr.write(f"command executor: cannot write to the slave: {error}\n")

    def dispatch(self, name, body):
        """
        Hand the message C{name} to its handler, as
        L{mesos_tw.protocols.dispatch.Dispatcher} does on every node: a
        message with no handler is said and dropped, and a handler that
        raises (a malformed message) is said with its traceback, and the
        next message is handled as usual.
        """
        handler = self.handlers.get(name)
        if handler is None:
            sys.stderr.write(f"command executor: ignoring unexpected {name}\n")
            return
        try:
            handler(wire.read_fields(body))
        except Exception:
            sys.stderr.write(f"command executor: cannot handle {name}\n")
            traceback.print_exc()

    def run(self):
        """
        Register, run the task, and return the exit status for this process;
        whatever the task left running is killed before it returns (once
        the final update is acknowledged, as the isolator did before), so
        the executor leaves nothing behind.
        """
        try:
            return self._serve()
        finally:
            if self.process is not None:
                kill_leftovers(self.process.pid)

    def _serve(self):
        self.send(wire.REGISTER_EXECUTOR,
                  wire.register_executor(self.framework_id, self.executor_id))
        self.loop.watch(self.connection, selectors.EVENT_READ, self._readable)
        while True:
            if self.may_exit():
                return 0
            now = self.clock()
            if self.lost_at is not None:
                if now - self.lost_at > self.recovery_timeout:
                    sys.stderr.write("command executor: the slave did not come back within "
                                     f"{self.recovery_timeout:g} s\n")
                    self._signal(signal.SIGKILL)
                    return 1
                if now >= self.next_attempt:
                    self._reconnect()
            if not self.loop.poll(self._timeout(now)):
                return 1

    def may_exit(self):
        """
        Whether the task has ended and the slave has acknowledged every
        update: however long that takes, while the slave's connection is
        open (its end is how an executor learns its slave is gone).
        """
        return self.finished_at is not None and not self.unacknowledged

    def _timeout(self, now):
        """
        How long the loop may wait for the slave's return (its timers, the
        kill's and the health checks', are its own).
        """
        if self.lost_at is None:
            return None
        deadlines = [self.next_attempt, self.lost_at + self.recovery_timeout]
        return max(0.0, min(deadlines) - now)

    def _lost_slave(self):
        """
        The slave's connection closed: wait for it (checkpointing), or
        kill the command and stop.

        @return: L{False} to stop.
        """
        self.loop.unwatch(self.connection)
        self.connection.close()
        self.connection = None
        self._buffer = b""
        if not self.checkpoint:
            sys.stderr.write("command executor: the slave closed the connection\n")
            self._signal(signal.SIGKILL)
            return False
        sys.stderr.write("command executor: the slave closed the connection; waiting up to "
                         f"{self.recovery_timeout:g} s for it to come back\n")
        self.lost_at = self.clock()
        self.next_attempt = self.lost_at + RECONNECT_INTERVAL
        return True

    def _reconnect(self):
        """
        Try to reach the slave again; once connected, subscribe again with
        what it has not acknowledged.
        """
        try:
            connection = self.connect(self.slave)
        except OSError:
            self.next_attempt = self.clock() + RECONNECT_INTERVAL
            return
        self.connection = connection
        self.lost_at = self.next_attempt = None
        self.loop.watch(connection, selectors.EVENT_READ, self._readable)
        self._resubscribe()

    def _resubscribe(self):
        """
        Subscribe again with what the slave has not acknowledged (also
        when a recovering slave asks, with C{ReconnectExecutorMessage}:
        it held our first try).
        """
        self.send(wire.REREGISTER_EXECUTOR, wire.reregister_executor(
            self.framework_id, self.executor_id, [self.task] if self.task is not None else [],
            [update for _, update in self.unacknowledged.values()]))

    def _readable(self):
        try:
            data = self.connection.recv(65536)
            # A TLS socket may hold decrypted bytes the selector cannot see.
            while data and getattr(self.connection, "pending", lambda: 0)():
                data += self.connection.recv(65536)
        except OSError:
            data = b""
        if not data:
            return self._lost_slave()
        try:
            envelopes, self._buffer = split_frames(self._buffer + data)
            for envelope in envelopes:
                self.dispatch(*wire.read_envelope(envelope))
        except (wire.WireError, FrameError) as error:
            sys.stderr.write(f"command executor: unreadable frame from the slave: {error}\n")
            self._signal(signal.SIGKILL)
            return False
        return True

    def _registered(self, message):
        self.slave_id = _required(message, 5, "ExecutorRegisteredMessage.slave_id")
        self._framework(message.message(4))

    def _framework(self, info):
        """
        Keep what the executor needs of the framework's C{FrameworkInfo}:
        its capabilities' types.
        """
        if info is not None:
            self.capabilities = frozenset(
                wire.read_fields(capability).first(1) for capability in info.get(10, ()))

    def _run_task(self, message):
        task = _required(message, 4, "RunTaskMessage.task")
        fields = wire.read_fields(task)
        task_id = _required(fields, 2, "TaskInfo.task_id")
        if self.task_id is not None and task_id == self.task_id:
            return
        if self.task_id is not None:
            self._update(task_id, TASK_FAILED, "The command executor runs one task only")
            return
        self.task_id = task_id
        self.task = task
        self.task_kill_policy = fields.message(12)
        self._framework(message.message(2))
        command = fields.message(7)
        text = command.text(3) if command is not None else ""
        if not text:
            self._finish(TASK_FAILED, "Task has no command")
            return
        self._update(self.task_id, TASK_STARTING, "")
        environment = dict(self.environ)
        variables = command.message(2)
        for variable in (variables or {}).get(1, ()):
            variable = wire.read_fields(variable)
            environment[variable.text(1)] = variable.text(2)
        if command.last(6, 1):
            program, argv = "sh", ["sh", "-c", text]
        else:
            # CommandInfo.shell false: Mesos runs the program `value` with
            # `arguments` as its whole argv (found on PATH as execvp does).
            program = text
            argv = [argument.decode("utf-8", "replace") for argument in command.get(7, ())]
        try:
            self.process = TaskCommand(program, argv or [program], environment)
        except OSError as error:
            self._finish(TASK_FAILED, f"Cannot start the command: {error.strerror}")
            return
        self._pidfd = os.pidfd_open(self.process.pid)
        self.loop.watch(self._pidfd, selectors.EVENT_READ, self._command_ended)
        self._update(self.task_id, TASK_RUNNING, "")
        if 8 in fields:
            self._start_health_checks(fields.last(8), environment)

    def _start_health_checks(self, health_check, environment):
        """
        Run the task's C{HealthCheck} (serialized).  The checks, their
        HTTP and TLS clients and the protobuf runtime are imported here,
        in the executor of a task that has one: in the launcher they would
        grow every forked executor's fork and exit.
        """
        from mesos_tw.checks.checker import HealthChecker
        from mesos_tw.protocols.mesos_pb2 import HealthCheck

        self.health_checker = HealthChecker(
            self.loop, HealthCheck.FromString(health_check), self._health_changed,
            environ=environment, cwd=os.getcwd(),
            warn=lambda text: sys.stderr.write(f"command executor: {text}\n"))
        self.health_checker.start()

    def _health_changed(self, change, message):
        """
        Report the task's new health (Mesos: TASK_RUNNING with C{healthy}
        and REASON_TASK_HEALTH_CHECK_STATUS_UPDATED); kill it if the
        checks say so.
        """
        if self.killed or self.finished_at is not None:
            return
        self._update(self.task_id, TASK_RUNNING, message, healthy=change.healthy,
                     reason=REASON_TASK_HEALTH_CHECK_STATUS_UPDATED)
        if change.kill_task:
            sys.stderr.write(f"command executor: killing the task after "
                             f"{change.consecutive_failures} failed health checks\n")
            self.killed_by_health_check = True
            self._kill(kill_grace_period(task_policy=self.task_kill_policy))

    def _command_ended(self):
        code = self.process.wait()
        self.loop.unwatch(self._pidfd)
        os.close(self._pidfd)
        if self.kill_call is not None:
            self.kill_call.cancel()
        if self.health_checker is not None:
            self.health_checker.stop()
        if self.killed:
            self._finish(TASK_KILLED, "Command killed")
        elif code == 0:
            self._finish(TASK_FINISHED, "Command exited with status 0")
        elif code < 0:
            self._finish(TASK_FAILED, f"Command terminated by signal {-code}")
        else:
            self._finish(TASK_FAILED, f"Command exited with status {code}")
        return True

    def _kill_task(self, message):
        self._kill(kill_grace_period(message.message(3), self.task_kill_policy))

    def _kill(self, grace_period):
        """
        SIGTERM the command's session and SIGKILL it after C{grace_period}
        seconds.  A second kill can only shorten that (Mesos: a retried kill
        is a no-op, a shorter grace period escalates sooner).
        """
        if self.process is None or self.finished_at is not None:
            return
        now = self.clock()
        if self.killed:
            if self.kill_call is not None and self.kill_call.active() and \
                    self.kill_started + grace_period < self.kill_call.when:
                self.kill_call.cancel()
                self.kill_call = self.loop.call_later(
                    self.kill_started + grace_period - now, self._signal, signal.SIGKILL)
            return
        self.killed = True
        self.kill_started = now
        if self.health_checker is not None:
            self.health_checker.stop()
        if TASK_KILLING_STATE in self.capabilities:
            self._update(self.task_id, TASK_KILLING, "")
        self._signal(signal.SIGTERM)
        self.kill_call = self.loop.call_later(grace_period, self._signal, signal.SIGKILL)

    def _shutdown(self, message):
        if self.process is not None and self.finished_at is None:
            self.killed = True
            if self.health_checker is not None:
                self.health_checker.stop()
            self._signal(signal.SIGKILL)

    def _signal(self, number):
        if self.process is not None and self.process.returncode is None:
            try:
                os.killpg(self.process.pid, number)
            except ProcessLookupError:
                pass

    def _acknowledged(self, message):
        uuid = _required(message, 4, "StatusUpdateAcknowledgementMessage.uuid")
        state, _ = self.unacknowledged.pop(uuid, (None, None))
        if state in TERMINAL:
            self.task = None

    def _finish(self, state, text):
        # A task the health checks killed ends unhealthy (as in Mesos).
        self._update(self.task_id, state, text,
                     healthy=False if self.killed_by_health_check else None)
        self.finished_at = self.clock()

    def _update(self, task_id, state, text, healthy=None, reason=None):
        uuid = random_uuid()
        update = wire.status_update(self.framework_id, self.executor_id, self.slave_id, task_id,
                                    state, text, self.wall_clock(), uuid, healthy, reason)
        self.unacknowledged[uuid] = (state, update)
        self.send(wire.STATUS_UPDATE, wire.status_update_message(update))


def _required(message, number, name):
    """
    A field the executor cannot do without (a required one), or a
    L{wire.WireError} naming it.
    """
    value = message.last(number)
    if value is None:
        raise wire.WireError(f"missing {name}")
    return value


def kill_grace_period(override=None, task_policy=None, default=DEFAULT_KILL_GRACE_PERIOD):
    """
    Seconds between SIGTERM and SIGKILL: a kill's C{KillPolicy} wins over
    the task's, which wins over the default (Mesos's command executor; as
    L{mesos_tw.checks.validation.kill_grace_period}, on L{wire.Fields}).
    """
    for policy in (override, task_policy):
        grace_period = policy.message(1) if policy is not None else None
        if grace_period is not None:
            return max(wire.signed64(grace_period.last(1, 0)), 0) / 1e9
    return default


def warm_up():
    """
    Load now what every executor would otherwise load for itself: the
    launcher calls this once, and the executors it forks share the result.
    (Connecting by name imports and compiles the C{idna} codec, about
    a quarter of a forked executor's CPU; the C library is loaded to make
    the executor a subreaper.)
    """
    socket.getaddrinfo("127.0.0.1", 0, type=socket.SOCK_STREAM)
    "localhost".encode("idna")
    libc()


def main(environ=os.environ):
    """
    Connect to the slave named in the environment and run the task.
    """
    become_subreaper()
    try:
        slave = SlaveAddress(environ["MESOS_SLAVE_PID"])
        framework_id, executor_id = environ["MESOS_FRAMEWORK_ID"], environ["MESOS_EXECUTOR_ID"]
    except (KeyError, ValueError) as error:
        sys.stderr.write(f"command executor: cannot find the slave in the environment: {error}\n")
        return 2
    try:
        connection = connect_patiently(slave, environ)
    except OSError as error:
        sys.stderr.write(f"command executor: cannot connect to the slave {slave}: {error}\n")
        return 1
    return CommandExecutor(connection, slave, framework_id, executor_id, environ).run()


def _duration(text, default):
    """
    Seconds in a Mesos duration such as C{15mins} (the executor must not
    import the flags module's dependencies), or C{default}.
    """
    if not text:
        return default
    units = (("secs", 1), ("mins", 60), ("hrs", 3600), ("days", 86400), ("weeks", 604800),
             ("ms", 0.001), ("s", 1))
    for unit, factor in units:
        if text.endswith(unit):
            try:
                return float(text[:-len(unit)]) * factor
            except ValueError:
                break
    sys.stderr.write(f"command executor: ignoring MESOS_RECOVERY_TIMEOUT={text!r}\n")
    return default


if __name__ == "__main__":
    sys.exit(main())
