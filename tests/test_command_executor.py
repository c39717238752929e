"""
Tests for the built-in command executor (L{mesos_tw.executors.command}):
it runs real commands; the test plays the slave over a real socket pair.
"""

import os
import socket
import threading

from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.executors.command import CommandExecutor, main
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.codec import decode_envelope, encode_frame, split_frames
from mesos_tw.protocols.upid import UPID

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
        self.addCleanup(ours.close)
        self.addCleanup(theirs.close)
        executor = CommandExecutor(theirs, SLAVE, "F1", "e1",
                                   environ or {"PATH": os.environ["PATH"]}, connect=connect)
        self.result = []
        thread = threading.Thread(target=lambda: self.result.append(executor.run()), daemon=True)
        thread.start()
        self.thread = thread
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

    def run_task(self, slave, command, variables=()):
        task = mesos_pb2.TaskInfo(name="t", task_id=mesos_pb2.TaskID(value="t1"),
                                  slave_id=mesos_pb2.SlaveID(value="S1"))
        if command is not None:
            task.command.value = command
            for name, value in variables:
                task.command.environment.variables.add(name=name, value=value)
        slave.send(internal.RunTaskMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1"),
            framework=mesos_pb2.FrameworkInfo(user="u", name="n"), pid="s@h:1", task=task))

    def exit_status(self):
        self.thread.join(20)
        self.assertFalse(self.thread.is_alive(), "the executor did not exit")
        return self.result[0]

    def test_finished(self):
        """
        A command exiting 0: RUNNING, then FINISHED, then the executor exits.
        """
        slave = self.start()
        self.run_task(slave, "true")
        running = slave.update()
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
        slave.update()
        failed = slave.update()
        self.assertEqual((failed.state, failed.message),
                         (mesos_pb2.TASK_FAILED, "Command exited with status 3"))

    def test_environment(self):
        """
        The command sees the CommandInfo's environment.
        """
        slave = self.start()
        self.run_task(slave, 'test "$GREETING" = hello', [("GREETING", "hello")])
        slave.update()
        self.assertEqual(slave.update().state, mesos_pb2.TASK_FINISHED)

    def test_killed(self):
        """
        A kill ends the command's whole process group: TASK_KILLED.
        """
        slave = self.start()
        self.run_task(slave, "sleep 100 & wait")
        self.assertEqual(slave.update().state, mesos_pb2.TASK_RUNNING)
        slave.send(internal.KillTaskMessage(framework_id=mesos_pb2.FrameworkID(value="F1"),
                                            task_id=mesos_pb2.TaskID(value="t1")))
        self.assertEqual(slave.update().state, mesos_pb2.TASK_KILLED)
        self.assertEqual(self.exit_status(), 0)

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
        slave.update()
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
        executor.send = sent.append
        executor.task_id = mesos_pb2.TaskID(value="t1")
        executor._finish(mesos_pb2.TASK_FINISHED, "Command exited with status 0")
        now[0] += 3600
        self.assertFalse(executor.may_exit())
        update = sent[-1].update
        executor._acknowledged(internal.StatusUpdateAcknowledgementMessage(
            slave_id=mesos_pb2.SlaveID(value="S1"), framework_id=update.framework_id,
            task_id=update.status.task_id, uuid=update.uuid))
        self.assertTrue(executor.may_exit())

    def test_slave_gone(self):
        """
        When the slave's connection closes, the executor kills the command
        and exits with status 1.
        """
        slave = self.start()
        self.run_task(slave, "sleep 100")
        slave.update()
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
        self.assertEqual(slave.update(acknowledge=False).state, mesos_pb2.TASK_RUNNING)
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
        self.assertEqual(updates[0].status.state, mesos_pb2.TASK_RUNNING)
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
