"""
Tests for L{mesos_tw.slave.slave.Slave} on an in-memory network, a fake
clock and a fake isolator: a recording master and executor talk to it.
"""

import inspect
import os

from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.slave.fetcher import Fetcher
from mesos_tw.testing.master import MASTER
from mesos_tw.testing.peers import RecordingPeer
from mesos_tw.testing.slave import SCHEDULER, SLAVE, RecordingFetcher, SlaveTestCase


class RegistrationTests(SlaveTestCase):
    """
    Registering with the master.
    """

    def test_registers_with_resources_and_attributes(self):
        """
        The slave registers with its resources and attributes.
        """
        self.turn()
        info = self.master.last(internal.RegisterSlaveMessage).slave
        self.assertEqual(Resources.from_protobuf(info.resources), Resources.parse("cpus:2;mem:1024"))
        self.assertEqual([(a.name, a.text.value) for a in info.attributes], [("rack", "r1")])

    def test_retries_with_backoff(self):
        """
        Unanswered, registration is retried after 1, 2, 4, 8, 8 s.
        """
        self.turn()
        times = []
        for step in (1, 2, 4, 8, 8):
            before = len(self.master.of(internal.RegisterSlaveMessage))
            self.clock.advance(step - 0.001)
            self.turn()
            self.assertEqual(len(self.master.of(internal.RegisterSlaveMessage)), before)
            self.clock.advance(0.001)
            self.turn()
            times.append(len(self.master.of(internal.RegisterSlaveMessage)) - before)
        self.assertEqual(times, [1] * 5)

    def test_registered_stops_retrying(self):
        """
        Once registered, no more registrations are sent.
        """
        self.register()
        count = len(self.master.of(internal.RegisterSlaveMessage))
        self.clock.advance(100)
        self.turn()
        self.assertEqual(len(self.master.of(internal.RegisterSlaveMessage)), count)
        self.assertEqual(self.slave.id, "S1")

    def test_reregisters_after_master_loss_with_tasks(self):
        """
        After losing the master the slave re-registers with its id, tasks and
        executors.
        """
        self.register()
        self.run_task("t1", executor_id="e1")
        self.executor_registers("e1")
        self.slave.node.disconnect(MASTER)
        self.turn()
        self.clock.advance(1)
        self.turn()
        message = self.master.last(internal.ReregisterSlaveMessage)
        self.assertEqual(message.slave_id.value, "S1")
        self.assertEqual([t.task_id.value for t in message.tasks], ["t1"])
        self.assertEqual([e.executor_id.value for e in message.executor_infos], ["e1"])

    def test_reregisters_with_ended_task_awaiting_acknowledgement(self):
        """
        A task that ended while its master was away, its terminal update not
        yet acknowledged (its executor gone), is still reported on
        re-registration: the master must not take it for lost and tell its
        framework TASK_LOST before TASK_FINISHED (the simulator found that:
        seeds 4, 9, 18, 21 and 23 of the "all" faults).  As Mesos, it is
        reported in its latest state, with the state and uuid of the update
        in flight: reported as still running, the master counted its
        resources twice (the simulator found a slave given five tasks of
        0.25 cpus).
        """
        self.register()
        self.run_task("t1")
        executor = self.executor_registers("t1")
        self.slave.node.disconnect(MASTER)
        self.turn()
        self.executor_update(executor, "t1", mesos_pb2.TASK_FINISHED, b"u" * 16)
        self.executor_exits(executor, "t1")
        self.turn()
        self.clock.advance(1)
        self.turn()
        message = self.master.last(internal.ReregisterSlaveMessage)
        self.assertEqual([(t.task_id.value, t.state, t.status_update_state, t.status_update_uuid)
                          for t in message.tasks],
                         [("t1", mesos_pb2.TASK_FINISHED, mesos_pb2.TASK_FINISHED, b"u" * 16)])

    def test_reconciles_tasks_the_master_asks_about(self):
        """
        As Mesos's agent: of the tasks a master's C{SlaveReregisteredMessage}
        asks about, one the slave runs (its launch crossed the
        re-registration) needs nothing, and one it does not know ends
        C{TASK_LOST} (C{REASON_RECONCILIATION}), sent reliably, once (the
        simulator found two, seed 313 of "all" and seed 10035 of "all
        --buggify").
        """
        self.register()
        self.run_task("t1")
        self.executor_registers("t1")
        self.slave.node.disconnect(MASTER)
        self.turn()
        self.clock.advance(1)
        self.turn()
        framework_id = self.master.last(internal.ReregisterSlaveMessage).tasks[0] \
            .framework_id.value
        reconcile = internal.ReconcileTasksMessage(
            framework_id=mesos_pb2.FrameworkID(value=framework_id))
        for task_id in ("t1", "t9"):
            reconcile.statuses.add(task_id=mesos_pb2.TaskID(value=task_id),
                                   state=mesos_pb2.TASK_STAGING)
        # Asked twice (its re-registration was retried): answered once,
        # whether or not the first answer was acknowledged meanwhile.
        for _ in range(2):
            self.master.send(SLAVE, internal.SlaveReregisteredMessage(
                slave_id=mesos_pb2.SlaveID(value="S1"), reconciliations=[reconcile]))
            self.turn()
            for message in self.master.of(internal.StatusUpdateMessage):
                self.master.send(SLAVE, internal.StatusUpdateAcknowledgementMessage(
                    slave_id=message.update.slave_id, framework_id=message.update.framework_id,
                    task_id=message.update.status.task_id, uuid=message.update.uuid))
            self.turn()
        lost = {(m.update.status.task_id.value, m.update.status.reason, m.update.uuid)
                for m in self.master.of(internal.StatusUpdateMessage)
                if m.update.status.state == mesos_pb2.TASK_LOST}
        self.assertEqual([(task_id, reason) for task_id, reason, _ in lost],
                         [("t9", mesos_pb2.TaskStatus.REASON_RECONCILIATION)])

    def test_reregisters_with_task_awaiting_its_executor(self):
        """
        A task queued for an executor that has not registered yet is
        reported on re-registration, C{TASK_STAGING}: left out, the master
        reported it lost while it could still run (the simulator found
        that: seed 14 of the "all" faults).
        """
        self.register()
        self.run_task("t1")
        self.slave.node.disconnect(MASTER)
        self.turn()
        self.clock.advance(1)
        self.turn()
        message = self.master.last(internal.ReregisterSlaveMessage)
        self.assertEqual([(t.task_id.value, t.state) for t in message.tasks],
                         [("t1", mesos_pb2.TASK_STAGING)])

    def test_pong(self):
        """
        A ping is answered with a pong.
        """
        self.register()
        self.master.send(SLAVE, internal.PingSlaveMessage())
        self.turn()
        self.assertEqual(len(self.master.of(internal.PongSlaveMessage)), 1)

    def test_registers_again_without_pings(self):
        """
        A slave told the total ping timeout registers again when no ping
        comes for that long (its master found it unreachable); each ping
        restarts the wait.
        """
        self.turn()
        self.master.send(SLAVE, internal.SlaveRegisteredMessage(
            slave_id=mesos_pb2.SlaveID(value="S1"),
            connection=internal.MasterSlaveConnection(total_ping_timeout_seconds=75)))
        self.turn()
        self.clock.advance(70)
        self.master.send(SLAVE, internal.PingSlaveMessage())
        self.turn()
        self.clock.advance(74)
        self.turn()
        self.assertEqual(self.master.of(internal.ReregisterSlaveMessage), [])
        self.clock.advance(1)
        self.turn()
        self.assertEqual(self.master.last(internal.ReregisterSlaveMessage).slave_id.value, "S1")

    def test_ping_after_stop_sets_no_timer(self):
        """
        A ping that reaches a slave after it stopped leaves no timer behind
        (a stopped slave waits for no ping; the suite saw its wait outlive
        a test on a loaded machine).
        """
        self.turn()
        self.master.send(SLAVE, internal.SlaveRegisteredMessage(
            slave_id=mesos_pb2.SlaveID(value="S1"),
            connection=internal.MasterSlaveConnection(total_ping_timeout_seconds=75)))
        self.turn()
        self.slave.stop()
        self.turn()
        self.master.send(SLAVE, internal.PingSlaveMessage())
        self.turn()
        self.assertEqual([call for call in self.clock.getDelayedCalls()
                          if "_no_ping" in repr(call.func)], [])

    def test_shutdown_message(self):
        """
        ShutdownMessage from the master kills every executor and stops the
        slave registering.
        """
        self.register()
        self.run_task("t1")
        self.master.send(SLAVE, internal.ShutdownMessage(message="removed"))
        self.turn()
        self.assertEqual(self.isolator.killed, [("F1", "t1")])
        count = len(self.master.of(internal.RegisterSlaveMessage))
        self.clock.advance(100)
        self.assertEqual(len(self.master.of(internal.RegisterSlaveMessage)), count)


class TaskTests(SlaveTestCase):
    """
    Running tasks through executors.
    """

    def setUp(self):
        super().setUp()
        self.register()

    def test_command_task_uses_command_executor(self):
        """
        A command task launches the built-in command executor in a sandbox
        with the Mesos environment.
        """
        self.run_task("t1")
        info, directory, environment = self.isolator.launched[("F1", "t1")]
        self.assertEqual(info.command.value, "python3 -m mesos_tw.executors.command")
        self.assertEqual(info.name, "Command Executor (Task: t1)")
        self.assertTrue(os.path.isdir(directory))
        self.assertIn(os.path.join("slaves", "S1", "frameworks", "F1", "executors", "t1", "runs"),
                      directory)
        self.assertEqual(environment["MESOS_SLAVE_PID"], str(SLAVE))
        self.assertEqual(environment["MESOS_EXECUTOR_ID"], "t1")
        self.assertEqual(environment["MESOS_DIRECTORY"], directory)
        self.assertEqual(environment["PATH"], "/bin")
        latest = os.path.join(os.path.dirname(directory), "latest")
        self.assertEqual(os.path.realpath(latest), os.path.realpath(directory))

    def test_command_task_uris_fetched_for_it(self):
        """
        A command task's URIs are its command executor's, and the slave
        fetches them into the executor's sandbox before launching it.
        """
        fetcher = self.slave.fetcher = RecordingFetcher(self.clock)
        task = self.command_task_with_uri("file:///opt/run.sh")
        info, directory, _ = self.isolator.launched[("F1", "t1")]
        self.assertEqual(list(info.command.uris), list(task.command.uris))
        self.assertEqual(fetcher.fetched, [(list(task.command.uris), directory)])

    def test_fetcher_fake_matches_fetcher(self):
        """
        The recording fetcher's C{fetch} takes what L{Fetcher.fetch} takes,
        so the tests using it call the slave as the real one would be.
        """
        self.assertEqual(inspect.signature(RecordingFetcher.fetch),
                         inspect.signature(Fetcher.fetch))

    def test_fetch_failure_fails_the_task(self):
        """
        A URI that cannot be fetched fails the launch: the task fails,
        saying which URI and why, and nothing is launched.
        """
        self.slave.fetcher = RecordingFetcher(self.clock, fail="cannot fetch 'x': gone")
        self.command_task_with_uri("x")
        self.assertNotIn(("F1", "t1"), self.isolator.launched)
        update = self.master.last(internal.StatusUpdateMessage).update.status
        self.assertEqual(update.state, mesos_pb2.TASK_FAILED)
        self.assertIn("cannot fetch 'x': gone", update.message)

    def command_task_with_uri(self, uri):
        """
        The master sends command task t1 with C{uri}; return the task.
        """
        task = mesos_pb2.TaskInfo(
            name="t1", task_id=mesos_pb2.TaskID(value="t1"),
            slave_id=mesos_pb2.SlaveID(value="S1"),
            resources=Resources.parse("cpus:1;mem:128").to_protobuf())
        task.command.value = "./run.sh"
        task.command.uris.add(value=uri, executable=True)
        self.master.send(SLAVE, internal.RunTaskMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1"),
            framework=mesos_pb2.FrameworkInfo(user="alice", name="fw"), pid=SCHEDULER, task=task))
        self.turn()
        return task

    def test_tasks_queued_until_executor_registers(self):
        """
        Tasks wait until their executor registers, then go to it in order.
        """
        self.run_task("t1", executor_id="e1")
        self.run_task("t2", executor_id="e1")
        self.assertEqual(len(self.isolator.launched), 1)
        executor = self.executor_registers("e1")
        registered = executor.last(internal.ExecutorRegisteredMessage)
        self.assertEqual(registered.slave_id.value, "S1")
        self.assertEqual([m.task.task_id.value for m in executor.of(internal.RunTaskMessage)],
                         ["t1", "t2"])
        self.run_task("t3", executor_id="e1")
        self.assertEqual(executor.last(internal.RunTaskMessage).task.task_id.value, "t3")

    def test_unknown_executor_shut_down(self):
        """
        An executor the slave did not launch is told to shut down.
        """
        executor = self.executor_registers("ghost")
        self.assertEqual(len(executor.of(internal.ShutdownExecutorMessage)), 1)

    def test_kill_queued_task(self):
        """
        Killing a task still queued answers TASK_KILLED from the slave.
        """
        self.run_task("t1", executor_id="e1")
        self.master.send(SLAVE, internal.KillTaskMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1"), task_id=mesos_pb2.TaskID(value="t1")))
        self.turn()
        self.assertEqual(self.forwarded(), [("t1", mesos_pb2.TASK_KILLED)])

    def test_kill_running_task_goes_to_executor(self):
        """
        Killing a launched task asks its executor.
        """
        self.run_task("t1", executor_id="e1")
        executor = self.executor_registers("e1")
        self.master.send(SLAVE, internal.KillTaskMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1"), task_id=mesos_pb2.TaskID(value="t1")))
        self.turn()
        self.assertEqual(executor.last(internal.KillTaskMessage).task_id.value, "t1")

    def test_kill_unknown_task(self):
        """
        Killing a task the slave does not have answers TASK_LOST.
        """
        self.master.send(SLAVE, internal.KillTaskMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1"), task_id=mesos_pb2.TaskID(value="x")))
        self.turn()
        self.assertEqual(self.forwarded(), [("x", mesos_pb2.TASK_LOST)])

    def test_custom_executor_exit_loses_tasks(self):
        """
        A custom executor that exits: its unfinished tasks are TASK_LOST,
        and the master hears of the exit.
        """
        self.run_task("t1", executor_id="e1")
        executor = self.executor_registers("e1")
        self.executor_exits(executor, "e1", 256)
        self.turn()
        self.assertEqual(self.forwarded(), [("t1", mesos_pb2.TASK_LOST)])
        update = self.master.last(internal.StatusUpdateMessage).update.status
        self.assertEqual(update.reason, mesos_pb2.TaskStatus.REASON_EXECUTOR_TERMINATED)
        self.assertEqual(self.master.last(internal.ExitedExecutorMessage).status, 256)

    def test_command_executor_exit_fails_tasks(self):
        """
        The command executor exiting with its task unfinished fails it.
        """
        self.run_task("t1")
        self.isolator.exit("F1", "t1", 9)
        self.turn()
        self.assertEqual(self.forwarded(), [("t1", mesos_pb2.TASK_FAILED)])

    def test_launch_failure_fails_tasks(self):
        """
        An executor that cannot be launched fails its tasks with the reason.
        """
        self.isolator.fail_launches = "no such isolator thing"
        self.run_task("t1")
        update = self.master.last(internal.StatusUpdateMessage).update.status
        self.assertEqual(update.state, mesos_pb2.TASK_FAILED)
        self.assertIn("no such isolator thing", update.message)

    def test_registration_timeout(self):
        """
        An executor that never registers is killed after the timeout and its
        tasks are lost.
        """
        self.run_task("t1", executor_id="e1")
        self.clock.advance(60)
        self.turn()
        self.assertEqual(self.isolator.killed, [("F1", "e1")])
        self.assertEqual(self.forwarded(), [("t1", mesos_pb2.TASK_LOST)])

    def test_shutdown_framework_with_grace_period(self):
        """
        ShutdownFrameworkMessage asks executors to shut down and kills them
        after the grace period.
        """
        self.run_task("t1", executor_id="e1")
        executor = self.executor_registers("e1")
        self.master.send(SLAVE, internal.ShutdownFrameworkMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1")))
        self.turn()
        self.assertEqual(len(executor.of(internal.ShutdownExecutorMessage)), 1)
        self.assertEqual(self.isolator.killed, [])
        self.clock.advance(5)
        self.assertEqual(self.isolator.killed, [("F1", "e1")])

    def test_framework_messages(self):
        """
        Framework messages go to the executor, and from it to the master.
        """
        self.run_task("t1", executor_id="e1")
        executor = self.executor_registers("e1")
        message = internal.FrameworkToExecutorMessage(
            slave_id=mesos_pb2.SlaveID(value="S1"), framework_id=mesos_pb2.FrameworkID(value="F1"),
            executor_id=mesos_pb2.ExecutorID(value="e1"), data=b"a\0b")
        self.master.send(SLAVE, message)
        executor.send(SLAVE, internal.ExecutorToFrameworkMessage(
            slave_id=mesos_pb2.SlaveID(value=""), framework_id=mesos_pb2.FrameworkID(value="F1"),
            executor_id=mesos_pb2.ExecutorID(value="e1"), data=b"c\0d"))
        self.turn()
        self.assertEqual(executor.last(internal.FrameworkToExecutorMessage).data, b"a\0b")
        forwarded = self.master.last(internal.ExecutorToFrameworkMessage)
        self.assertEqual((forwarded.data, forwarded.slave_id.value), (b"c\0d", "S1"))

    def test_state(self):
        """
        The state lists frameworks, executors and tasks.
        """
        self.run_task("t1", executor_id="e1")
        state = self.slave.state()
        self.assertEqual(state["id"], "S1")
        executor = state["frameworks"][0]["executors"][0]
        self.assertEqual(executor["id"], "e1")
        self.assertEqual(executor["queued_tasks"][0]["id"], "t1")


class StatusUpdateTests(SlaveTestCase):
    """
    Reliable status updates.
    """

    def setUp(self):
        super().setUp()
        self.register()
        self.run_task("t1", executor_id="t1")
        self.executor = self.executor_registers("t1")

    def test_forwarded_with_pid_and_acknowledged_to_executor(self):
        """
        An executor's update goes to the master with the slave's pid, and
        the executor hears the slave has it.
        """
        self.executor_update(self.executor, "t1", mesos_pb2.TASK_RUNNING, b"u1")
        message = self.master.last(internal.StatusUpdateMessage)
        self.assertEqual((message.pid, message.update.slave_id.value), (str(SLAVE), "S1"))
        self.assertEqual(self.executor.last(internal.StatusUpdateAcknowledgementMessage).uuid, b"u1")

    def test_retried_until_acknowledged(self):
        """
        Unacknowledged, the update is re-sent every 10 s; after the
        scheduler's acknowledgement it is not.
        """
        self.executor_update(self.executor, "t1", mesos_pb2.TASK_RUNNING, b"u1")
        self.clock.advance(10)
        self.turn()
        self.clock.advance(10)
        self.turn()
        self.assertEqual(len(self.forwarded()), 3)
        self.acknowledge("t1", b"u1")
        self.clock.advance(30)
        self.turn()
        self.assertEqual(len(self.forwarded()), 3)

    def test_in_order_per_task(self):
        """
        The second update waits until the first is acknowledged.
        """
        self.executor_update(self.executor, "t1", mesos_pb2.TASK_RUNNING, b"u1")
        self.executor_update(self.executor, "t1", mesos_pb2.TASK_FINISHED, b"u2")
        self.assertEqual(self.forwarded(), [("t1", mesos_pb2.TASK_RUNNING)])
        self.acknowledge("t1", b"u1")
        self.assertEqual(self.forwarded(), [("t1", mesos_pb2.TASK_RUNNING),
                                            ("t1", mesos_pb2.TASK_FINISHED)])

    def test_duplicate_dropped(self):
        """
        An update with a uuid seen before is not forwarded again.
        """
        self.executor_update(self.executor, "t1", mesos_pb2.TASK_RUNNING, b"u1")
        self.acknowledge("t1", b"u1")
        self.executor_update(self.executor, "t1", mesos_pb2.TASK_RUNNING, b"u1")
        self.assertEqual(len(self.forwarded()), 1)

    def test_kept_while_master_is_away(self):
        """
        Updates made while the master is gone are sent after re-registering.
        """
        self.slave.node.disconnect(MASTER)
        self.turn()
        self.executor_update(self.executor, "t1", mesos_pb2.TASK_RUNNING, b"u1")
        self.assertEqual(self.forwarded(), [])
        self.clock.advance(1)
        self.turn()
        self.master.send(SLAVE, internal.SlaveReregisteredMessage(
            slave_id=mesos_pb2.SlaveID(value="S1")))
        self.turn()
        self.assertEqual(self.forwarded(), [("t1", mesos_pb2.TASK_RUNNING)])

    def test_update_from_stranger_ignored(self):
        """
        A status update from something that is not one of our executors is
        refused and counted invalid.
        """
        stranger = RecordingPeer(self.network, UPID("executor-x", "127.0.0.1", 0))
        self.executor_update(stranger, "t1", mesos_pb2.TASK_RUNNING, b"u9")
        self.assertEqual(self.forwarded(), [])
        self.assertEqual(self.slave.stats["invalid_status_updates"], 1)

    def test_terminal_update_completes_task(self):
        """
        A terminal update moves the task to the executor's completed tasks.
        """
        self.executor_update(self.executor, "t1", mesos_pb2.TASK_FINISHED, b"u1")
        executor = self.slave.frameworks["F1"].executors["t1"]
        self.assertEqual(list(executor.tasks), [])
        self.assertEqual([t.task_id.value for t in executor.completed_tasks], ["t1"])
