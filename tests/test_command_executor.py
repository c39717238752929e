"""
Tests for the built-in command executor (L{mesos_tw.executors.command}):
it runs real commands; the test plays the slave over a real socket pair.
"""

import io
import os
import signal
import socket
import subprocess
import sys
import threading

from twisted.trial.unittest import SynchronousTestCase

from mesos_tw import constants
from mesos_tw.checks import validation
from mesos_tw.executors import command
from mesos_tw.executors.command import CommandExecutor, main, warm_up
from mesos_tw.executors.slave_connection import (
    CONNECT_TIMEOUT, RECONNECT_INTERVAL, SlaveAddress, connect_patiently, connect_to_slave)
from mesos_tw.executors.wire import read_fields
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.codec import decode_envelope, encode_frame, split_frames
from mesos_tw.protocols.upid import UPID
from mesos_tw.testing.certificates import CertificateAuthority

SLAVE = UPID("slave(1)", "127.0.0.1", 5051)


class FakeSlave:
    """
    The slave's end of the executor's connection, read with a timeout so a
    broken executor fails the test instead of hanging it.
    """

    def __init__(self, sock):
        self.sock = sock
        self.sock.settimeout(20)
        self.buffer = b""
        self.pending = []

    def send(self, message):
        self.sock.sendall(encode_frame(SLAVE, message))

    def receive(self):
        while not self.pending:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("the executor closed the connection")
            envelopes, self.buffer = split_frames(self.buffer + data)
            self.pending.extend(decode_envelope(e)[1] for e in envelopes)
        return self.pending.pop(0)

    def update(self, acknowledge=True):
        """
        The next status update's status, acknowledged like a slave does.
        """
        message = self.receive()
        assert isinstance(message, internal.StatusUpdateMessage), message
        self.last_update = message.update
        if acknowledge:
            self.acknowledge(message.update)
        return message.update.status

    def acknowledge(self, update):
        """
        Acknowledge C{update} as the slave does.
        """
        self.send(internal.StatusUpdateAcknowledgementMessage(
            slave_id=mesos_pb2.SlaveID(value="S1"), framework_id=update.framework_id,
            task_id=update.status.task_id, uuid=update.uuid))


class CommandExecutorTests(SynchronousTestCase):
    """
    The executor from registration to its acknowledged final update.
    """

    def start(self, environ=None, connect=None):
        ours, theirs = socket.socketpair()
        self.addCleanup(theirs.close)
        executor = CommandExecutor(theirs, SLAVE, "F1", "e1",
                                   environ or {"PATH": os.environ["PATH"]}, connect=connect)
        self.result = []
        thread = threading.Thread(target=lambda: self.result.append(executor.run()), daemon=True)
        thread.start()
        self.thread = thread
        # The slave's end closing first makes the executor kill its task
        # and end, as when a slave goes away.
        self.addCleanup(thread.join, 20)
        self.addCleanup(ours.close)
        slave = FakeSlave(ours)
        register = slave.receive()
        self.assertIsInstance(register, internal.RegisterExecutorMessage)
        self.assertEqual(register.executor_id.value, "e1")
        slave.send(internal.ExecutorRegisteredMessage(
            executor_info=mesos_pb2.ExecutorInfo(
                executor_id=mesos_pb2.ExecutorID(value="e1"),
                command=mesos_pb2.CommandInfo(value="x")),
            framework_id=mesos_pb2.FrameworkID(value="F1"),
            framework_info=mesos_pb2.FrameworkInfo(user="u", name="n"),
            slave_id=mesos_pb2.SlaveID(value="S1"), slave_info=mesos_pb2.SlaveInfo(hostname="h")))
        return slave

    def run_task(self, slave, command, variables=(), framework=None, command_shell=True,
                 command_arguments=(), **fields):
        """
        Send the executor task t1 running C{command} (with C{fields} of its
        C{TaskInfo}, and its C{CommandInfo}'s C{shell} and C{arguments}),
        for C{framework} (a C{FrameworkInfo}).
        """
        task = mesos_pb2.TaskInfo(name="t", task_id=mesos_pb2.TaskID(value="t1"),
                                  slave_id=mesos_pb2.SlaveID(value="S1"), **fields)
        if command is not None:
            task.command.value = command
            if not command_shell:
                task.command.shell = False
            task.command.arguments.extend(command_arguments)
            for name, value in variables:
                task.command.environment.variables.add(name=name, value=value)
        slave.send(internal.RunTaskMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1"),
            framework=framework or mesos_pb2.FrameworkInfo(user="u", name="n"), pid="s@h:1",
            task=task))

    def started(self, slave):
        """
        Read the task's TASK_STARTING and TASK_RUNNING updates.
        """
        starting, running = slave.update(), slave.update()
        self.assertEqual((starting.state, running.state),
                         (mesos_pb2.TASK_STARTING, mesos_pb2.TASK_RUNNING))
        return running

    def exit_status(self):
        self.thread.join(20)
        self.assertFalse(self.thread.is_alive(), "the executor did not exit")
        return self.result[0]

    def test_finished(self):
        """
        A command exiting 0: STARTING, RUNNING, then FINISHED, then the
        executor exits.
        """
        slave = self.start()
        self.run_task(slave, "true")
        running = self.started(slave)
        self.assertEqual((running.state, running.slave_id.value), (mesos_pb2.TASK_RUNNING, "S1"))
        finished = slave.update()
        self.assertEqual((finished.state, finished.message),
                         (mesos_pb2.TASK_FINISHED, "Command exited with status 0"))
        self.assertEqual(self.exit_status(), 0)

    def test_failed_with_status(self):
        """
        A failing command's update says its exit status.
        """
        slave = self.start()
        self.run_task(slave, "exit 3")
        self.started(slave)
        failed = slave.update()
        self.assertEqual((failed.state, failed.message),
                         (mesos_pb2.TASK_FAILED, "Command exited with status 3"))

    def test_environment(self):
        """
        The command sees the CommandInfo's environment.
        """
        slave = self.start()
        self.run_task(slave, 'test "$GREETING" = hello', [("GREETING", "hello")])
        self.started(slave)
        self.assertEqual(slave.update().state, mesos_pb2.TASK_FINISHED)

    def test_killed(self):
        """
        A kill ends the command's whole process group: TASK_KILLED.
        """
        slave = self.start()
        self.run_task(slave, "sleep 100 & wait")
        self.started(slave)
        slave.send(internal.KillTaskMessage(framework_id=mesos_pb2.FrameworkID(value="F1"),
                                            task_id=mesos_pb2.TaskID(value="t1")))
        self.assertEqual(slave.update().state, mesos_pb2.TASK_KILLED)
        self.assertEqual(self.exit_status(), 0)

    def test_without_shell(self):
        """
        C{shell} false: the program C{value} runs with C{arguments} as its
        whole argv, no shell between (a shell would expand C{$HOME}).
        """
        slave = self.start()
        marker = os.path.abspath(self.mktemp())
        self.run_task(slave, "sh", command_shell=False, command_arguments=[
            "sh", "-c", 'printf %s "$1" > "$2"', "sh", "$HOME", marker])
        self.started(slave)
        self.assertEqual(slave.update().state, mesos_pb2.TASK_FINISHED)
        with open(marker) as file:
            self.assertEqual(file.read(), "$HOME")

    def test_without_shell_program_path(self):
        """
        C{shell} false with a path as C{value} runs that file, even one a
        shell would split at a space; with no C{arguments} its argv is the
        value alone.
        """
        directory = os.path.abspath(self.mktemp()) + " with a space"
        os.makedirs(directory)
        program = os.path.join(directory, "program")
        with open(program, "w") as file:
            file.write('#!/bin/sh\ntest "$#" = 0 && exit 7\n')
        os.chmod(program, 0o755)
        slave = self.start()
        self.run_task(slave, program, command_shell=False)
        self.started(slave)
        failed = slave.update()
        self.assertEqual((failed.state, failed.message),
                         (mesos_pb2.TASK_FAILED, "Command exited with status 7"))

    def test_without_shell_missing_program(self):
        """
        C{shell} false naming no program on C{PATH}: the task fails, saying
        the command could not start.
        """
        slave = self.start()
        self.run_task(slave, "no-such-program-here", command_shell=False)
        self.assertEqual(slave.update().state, mesos_pb2.TASK_STARTING)
        failed = slave.update()
        self.assertEqual((failed.state, failed.message),
                         (mesos_pb2.TASK_FAILED, "Cannot start the command: No such file or "
                                                 "directory"))

    def test_no_shell_on_path(self):
        """
        With no C{sh} on the executor's C{PATH} the task fails, saying the
        command could not start.
        """
        slave = self.start(environ={"PATH": self.mktemp()})
        self.run_task(slave, "true")
        self.assertEqual(slave.update().state, mesos_pb2.TASK_STARTING)
        failed = slave.update()
        self.assertEqual((failed.state, failed.message),
                         (mesos_pb2.TASK_FAILED, "Cannot start the command: No such file or "
                                                 "directory"))

    def test_terminated_by_signal(self):
        """
        A command killed by a signal it did not get from a kill fails,
        naming the signal.
        """
        slave = self.start()
        self.run_task(slave, "kill -9 $$")
        self.started(slave)
        failed = slave.update()
        self.assertEqual((failed.state, failed.message),
                         (mesos_pb2.TASK_FAILED, "Command terminated by signal 9"))

    def test_own_session_and_no_input(self):
        """
        The command leads a session of its own (so a kill of its group
        reaches all it started) and reads nothing: its input is
        C{/dev/null}.
        """
        record = os.path.abspath(self.mktemp())
        os.mkdir(record)
        slave = self.start()
        self.run_task(slave, f"cat /proc/$$/stat > {record}/stat; cat > {record}/input")
        self.started(slave)
        self.assertEqual(slave.update().state, mesos_pb2.TASK_FINISHED)
        with open(os.path.join(record, "stat")) as stat:
            pid, rest = stat.read().split(" ", 1)
        session = int(rest.rsplit(")", 1)[1].split()[3])
        self.assertEqual(session, int(pid))
        with open(os.path.join(record, "input")) as received:
            self.assertEqual(received.read(), "")

    def test_signals_at_default(self):
        """
        The command does not inherit the signals Python (SIGPIPE, SIGXFSZ)
        or the launcher (SIGINT) ignore: a pipeline's writer ends on
        SIGPIPE when its reader has gone, as in a shell.
        """
        record = os.path.abspath(self.mktemp())
        slave = self.start()
        self.run_task(slave, f"grep SigIgn /proc/$$/status > {record}")
        self.started(slave)
        self.assertEqual(slave.update().state, mesos_pb2.TASK_FINISHED)
        with open(record) as status:
            ignored = int(status.read().split()[1], 16)
        for number in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT):
            self.assertFalse(ignored & (1 << (number - 1)), f"{number!r} is ignored")

    def test_warmed_up_connect_imports_nothing(self):
        """
        Once L{warm_up} has run (in the launcher, before it forks),
        connecting to a slave by address or by name imports no module:
        each forked executor would otherwise import and compile the
        C{idna} codec for itself.
        """
        warm_up()
        before = set(sys.modules)
        socket.getaddrinfo("127.0.0.1", 5051, type=socket.SOCK_STREAM)
        socket.getaddrinfo("localhost", 5051, type=socket.SOCK_STREAM)
        self.assertEqual(set(sys.modules) - before, set())

    def test_launcher_loads_only_the_executor(self):
        """
        The launcher, with the command executor imported and warmed up
        (as it is before it forks every executor), has not loaded the
        health checks' HTTP and TLS clients, the protobuf runtime (the
        executor reads and writes its messages with
        L{mesos_tw.executors.wire}), C{threading} (whose after-fork work
        every child would pay) or Twisted: every fork and exit of an
        executor costs in proportion to what the launcher holds.  A task
        with a health check loads what its checks need in its own
        executor (L{CommandExecutorHealthCheckTests}).
        """
        code = ("import sys, mesos_tw.executors.launcher as launcher; launcher.command.warm_up(); "
                "print(' '.join(sorted(m for m in sys.modules if m in ('ssl', 'http.client', "
                "'threading', 'mesos_tw.checks.checker') or m.startswith(('google', 'twisted')))))")
        loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                text=True).stdout.split()
        self.assertEqual(loaded, [])

    def test_no_command(self):
        """
        A task without a command fails, saying so.
        """
        slave = self.start()
        self.run_task(slave, None)
        failed = slave.update()
        self.assertEqual((failed.state, failed.message),
                         (mesos_pb2.TASK_FAILED, "Task has no command"))

    def test_waits_for_acknowledgement(self):
        """
        The executor stays until the slave acknowledges the final update.
        """
        slave = self.start()
        self.run_task(slave, "true")
        self.started(slave)
        finished = slave.update(acknowledge=False)
        self.assertEqual(finished.state, mesos_pb2.TASK_FINISHED)
        slave.send(internal.FrameworkToExecutorMessage(
            slave_id=mesos_pb2.SlaveID(value="S1"), framework_id=mesos_pb2.FrameworkID(value="F1"),
            executor_id=mesos_pb2.ExecutorID(value="e1"), data=b"still here?"))
        slave.acknowledge(slave.last_update)
        self.assertEqual(self.exit_status(), 0)

    def test_never_gives_up_on_acknowledgement(self):
        """
        With its final update unacknowledged, the executor may not exit,
        however much later it is; the acknowledgement lets it.
        """
        now = [0.0]
        executor = CommandExecutor(None, SLAVE, "F1", "e1", {}, clock=lambda: now[0])
        sent = []
        executor.send = lambda name, body: sent.append(body)
        executor.task_id = mesos_pb2.TaskID(value="t1").SerializeToString()
        executor._finish(mesos_pb2.TASK_FINISHED, "Command exited with status 0")
        now[0] += 3600
        self.assertFalse(executor.may_exit())
        update = internal.StatusUpdateMessage.FromString(sent[-1]).update
        acknowledgement = internal.StatusUpdateAcknowledgementMessage(
            slave_id=mesos_pb2.SlaveID(value="S1"), framework_id=update.framework_id,
            task_id=update.status.task_id, uuid=update.uuid)
        executor._acknowledged(read_fields(acknowledgement.SerializeToString()))
        self.assertTrue(executor.may_exit())

    def test_slave_gone(self):
        """
        When the slave's connection closes, the executor kills the command
        and exits with status 1.
        """
        slave = self.start()
        self.run_task(slave, "sleep 100")
        self.started(slave)
        slave.sock.close()
        self.assertEqual(self.exit_status(), 1)

    def test_waits_for_restarting_slave(self):
        """
        With MESOS_CHECKPOINT=1 the executor outlives its slave's
        connection: the command goes on, and once the slave can be reached
        again the executor subscribes again with its task and the updates
        not acknowledged; the final update then arrives once.
        """
        reachable = threading.Event()
        connections = []

        def connect(slave):
            if not reachable.is_set():
                raise ConnectionRefusedError(111, "Connection refused")
            ours, theirs = socket.socketpair()
            self.addCleanup(ours.close)
            self.addCleanup(theirs.close)
            connections.append(FakeSlave(ours))
            return theirs

        slave = self.start({"PATH": os.environ["PATH"], "MESOS_CHECKPOINT": "1",
                            "MESOS_RECOVERY_TIMEOUT": "30secs"}, connect)
        self.run_task(slave, "true")
        self.assertEqual([slave.update(acknowledge=False).state for _ in range(2)],
                         [mesos_pb2.TASK_STARTING, mesos_pb2.TASK_RUNNING])
        slave.sock.close()
        reachable.set()
        while not connections:
            self.thread.join(0.05)
        again = connections[0]
        resubscription = again.receive()
        self.assertIsInstance(resubscription, internal.ReregisterExecutorMessage)
        self.assertEqual([task.task_id.value for task in resubscription.tasks], ["t1"])
        # A recovering slave held that try, and asks again.
        again.send(internal.ReconnectExecutorMessage(slave_id=mesos_pb2.SlaveID(value="S1")))
        sent_meanwhile = []
        while True:
            message = again.receive()
            if isinstance(message, internal.ReregisterExecutorMessage):
                break
            sent_meanwhile.append(message.update)
        updates = list(resubscription.updates) + sent_meanwhile
        self.assertEqual([update.status.state for update in updates[:2]],
                         [mesos_pb2.TASK_STARTING, mesos_pb2.TASK_RUNNING])
        states = [update.status.state for update in updates]
        if mesos_pb2.TASK_FINISHED not in states:
            updates.append(again.receive().update)
        for update in updates:
            again.send(internal.StatusUpdateAcknowledgementMessage(
                slave_id=mesos_pb2.SlaveID(value="S1"), framework_id=update.framework_id,
                task_id=update.status.task_id, uuid=update.uuid))
        self.assertEqual([u.status.state for u in updates].count(mesos_pb2.TASK_FINISHED), 1)
        self.assertEqual(self.exit_status(), 0)

    def test_gives_up_after_recovery_timeout(self):
        """
        A slave that does not come back within MESOS_RECOVERY_TIMEOUT: the
        command is killed and the executor exits 1.
        """
        def connect(slave):
            raise ConnectionRefusedError(111, "Connection refused")

        slave = self.start({"PATH": os.environ["PATH"], "MESOS_CHECKPOINT": "1",
                            "MESOS_RECOVERY_TIMEOUT": "300ms"}, connect)
        self.run_task(slave, "sleep 100")
        slave.update()
        slave.sock.close()
        self.assertEqual(self.exit_status(), 1)

    def test_main_needs_environment(self):
        """
        Run outside a slave, main() says what is missing and exits 2.
        """
        self.assertEqual(main({}), 2)


class FlakyConnect:
    """
    A connect function failing its first C{failures} attempts, counting
    them, on a fake clock that the fake sleep advances.
    """

    def __init__(self, failures):
        self.failures = failures
        self.attempts = []
        self.now = 0.0

    def __call__(self, slave, environ):
        self.attempts.append(self.now)
        if len(self.attempts) <= self.failures:
            raise ConnectionRefusedError(111, "Connection refused")
        return "connection"

    def clock(self):
        """
        The fake time.
        """
        return self.now

    def sleep(self, seconds):
        """
        Let C{seconds} pass.
        """
        self.now += seconds


class ConnectPatientlyTests(SynchronousTestCase):
    """
    L{connect_patiently}: a starting executor keeps trying to reach its
    slave (an overloaded slave's accept queue may be full) for as long as
    the slave would still take its registration.
    """

    def setUp(self):
        self.stderr = io.StringIO()
        self.patch(sys, "stderr", self.stderr)

    def connect(self, flaky):
        return connect_patiently(SLAVE, {}, connect=flaky, clock=flaky.clock, sleep=flaky.sleep)

    def test_tries_again(self):
        """
        Failed attempts are made again every L{RECONNECT_INTERVAL}, each
        said on standard error, until one connects.
        """
        flaky = FlakyConnect(failures=3)
        self.assertEqual(self.connect(flaky), "connection")
        self.assertEqual(flaky.attempts, [i * RECONNECT_INTERVAL for i in range(4)])
        self.assertEqual(self.stderr.getvalue().count("trying again"), 3)

    def test_gives_up_after_connect_timeout(self):
        """
        After L{CONNECT_TIMEOUT} the last attempt's error is raised (and
        C{main} exits 1 saying so).
        """
        flaky = FlakyConnect(failures=10 ** 6)
        self.assertRaises(ConnectionRefusedError, self.connect, flaky)
        self.assertLessEqual(flaky.attempts[-1], CONNECT_TIMEOUT)
        self.assertGreater(flaky.attempts[-1] + RECONNECT_INTERVAL, CONNECT_TIMEOUT)


class ConnectTests(SynchronousTestCase):
    """
    The executor's connection to its slave, named by address or by name.
    """

    def connect(self, host):
        listener = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(listener.close)
        slave = SlaveAddress(f"slave(1)@{host}:{listener.getsockname()[1]}")
        connection = connect_to_slave(slave, {})
        self.addCleanup(connection.close)
        accepted, _ = listener.accept()
        self.addCleanup(accepted.close)
        connection.sendall(b"x")
        self.assertEqual(accepted.recv(1), b"x")
        self.assertIsNone(connection.gettimeout())
        self.assertTrue(connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    def test_address(self):
        """
        An address is connected to directly: a blocking socket without
        Nagle's delay.
        """
        self.connect("127.0.0.1")

    def test_name(self):
        """
        A name is looked up, then connected to, the same.
        """
        self.connect("localhost")

    def test_refused(self):
        """
        A refused connection is an C{OSError} (which the executor's
        patience catches).
        """
        listener = socket.create_server(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        listener.close()
        for host in ("127.0.0.1", "localhost"):
            self.assertRaises(OSError, connect_to_slave, SlaveAddress(f"s@{host}:{port}"), {})


def health_check(**fields):
    """
    A C{HealthCheck} that starts at once and checks often (Mesos's
    defaults would make a test wait 15 s), with C{fields} set.
    """
    fields.setdefault("grace_period_seconds", 0)
    return mesos_pb2.HealthCheck(delay_seconds=0, interval_seconds=0.05, **fields)


def kill_policy(seconds):
    """
    A C{KillPolicy} with a grace period of C{seconds}.
    """
    return mesos_pb2.KillPolicy(
        grace_period=mesos_pb2.DurationInfo(nanoseconds=int(seconds * 1e9)))


class CommandExecutorHealthCheckTests(CommandExecutorTests.__base__):
    """
    Health checks run by the command executor (Mesos's HealthCheckTest,
    through the executor with real commands and sockets).
    """

    start = CommandExecutorTests.start
    run_task = CommandExecutorTests.run_task
    started = CommandExecutorTests.started
    exit_status = CommandExecutorTests.exit_status

    def health_update(self, slave):
        """
        The next update, which must be a health change of the running task.
        """
        status = slave.update()
        self.assertEqual((status.state, status.reason), (
            mesos_pb2.TASK_RUNNING, mesos_pb2.TaskStatus.REASON_TASK_HEALTH_CHECK_STATUS_UPDATED))
        self.assertTrue(status.HasField("healthy"))
        return status

    def test_healthy_task(self):
        """
        HealthyTask: a passing COMMAND check makes the task healthy, once.
        """
        slave = self.start()
        self.run_task(slave, "sleep 100", health_check=health_check(
            type=mesos_pb2.HealthCheck.COMMAND, command=mesos_pb2.CommandInfo(value="exit 0")))
        self.assertFalse(self.started(slave).HasField("healthy"))
        self.assertTrue(self.health_update(slave).healthy)
        slave.send(internal.KillTaskMessage(framework_id=mesos_pb2.FrameworkID(value="F1"),
                                            task_id=mesos_pb2.TaskID(value="t1")))
        killed = slave.update()
        self.assertEqual(killed.state, mesos_pb2.TASK_KILLED)
        self.assertFalse(killed.HasField("healthy"))

    def test_health_status_change(self):
        """
        HealthStatusChange: healthy, unhealthy, healthy again, as the check
        (a file's presence) changes: the first success is one update, each
        failure one (counting), the first success after them one.
        """
        directory = self.mktemp()
        os.makedirs(directory)
        marker = os.path.join(directory, "healthy")
        open(marker, "w").close()
        slave = self.start()
        self.run_task(slave, "sleep 100", health_check=health_check(
            type=mesos_pb2.HealthCheck.COMMAND, consecutive_failures=1000000,
            command=mesos_pb2.CommandInfo(value=f"test -e {marker}")))
        self.started(slave)
        self.assertTrue(self.health_update(slave).healthy)
        os.remove(marker)
        self.assertFalse(self.health_update(slave).healthy)
        open(marker, "w").close()
        while not self.health_update(slave).healthy:
            pass
        slave.send(internal.KillTaskMessage(framework_id=mesos_pb2.FrameworkID(value="F1"),
                                            task_id=mesos_pb2.TaskID(value="t1")))
        self.assertEqual(slave.update().state, mesos_pb2.TASK_KILLED)

    def test_consecutive_failures(self):
        """
        ConsecutiveFailures: each failed check is an unhealthy update, and
        the C{consecutive_failures}th kills the task; its final update says
        it was unhealthy.
        """
        slave = self.start()
        self.run_task(slave, "sleep 100", health_check=health_check(
            type=mesos_pb2.HealthCheck.COMMAND, consecutive_failures=4,
            command=mesos_pb2.CommandInfo(value="exit 1")))
        self.started(slave)
        unhealthy = [self.health_update(slave) for _ in range(4)]
        self.assertEqual([(s.healthy, s.message) for s in unhealthy],
                         [(False, "Command exited with status 1")] * 4)
        killed = slave.update()
        self.assertEqual((killed.state, killed.healthy), (mesos_pb2.TASK_KILLED, False))
        self.assertEqual(self.exit_status(), 0)

    def test_check_command_timeout(self):
        """
        CheckCommandTimeout: a check command that outlives its timeout is a
        failure (and is killed).
        """
        slave = self.start()
        self.run_task(slave, "sleep 100", health_check=health_check(
            type=mesos_pb2.HealthCheck.COMMAND, consecutive_failures=1, timeout_seconds=0.2,
            command=mesos_pb2.CommandInfo(value="sleep 100")))
        self.started(slave)
        unhealthy = self.health_update(slave)
        self.assertEqual((unhealthy.healthy, unhealthy.message),
                         (False, "COMMAND health check timed out after 0.2 seconds"))
        self.assertEqual(slave.update().state, mesos_pb2.TASK_KILLED)

    def listening_port(self):
        """
        A port on 127.0.0.1 that nothing listens on now.
        """
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        return port

    def test_healthy_task_via_http(self):
        """
        HealthyTaskViaHTTP: the task serves HTTP on its port; an HTTP check
        of a path it serves makes it healthy (the grace period covers its
        start, when connections are refused).
        """
        port = self.listening_port()
        directory = self.mktemp()
        os.makedirs(directory)
        open(os.path.join(directory, "ok"), "w").close()
        slave = self.start()
        self.run_task(
            slave, f"exec {sys.executable} -m http.server --bind 127.0.0.1 "
                   f"--directory {directory} {port}",
            health_check=health_check(
                type=mesos_pb2.HealthCheck.HTTP, grace_period_seconds=1000,
                http=mesos_pb2.HealthCheck.HTTPCheckInfo(port=port, path="/ok")))
        self.started(slave)
        self.assertTrue(self.health_update(slave).healthy)

    def test_healthy_task_via_https(self):
        """
        HealthyTaskViaHTTPS: the task serves HTTPS on its port with a
        certificate nobody on the slave trusts; an HTTP check with
        C{scheme: https} makes it healthy (the certificate is not checked,
        as Mesos's C{curl -k}).
        """
        port = self.listening_port()
        directory = self.mktemp()
        os.makedirs(directory)
        open(os.path.join(directory, "ok"), "w").close()
        cert_file, key_file = CertificateAuthority(os.path.join(directory, "tls")).issue("task")
        server = (
            "import functools, http.server, ssl; "
            "handler = functools.partial(http.server.SimpleHTTPRequestHandler, "
            f"directory={directory!r}); "
            f"server = http.server.HTTPServer(('127.0.0.1', {port}), handler); "
            "context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); "
            f"context.load_cert_chain({cert_file!r}, {key_file!r}); "
            "server.socket = context.wrap_socket(server.socket, server_side=True); "
            "server.serve_forever()")
        slave = self.start()
        self.run_task(
            slave, f"exec {sys.executable} -c \"{server}\"",
            health_check=health_check(
                type=mesos_pb2.HealthCheck.HTTP, grace_period_seconds=1000,
                http=mesos_pb2.HealthCheck.HTTPCheckInfo(port=port, path="/ok", scheme="https")))
        self.started(slave)
        self.assertTrue(self.health_update(slave).healthy)

    def test_healthy_task_via_tcp(self):
        """
        HealthyTaskViaTCP: a TCP check passes once the task listens (the
        grace period covers its start).
        """
        port = self.listening_port()
        slave = self.start()
        self.run_task(
            slave, f"exec {sys.executable} -c 'import socket,time; s=socket.socket(); "
                   f"s.bind((\"127.0.0.1\", {port})); s.listen(); time.sleep(100)'",
            health_check=health_check(
                type=mesos_pb2.HealthCheck.TCP, grace_period_seconds=1000,
                tcp=mesos_pb2.HealthCheck.TCPCheckInfo(port=port)))
        self.started(slave)
        self.assertTrue(self.health_update(slave).healthy)


class CommandExecutorKillTests(CommandExecutorTests.__base__):
    """
    Kills: TASK_KILLING for frameworks that can handle it (Mesos's
    CommandExecutorTest) and kill policies.
    """

    start = CommandExecutorTests.start
    run_task = CommandExecutorTests.run_task
    started = CommandExecutorTests.started

    def kill(self, slave, policy=None):
        """
        Send the kill of task t1, with C{policy} if given.
        """
        message = internal.KillTaskMessage(framework_id=mesos_pb2.FrameworkID(value="F1"),
                                           task_id=mesos_pb2.TaskID(value="t1"))
        if policy is not None:
            message.kill_policy.CopyFrom(policy)
        slave.send(message)

    def test_task_killing_capability(self):
        """
        TaskKillingCapability: a framework with TASK_KILLING_STATE hears
        TASK_KILLING, then TASK_KILLED.
        """
        framework = mesos_pb2.FrameworkInfo(user="u", name="n", capabilities=[
            mesos_pb2.FrameworkInfo.Capability(
                type=mesos_pb2.FrameworkInfo.Capability.TASK_KILLING_STATE)])
        slave = self.start()
        self.run_task(slave, "sleep 100", framework=framework)
        self.started(slave)
        self.kill(slave)
        self.assertEqual(slave.update().state, mesos_pb2.TASK_KILLING)
        self.assertEqual(slave.update().state, mesos_pb2.TASK_KILLED)

    def test_no_task_killing_capability(self):
        """
        NoTaskKillingCapability: without it, TASK_KILLED only.
        """
        slave = self.start()
        self.run_task(slave, "sleep 100")
        self.started(slave)
        self.kill(slave)
        self.assertEqual(slave.update().state, mesos_pb2.TASK_KILLED)

    def test_kill_policy_of_the_kill_wins(self):
        """
        A task that ignores SIGTERM is SIGKILLed after the kill's grace
        period, which overrides the task's (100 s here: were it used, the
        test would time out waiting).
        """
        slave = self.start()
        self.run_task(slave, "trap '' TERM; sleep 100", kill_policy=kill_policy(100))
        self.started(slave)
        self.kill(slave, kill_policy(0))
        killed = slave.update()
        self.assertEqual(killed.state, mesos_pb2.TASK_KILLED)

    def test_task_kill_policy(self):
        """
        Without one on the kill, the task's kill policy sets the grace
        period (0 here; the default 3 s would also end the task, so the
        kill's retry with 100 s must not lengthen it: Mesos only shortens).
        """
        slave = self.start()
        self.run_task(slave, "trap '' TERM; sleep 100", kill_policy=kill_policy(0))
        self.started(slave)
        self.kill(slave)
        self.kill(slave, kill_policy(100))
        self.assertEqual(slave.update().state, mesos_pb2.TASK_KILLED)


class CopiedConstantsTests(SynchronousTestCase):
    """
    The command executor loads no protobuf, so it writes the proto values
    and defaults it needs as numbers: each is tied here to L{mesos_pb2}
    (built from Mesos's C{mesos.proto}), to the rest of the code's copy,
    and to Mesos's default where it is one, so a drift fails.
    """

    def test_task_states(self):
        """
        The task states it reports are C{mesos.proto}'s C{TaskState}
        values of the same names.
        """
        for name in ("TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED", "TASK_FAILED",
                     "TASK_KILLED", "TASK_KILLING"):
            self.assertEqual(getattr(command, name), mesos_pb2.TaskState.Value(name), name)

    def test_terminal_states(self):
        """
        C{TERMINAL} is exactly the terminal states among those it reports.
        """
        reported = {command.TASK_STARTING, command.TASK_RUNNING, command.TASK_FINISHED,
                    command.TASK_FAILED, command.TASK_KILLED, command.TASK_KILLING}
        self.assertEqual(command.TERMINAL, reported & constants.TERMINAL_STATES)

    def test_task_killing_capability(self):
        """
        C{TASK_KILLING_STATE} is C{FrameworkInfo.Capability.TASK_KILLING_STATE}.
        """
        self.assertEqual(command.TASK_KILLING_STATE,
                         mesos_pb2.FrameworkInfo.Capability.TASK_KILLING_STATE)

    def test_health_check_reason(self):
        """
        The reason of a health change is
        C{TaskStatus.REASON_TASK_HEALTH_CHECK_STATUS_UPDATED}.
        """
        self.assertEqual(command.REASON_TASK_HEALTH_CHECK_STATUS_UPDATED,
                         mesos_pb2.TaskStatus.REASON_TASK_HEALTH_CHECK_STATUS_UPDATED)

    def test_kill_grace_period(self):
        """
        The default grace period between SIGTERM and SIGKILL is Mesos's
        command executor's (C{Seconds(3)} in C{src/launcher/executor.cpp}),
        and the one the rest of the code uses.
        """
        self.assertEqual(command.DEFAULT_KILL_GRACE_PERIOD, 3.0)
        self.assertEqual(command.DEFAULT_KILL_GRACE_PERIOD, validation.DEFAULT_KILL_GRACE_PERIOD)

    def test_recovery_timeout(self):
        """
        Without C{MESOS_RECOVERY_TIMEOUT} it waits for its slave as long as
        Mesos's C{--recovery_timeout} default (C{Minutes(15)} in
        C{src/slave/constants.hpp}) and the executor driver do.
        """
        self.assertEqual(command.RECOVERY_TIMEOUT, 15 * 60.0)
        self.assertEqual(command.RECOVERY_TIMEOUT, constants.RECOVERY_TIMEOUT)
