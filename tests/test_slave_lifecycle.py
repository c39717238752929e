"""
More tests for L{mesos_tw.slave.slave.Slave}: how executors end, why their
tasks end, stopping, framework updates and completion.
"""

from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.slave.launching import describe_wait_status
from mesos_tw.testing.master import MASTER
from mesos_tw.testing.peers import RecordingPeer
from mesos_tw.testing.slave import SCHEDULER, SLAVE, SlaveTestCase

Status = mesos_pb2.TaskStatus


class ExecutorEndTests(SlaveTestCase):
    """
    The updates a slave makes when an executor ends.
    """

    def setUp(self):
        super().setUp()
        self.register()

    def last_update(self):
        """
        The status of the latest update the master received.
        """
        return self.master.last(internal.StatusUpdateMessage).update.status

    def test_command_executor_exit_reason(self):
        """
        The command executor's exit fails its task with
        REASON_EXECUTOR_TERMINATED and says how it ended, from the slave.
        """
        self.run_task("t1")
        executor = self.executor_registers("t1")
        self.executor_exits(executor, "t1", 1 << 8)
        self.turn()
        status = self.last_update()
        self.assertEqual((status.state, status.reason, status.source),
                         (mesos_pb2.TASK_FAILED, Status.REASON_EXECUTOR_TERMINATED,
                          Status.SOURCE_SLAVE))
        self.assertIn("exited with status 1", status.message)
        self.assertEqual(status.executor_id.value, "t1")

    def test_isolator_limit_fails_tasks_with_its_reason(self):
        """
        An executor its isolator ended for a memory limit fails its tasks
        with the isolator's reason and message, and its container is
        cleaned up.
        """
        self.run_task("t1")
        executor = self.executor_registers("t1")
        self.network.crash(executor.upid)
        self.isolator.limit("F1", "t1", Status.REASON_CONTAINER_LIMITATION_MEMORY,
                            "Memory limit of 64 MB reached: 64 MB used")
        self.turn()
        status = self.last_update()
        self.assertEqual((status.state, status.reason, status.message),
                         (mesos_pb2.TASK_FAILED, Status.REASON_CONTAINER_LIMITATION_MEMORY,
                          "Memory limit of 64 MB reached: 64 MB used"))
        self.assertEqual(self.isolator.cleaned, [("F1", "t1")])

    def test_failed_launch_is_cleaned_up(self):
        """
        A container whose launch failed is cleaned up, and its task fails
        saying why.
        """
        self.isolator.fail_launches = "no such program"
        self.run_task("t1")
        self.turn()
        status = self.last_update()
        self.assertEqual((status.state, status.reason),
                         (mesos_pb2.TASK_FAILED, Status.REASON_CONTAINER_LAUNCH_FAILED))
        self.assertIn("no such program", status.message)
        self.assertEqual(self.isolator.cleaned, [("F1", "t1")])

    def test_task_asks_for_a_tty(self):
        """
        A command task with C{MESOS_TTY=1} in its environment gets its
        executor a container on a terminal; other tasks do not.
        """
        self.run_task("t1")
        self.assertFalse(self.isolator.containers[("F1", "t1")].tty)
        task = mesos_pb2.TaskInfo(
            name="t2", task_id=mesos_pb2.TaskID(value="t2"),
            slave_id=mesos_pb2.SlaveID(value="S1"),
            resources=Resources.parse("cpus:1;mem:128").to_protobuf())
        task.command.value = "top"
        task.command.environment.variables.add(name="MESOS_TTY", value="1")
        self.master.send(SLAVE, internal.RunTaskMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1"),
            framework=mesos_pb2.FrameworkInfo(user="alice", name="fw"),
            pid=SCHEDULER, task=task))
        self.turn()
        container = self.isolator.containers[("F1", "t2")]
        self.assertTrue(container.tty)
        self.assertEqual(container.run_id, self.slave.frameworks["F1"].executors["t2"].run_id)

    def test_switch_user(self):
        """
        With C{switch_user}, an executor's container names its framework's
        user; without it (the default), none.
        """
        self.run_task("t1")
        self.assertIsNone(self.isolator.containers[("F1", "t1")].user)
        self.slave.switch_user = True
        self.run_task("t2")
        self.assertEqual(self.isolator.containers[("F1", "t2")].user, "alice")

    def test_usage_sampled(self):
        """
        The slave samples a running executor's usage every second and
        forgets it once the executor has ended.
        """
        self.run_task("t1")
        self.executor_registers("t1")
        self.clock.advance(1)
        self.assertEqual([(s.framework_id, s.executor_id) for s in self.slave.monitor.samples()],
                         [("F1", "t1")])
        self.isolator.exit("F1", "t1", 0)
        self.turn()
        self.clock.advance(1)
        self.assertEqual(self.slave.monitor.samples(), [])

    def test_registration_timeout_loses_command_task(self):
        """
        A command executor that never registers is killed and its task is
        TASK_LOST with REASON_EXECUTOR_REGISTRATION_TIMEOUT, not failed.
        """
        self.run_task("t1")
        self.clock.advance(59.9)
        self.assertEqual(self.isolator.killed, [])
        self.clock.advance(0.1)
        self.turn()
        status = self.last_update()
        self.assertEqual((status.state, status.reason),
                         (mesos_pb2.TASK_LOST, Status.REASON_EXECUTOR_REGISTRATION_TIMEOUT))
        self.assertIn("did not register within 60 s", status.message)
        self.assertEqual(self.master.last(internal.ExitedExecutorMessage).executor_id.value, "t1")

    def test_registered_executor_not_timed_out(self):
        """
        An executor that registered in time is not killed at the timeout.
        """
        self.run_task("t1", executor_id="e1")
        self.executor_registers("e1")
        self.clock.advance(120)
        self.assertEqual(self.isolator.killed, [])

    def test_lost_connection_waits_for_exit(self):
        """
        An executor's connection closing changes nothing until the isolator
        reports its exit.
        """
        self.run_task("t1", executor_id="e1")
        executor = self.executor_registers("e1")
        self.slave.node.disconnect(executor.upid)
        self.turn()
        self.assertEqual(self.forwarded(), [])
        self.isolator.exit("F1", "e1", 0)
        self.turn()
        self.assertEqual(self.forwarded(), [("t1", mesos_pb2.TASK_LOST)])

    def test_framework_completes(self):
        """
        A framework with no executors and no pending updates moves to the
        completed frameworks.
        """
        self.run_task("t1", executor_id="e1")
        executor = self.executor_registers("e1")
        self.executor_exits(executor, "e1", 0)
        self.turn()
        self.assertIn("F1", self.slave.frameworks)
        uuid = self.master.last(internal.StatusUpdateMessage).update.uuid
        self.acknowledge("t1", uuid)
        self.assertNotIn("F1", self.slave.frameworks)
        state = self.slave.state()
        [completed] = state["completed_frameworks"]
        self.assertEqual(completed["completed_executors"][0]["id"], "e1")

    def test_wait_status_descriptions(self):
        """
        Wait statuses read as exits and signals.
        """
        self.assertEqual(describe_wait_status(3 << 8), "exited with status 3")
        self.assertEqual(describe_wait_status(9), "killed by SIGKILL")


class ExitBeforeUpdateReadTests(SlaveTestCase):
    """
    The race of a busy machine: an executor sends its final update and
    exits, and the slave learns of the exit before it has read the update.
    The executor's connection, not its process, closes the book: the
    update is read and the task is not misreported.
    """

    def setUp(self):
        super().setUp()
        self.register()
        self.run_task("t1")
        self.executor = self.executor_registers("t1")
        self.executor_update(self.executor, "t1", mesos_pb2.TASK_RUNNING, b"u-running")

    def finish_and_exit_first(self):
        """
        The executor sends TASK_FINISHED; before the slave reads it, the
        isolator reports the executor's exit (status 0).
        """
        self.executor.send(SLAVE, internal.StatusUpdateMessage(update=internal.StatusUpdate(
            framework_id=mesos_pb2.FrameworkID(value="F1"),
            executor_id=mesos_pb2.ExecutorID(value="t1"), timestamp=2.0, uuid=b"u-finished",
            status=mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value="t1"),
                                        state=mesos_pb2.TASK_FINISHED))))
        self.isolator.exit("F1", "t1", 0)

    def test_final_update_read_after_the_exit_is_reported(self):
        """
        The update that was on the connection when the exit was reported
        is the task's last state; no TASK_FAILED "Executor exited with
        status 0" follows it, and the exit is reported to the master once
        the connection has closed.
        """
        self.finish_and_exit_first()
        self.turn()
        self.assertEqual(self.master.of(internal.ExitedExecutorMessage), [])
        self.network.crash(self.executor.upid)
        self.turn()
        self.assertEqual(self.forwarded(),
                         [("t1", mesos_pb2.TASK_RUNNING)])
        self.acknowledge("t1", b"u-running")
        self.assertEqual(self.forwarded(),
                         [("t1", mesos_pb2.TASK_RUNNING), ("t1", mesos_pb2.TASK_FINISHED)])
        self.acknowledge("t1", b"u-finished")
        self.assertEqual(len(self.forwarded()), 2)
        self.assertEqual(self.master.last(internal.ExitedExecutorMessage).status, 0)
        self.assertNotIn("F1", self.slave.frameworks)

    def test_exit_without_a_final_update_waits_for_the_connection(self):
        """
        An executor that exited with its task unfinished fails the task
        once its connection has closed, not before.
        """
        self.isolator.exit("F1", "t1", 1 << 8)
        self.turn()
        self.acknowledge("t1", b"u-running")
        self.assertEqual(self.forwarded(), [("t1", mesos_pb2.TASK_RUNNING)])
        self.network.crash(self.executor.upid)
        self.turn()
        self.assertEqual(self.forwarded()[-1], ("t1", mesos_pb2.TASK_FAILED))
        self.assertIn("exited with status 1",
                      self.master.last(internal.StatusUpdateMessage).update.status.message)

    def test_connection_outliving_its_process_is_closed(self):
        """
        A connection still open C{executor_exit_read_timeout} seconds after
        its executor exited (something else holds it) is closed, and the
        exit is acted on then.
        """
        self.isolator.exit("F1", "t1", 1 << 8)
        self.acknowledge("t1", b"u-running")
        self.clock.advance(self.slave.executor_exit_read_timeout - 0.01)
        self.assertEqual(self.forwarded(), [("t1", mesos_pb2.TASK_RUNNING)])
        self.clock.advance(0.01)
        self.turn()
        self.assertEqual(self.forwarded()[-1], ("t1", mesos_pb2.TASK_FAILED))
        self.assertEqual(self.executor.lost, [SLAVE])


class ResourcesTests(SlaveTestCase):
    """
    The isolator hears of each executor's resources.
    """

    def test_terminal_update_frees_resources(self):
        """
        A task's resources go to the isolator when it starts, and are taken
        away when it ends.
        """
        self.register()
        self.run_task("t1", executor_id="e1")
        executor = self.executor_registers("e1")
        self.assertEqual(self.isolator.resources[("F1", "e1")], Resources.parse("cpus:1;mem:128"))
        self.executor_update(executor, "t1", mesos_pb2.TASK_FINISHED, b"u1")
        self.assertEqual(self.isolator.resources[("F1", "e1")], Resources())


class AcknowledgementTests(SlaveTestCase):
    """
    Only the framework acknowledges updates.
    """

    def test_executor_cannot_acknowledge(self):
        """
        An acknowledgement from an executor does not pop the update.
        """
        self.register()
        self.run_task("t1", executor_id="t1")
        executor = self.executor_registers("t1")
        self.executor_update(executor, "t1", mesos_pb2.TASK_RUNNING, b"u1")
        executor.send(SLAVE, internal.StatusUpdateAcknowledgementMessage(
            slave_id=mesos_pb2.SlaveID(value="S1"), framework_id=mesos_pb2.FrameworkID(value="F1"),
            task_id=mesos_pb2.TaskID(value="t1"), uuid=b"u1"))
        self.turn()
        self.clock.advance(10)
        self.turn()
        self.assertEqual(len(self.forwarded()), 2)


class StopTests(SlaveTestCase):
    """
    Leaving the cluster, and framework updates.
    """

    def test_stop_unregisters_and_kills(self):
        """
        stop() unregisters from the master and kills every executor; its
        Deferred fires once they are gone.
        """
        self.register()
        self.run_task("t1", executor_id="e1")
        d = self.slave.stop()
        self.turn()
        self.successResultOf(d)
        self.assertEqual(self.master.last(internal.UnregisterSlaveMessage).slave_id.value, "S1")
        self.assertEqual(self.isolator.killed, [("F1", "e1")])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_update_framework(self):
        """
        UpdateFrameworkMessage records the framework's new scheduler UPID.
        """
        self.register()
        self.run_task("t1", executor_id="e1")
        self.executor_registers("e1")
        self.master.send(SLAVE, internal.UpdateFrameworkMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1"), pid="scheduler-2@127.0.0.1:0"))
        self.turn()
        self.assertEqual(self.slave.frameworks["F1"].pid, "scheduler-2@127.0.0.1:0")

    def test_update_framework_resends_pending_updates(self):
        """
        A framework's new scheduler gets its updates waiting for
        acknowledgement at once, as in Mesos, not at their next retry;
        other frameworks' updates wait for theirs.
        """
        self.register()
        self.run_task("t1", executor_id="e1")
        executor = self.executor_registers("e1")
        self.executor_update(executor, "t1", mesos_pb2.TASK_RUNNING, b"u1")
        self.slave._send_slave_update("F2", None, mesos_pb2.TaskID(value="x"),
                                      mesos_pb2.TASK_LOST, "elsewhere", None)
        self.turn()
        self.assertEqual(self.forwarded(), [("t1", mesos_pb2.TASK_RUNNING),
                                            ("x", mesos_pb2.TASK_LOST)])
        self.master.send(SLAVE, internal.UpdateFrameworkMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1"), pid="scheduler-2@127.0.0.1:0"))
        self.turn()
        self.assertEqual(self.forwarded()[2:], [("t1", mesos_pb2.TASK_RUNNING)])
        self.assertEqual(self.master.last(internal.StatusUpdateMessage).update.uuid, b"u1")

    def test_tasks_of_shut_down_framework_refused(self):
        """
        After ShutdownFrameworkMessage no new task of the framework starts.
        """
        self.register()
        self.run_task("t1", executor_id="e1")
        self.master.send(SLAVE, internal.ShutdownFrameworkMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1")))
        self.turn()
        self.run_task("t2", executor_id="e2")
        self.assertNotIn(("F1", "e2"), self.isolator.launched)

    def test_reregistration_backs_off(self):
        """
        After losing the master, re-registration is retried with backoff.
        """
        self.register()
        self.slave.node.disconnect(MASTER)
        self.turn()
        counts = []
        for step in (1, 1, 2, 4):
            self.clock.advance(step)
            self.turn()
            counts.append(len(self.master.of(internal.ReregisterSlaveMessage)))
        self.assertEqual(counts, [1, 2, 3, 4])

    def test_registration_from_stranger_ignored(self):
        """
        A SlaveRegisteredMessage from a process that is not the master is
        ignored.
        """
        stranger = RecordingPeer(self.network, UPID("master", "10.0.0.9", 5050))
        self.turn()
        stranger.send(SLAVE, internal.SlaveRegisteredMessage(slave_id=mesos_pb2.SlaveID(value="X")))
        self.turn()
        self.assertIsNone(self.slave.id)
