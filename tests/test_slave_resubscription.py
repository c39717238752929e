"""
Tests for how a slave's executors lose their connection and subscribe again
(L{mesos_tw.slave._subscriptions}): a disconnected executor keeps running
and its tasks wait, it is killed if it does not subscribe again in time,
and a resubscription takes its unacknowledged updates, sends again the
tasks it never saw, and replaces an older connection; refusals end with
C{ShutdownExecutorMessage}.  On the in-memory network and a fake clock.
"""

from twisted.internet.defer import Deferred
from twisted.logger import capturedLogs

from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols.upid import UPID
from mesos_tw.slave.state import RUNNING, TERMINATING
from mesos_tw.testing.peers import RecordingPeer
from mesos_tw.testing.slave import SLAVE, ResubscriptionTestCase, resubscribed_task

Status = mesos_pb2.TaskStatus



def _update(task_id, state, uuid, framework_id="F1"):
    return internal.StatusUpdate(
        framework_id=mesos_pb2.FrameworkID(value=framework_id),
        executor_id=mesos_pb2.ExecutorID(value="e1"), timestamp=1.0, uuid=uuid,
        status=mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value=task_id), state=state,
                                    uuid=uuid))



class DisconnectionTests(ResubscriptionTestCase):
    """
    An executor whose connection broke.
    """

    def test_still_running(self):
        """
        A lost connection leaves the executor running and disconnected: its
        process is not killed and its task does not end.
        """
        self.disconnect()
        self.assertEqual((self.record.state, self.record.connected, self.record.pid),
                         (RUNNING, False, None))
        self.assertEqual(self.isolator.killed, [])
        self.assertEqual(self.forwarded(), [])
        self.assertEqual(list(self.record.tasks), ["t1"])

    def test_tasks_queued(self):
        """
        A task for a disconnected executor waits in its queue instead of
        going to the UPID whose connection broke.
        """
        self.disconnect()
        self.run_task("t2", executor_id="e1")
        self.assertEqual(list(self.record.queued_tasks), ["t2"])
        self.assertEqual(self.kinds(self.old), ["ExecutorRegisteredMessage",
                                                "RunTaskMessage t1"])

    def test_queued_task_killed(self):
        """
        A task queued for a disconnected executor is killed by the slave,
        as for a launching executor, and never sent.
        """
        self.disconnect()
        self.run_task("t2", executor_id="e1")
        self.kill("t2")
        self.assertEqual(self.forwarded(), [("t2", mesos_pb2.TASK_KILLED)])
        new = self.resubscribe(tasks=["t1"])
        self.assertNotIn("RunTaskMessage t2", self.kinds(new))

    def test_kill_of_sent_task_waits(self):
        """
        The kill of a task the executor has comes to it once it subscribed
        again, not to the broken connection.
        """
        self.executor_update(self.old, "t1", mesos_pb2.TASK_RUNNING, b"u1")
        self.disconnect()
        self.kill("t1")
        self.assertEqual(self.old.of(internal.KillTaskMessage), [])
        new = self.resubscribe()
        self.assertEqual(self.kinds(new), ["ExecutorRegisteredMessage", "KillTaskMessage t1"])

    def test_undelivered_task_killed_by_slave(self):
        """
        A task sent but never seen by the executor (still staging, not
        listed when it subscribes again) and killed meanwhile is killed by
        the slave instead of being sent again.
        """
        self.disconnect()
        self.kill("t1")
        new = self.resubscribe()
        self.assertEqual(self.kinds(new), ["ExecutorRegisteredMessage"])
        self.assertEqual(self.forwarded(), [("t1", mesos_pb2.TASK_KILLED)])
        self.assertEqual(self.master.last(internal.StatusUpdateMessage).update.status.source,
                         Status.SOURCE_SLAVE)

    def test_undelivered_command_task_killed_ends_executor(self):
        """
        A command executor whose only task was killed before it reached it
        is asked to shut down once it subscribes again.
        """
        self.run_task("c1")
        command = self.executor_registers("c1", "executor-command")
        command.node.disconnect(SLAVE)
        self.turn()
        self.kill("c1")
        new = self.resubscribe("executor-command-new", executor_id="c1")
        self.assertEqual(self.kinds(new), ["ExecutorRegisteredMessage",
                                           "ShutdownExecutorMessage"])
        self.assertEqual(self.slave.frameworks["F1"].executors["c1"].state, TERMINATING)

    def test_framework_message_dropped(self):
        """
        A framework message for a disconnected executor is dropped, saying
        why (they are best effort), and not delivered later.
        """
        self.disconnect()
        with capturedLogs() as events:
            self.master.send(SLAVE, internal.FrameworkToExecutorMessage(
                slave_id=mesos_pb2.SlaveID(value="S1"),
                framework_id=mesos_pb2.FrameworkID(value="F1"),
                executor_id=mesos_pb2.ExecutorID(value="e1"), data=b"hello"))
            self.turn()
        self.assertIn(("e1", True), [(e.get("executor_id"), "disconnected" in e["log_format"])
                                     for e in events])
        new = self.resubscribe(tasks=["t1"])
        self.assertEqual(new.of(internal.FrameworkToExecutorMessage), [])
        self.assertEqual(self.old.of(internal.FrameworkToExecutorMessage), [])

    def test_timeout_kills(self):
        """
        An executor that does not subscribe again within
        --executor_reregistration_timeout (2 s) is killed; its sent and
        queued tasks end TASK_LOST with REASON_EXECUTOR_REREGISTRATION_TIMEOUT
        through the usual exit, and the master hears of the exit.
        """
        self.disconnect()
        self.run_task("t2", executor_id="e1")
        self.clock.advance(1.999)
        self.turn()
        self.assertEqual(self.isolator.killed, [])
        self.clock.advance(0.001)
        self.turn()
        self.assertEqual(self.isolator.killed, [("F1", "e1")])
        self.assertEqual(sorted(self.forwarded()), [("t1", mesos_pb2.TASK_LOST),
                                                    ("t2", mesos_pb2.TASK_LOST)])
        statuses = [m.update.status for m in self.master.of(internal.StatusUpdateMessage)]
        self.assertEqual({(s.reason, s.source) for s in statuses},
                         {(Status.REASON_EXECUTOR_REREGISTRATION_TIMEOUT, Status.SOURCE_SLAVE)})
        self.assertIn("did not subscribe again within 2 s", statuses[0].message)
        self.assertEqual(len(self.master.of(internal.ExitedExecutorMessage)), 1)

    def test_timeout_from_flag(self):
        """
        The slave's executor_reregistration_timeout sets the wait.
        """
        self.slave.executor_reregistration_timeout = 30.0
        self.disconnect()
        self.clock.advance(29)
        self.turn()
        self.assertEqual(self.isolator.killed, [])
        self.clock.advance(1)
        self.turn()
        self.assertEqual(self.isolator.killed, [("F1", "e1")])

    def test_resubscribed_in_time(self):
        """
        An executor that subscribes again in time is not killed.
        """
        self.disconnect()
        self.clock.advance(1.5)
        self.resubscribe(tasks=["t1"])
        self.clock.advance(60)
        self.turn()
        self.assertEqual(self.isolator.killed, [])
        self.assertTrue(self.record.connected)

    def test_terminating_executor_not_revived(self):
        """
        An executor the slave is shutting down that loses its connection is
        not waited for; subscribing again gets ShutdownExecutorMessage, and
        the grace period still ends it.
        """
        self.master.send(SLAVE, internal.ShutdownFrameworkMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1")))
        self.turn()
        self.disconnect()
        new = self.resubscribe(tasks=["t1"])
        self.assertEqual(self.kinds(new), ["ShutdownExecutorMessage"])
        self.assertEqual(self.record.state, TERMINATING)
        self.clock.advance(5)
        self.turn()
        self.assertEqual(self.isolator.killed, [("F1", "e1")])

    def test_disconnected_executor_shut_down(self):
        """
        Shutting down the framework of a disconnected executor sends nothing
        to its broken connection and kills it after the grace period, not
        at the re-registration timeout.
        """
        self.disconnect()
        self.master.send(SLAVE, internal.ShutdownFrameworkMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1")))
        self.turn()
        self.assertEqual(self.old.of(internal.ShutdownExecutorMessage), [])
        self.clock.advance(4.9)
        self.turn()
        self.assertEqual(self.isolator.killed, [])
        self.clock.advance(0.1)
        self.assertEqual(self.isolator.killed, [("F1", "e1")])

    def test_exit_while_disconnected(self):
        """
        An executor that exits while disconnected ends as any other: its
        tasks are lost with REASON_EXECUTOR_TERMINATED.
        """
        self.disconnect()
        self.isolator.exit("F1", "e1", 256)
        self.turn()
        self.assertEqual(self.forwarded(), [("t1", mesos_pb2.TASK_LOST)])
        self.assertEqual(self.master.last(internal.StatusUpdateMessage).update.status.reason,
                         Status.REASON_EXECUTOR_TERMINATED)
        self.clock.advance(10)
        self.assertEqual(self.isolator.killed, [])


class ResubscriptionTests(ResubscriptionTestCase):
    """
    An executor subscribing again.
    """

    def test_registered_then_queued_tasks(self):
        """
        Subscribing again from a new UPID makes it the executor's: it hears
        ExecutorRegisteredMessage, then the tasks that waited; later tasks
        go straight to it.
        """
        self.disconnect()
        self.run_task("t2", executor_id="e1")
        new = self.resubscribe(tasks=["t1"])
        self.assertEqual(self.kinds(new), ["ExecutorRegisteredMessage", "RunTaskMessage t2"])
        registered = new.last(internal.ExecutorRegisteredMessage)
        self.assertEqual((registered.slave_id.value, registered.executor_info.executor_id.value),
                         ("S1", "e1"))
        self.assertEqual((self.record.pid, self.record.queued_tasks), (new.upid, {}))
        self.run_task("t3", executor_id="e1")
        self.assertEqual(self.kinds(new)[-1], "RunTaskMessage t3")

    def test_register_message_resubscribes(self):
        """
        A plain RegisterExecutorMessage from a disconnected executor (one
        with nothing unacknowledged) resubscribes it too.
        """
        self.executor_update(self.old, "t1", mesos_pb2.TASK_RUNNING, b"u1")
        self.disconnect()
        new = self.executor_registers("e1", "executor-new")
        self.assertEqual(self.kinds(new), ["ExecutorRegisteredMessage"])
        self.assertTrue(self.record.connected)

    def test_updates_taken_and_acknowledged(self):
        """
        The executor's unacknowledged updates are taken like its updates:
        one the slave already had is a duplicate and not forwarded again, a
        new one is kept in order behind it, and both are acknowledged to
        the executor after ExecutorRegisteredMessage.
        """
        self.executor_update(self.old, "t1", mesos_pb2.TASK_RUNNING, b"u1")
        self.disconnect()
        new = self.resubscribe(tasks=["t1"], updates=[
            _update("t1", mesos_pb2.TASK_RUNNING, b"u1"),
            _update("t1", mesos_pb2.TASK_FINISHED, b"u2")])
        self.assertEqual(self.kinds(new), ["ExecutorRegisteredMessage",
                                           "StatusUpdateAcknowledgementMessage t1",
                                           "StatusUpdateAcknowledgementMessage t1"])
        self.assertEqual([m.uuid for m in new.of(internal.StatusUpdateAcknowledgementMessage)],
                         [b"u1", b"u2"])
        self.assertEqual(self.forwarded(), [("t1", mesos_pb2.TASK_RUNNING)])
        self.acknowledge("t1", b"u1")
        self.assertEqual(self.forwarded(), [("t1", mesos_pb2.TASK_RUNNING),
                                            ("t1", mesos_pb2.TASK_FINISHED)])
        self.assertEqual(self.slave.stats["valid_status_updates"], 2)
        forwarded = self.master.last(internal.StatusUpdateMessage).update
        self.assertEqual((forwarded.slave_id.value, forwarded.executor_id.value),
                         ("S1", "e1"))

    def test_update_not_lost_in_the_cut(self):
        """
        An update the slave never got (sent as the connection broke) is
        taken from the resubscription and forwarded, and moves its task out
        of staging, so the task is not sent again.
        """
        self.disconnect()
        new = self.resubscribe(updates=[_update("t1", mesos_pb2.TASK_RUNNING, b"u1")])
        self.assertEqual(self.forwarded(), [("t1", mesos_pb2.TASK_RUNNING)])
        self.assertEqual(self.kinds(new), ["ExecutorRegisteredMessage",
                                           "StatusUpdateAcknowledgementMessage t1"])
        self.assertEqual(self.record.tasks["t1"].state, mesos_pb2.TASK_RUNNING)

    def test_late_copy_of_acknowledged_terminal_update(self):
        """
        A copy of a terminal update the framework has acknowledged (its
        stream is gone, so its uuid is no longer known) is acknowledged to
        the executor and not forwarded again.
        """
        self.executor_update(self.old, "t1", mesos_pb2.TASK_FINISHED, b"u1")
        self.acknowledge("t1", b"u1")
        self.disconnect()
        new = self.resubscribe(updates=[_update("t1", mesos_pb2.TASK_FINISHED, b"u1")])
        self.assertEqual(self.forwarded(), [("t1", mesos_pb2.TASK_FINISHED)])
        self.assertEqual([m.uuid for m in new.of(internal.StatusUpdateAcknowledgementMessage)],
                         [b"u1"])

    def test_update_of_another_framework_refused(self):
        """
        An unacknowledged update naming another framework is refused and
        counted invalid, not acknowledged.
        """
        self.disconnect()
        new = self.resubscribe(tasks=["t1"],
                               updates=[_update("t1", mesos_pb2.TASK_RUNNING, b"u1", "F2")])
        self.assertEqual(self.kinds(new), ["ExecutorRegisteredMessage"])
        self.assertEqual((self.forwarded(), self.slave.stats["invalid_status_updates"]), ([], 1))

    def test_undelivered_staging_task_sent_again(self):
        """
        A task the slave sent that is still staging and that the executor
        does not list never reached it: it is sent again (Mesos would make
        it TASK_LOST), after ExecutorRegisteredMessage and before the
        queued tasks.
        """
        self.disconnect()
        self.run_task("t2", executor_id="e1")
        new = self.resubscribe()
        self.assertEqual(self.kinds(new), ["ExecutorRegisteredMessage", "RunTaskMessage t1",
                                           "RunTaskMessage t2"])
        self.assertEqual(new.of(internal.RunTaskMessage)[0].task, self.old.of(
            internal.RunTaskMessage)[0].task)
        self.assertEqual(self.forwarded(), [])

    def test_listed_or_started_tasks_not_sent_again(self):
        """
        Tasks the executor lists, and tasks it has reported on, are not sent
        again.
        """
        self.run_task("t2", executor_id="e1")
        self.executor_update(self.old, "t2", mesos_pb2.TASK_RUNNING, b"u2")
        self.disconnect()
        new = self.resubscribe(tasks=["t1"])
        self.assertEqual(self.kinds(new), ["ExecutorRegisteredMessage"])

    def test_order_of_messages(self):
        """
        ExecutorRegisteredMessage first, then the acknowledgements, the
        tasks sent again, the queued tasks and the kills that waited.
        """
        self.run_task("t2", executor_id="e1")
        self.executor_update(self.old, "t2", mesos_pb2.TASK_RUNNING, b"u2")
        self.disconnect()
        self.run_task("t3", executor_id="e1")
        self.kill("t2")
        new = self.resubscribe(updates=[_update("t2", mesos_pb2.TASK_RUNNING, b"u2")])
        self.assertEqual(self.kinds(new), [
            "ExecutorRegisteredMessage", "StatusUpdateAcknowledgementMessage t2",
            "RunTaskMessage t1", "RunTaskMessage t3", "KillTaskMessage t2"])

    def test_replaces_connected_subscription(self):
        """
        A new subscription of a connected executor replaces the old one:
        the old connection is dropped, what it sends is refused, tasks go to
        the new UPID, and no re-registration timeout runs.
        """
        new = self.resubscribe(tasks=["t1"])
        self.assertEqual(self.kinds(new), ["ExecutorRegisteredMessage"])
        self.assertIn(SLAVE, self.old.lost)
        self.assertEqual(self.record.pid, new.upid)
        self.executor_update(self.old, "t1", mesos_pb2.TASK_RUNNING, b"u1")
        self.assertEqual(self.slave.stats["invalid_status_updates"], 1)
        self.run_task("t2", executor_id="e1")
        self.assertEqual(self.kinds(new)[-1], "RunTaskMessage t2")
        self.assertEqual(self.old.of(internal.RunTaskMessage)[-1].task.task_id.value, "t1")
        self.clock.advance(60)
        self.turn()
        self.assertEqual(self.isolator.killed, [])
        self.assertTrue(self.record.connected)

    def test_second_subscription_replaces_first_again(self):
        """
        Replacing twice leaves the last subscription connected; losing an
        old one's connection later changes nothing.
        """
        second = self.resubscribe("executor-2", tasks=["t1"])
        third = self.resubscribe("executor-3", tasks=["t1"])
        self.assertIn(SLAVE, second.lost)
        second.node.disconnect(SLAVE)
        self.turn()
        self.assertEqual((self.record.pid, self.record.connected), (third.upid, True))


class RefusalTests(ResubscriptionTestCase):
    """
    Subscriptions the slave refuses with ShutdownExecutorMessage.
    """

    def refused(self, why, executor_id="e1", framework_id="F1"):
        """
        Assert that a re-registration is refused with a
        ShutdownExecutorMessage naming the executor, and logged with
        C{why}.
        """
        with capturedLogs() as events:
            executor = RecordingPeer(self.network, UPID("executor-new", "127.0.0.1", 0))
            executor.send(SLAVE, internal.ReregisterExecutorMessage(
                framework_id=mesos_pb2.FrameworkID(value=framework_id),
                executor_id=mesos_pb2.ExecutorID(value=executor_id),
                tasks=[resubscribed_task("t1")]))
            self.turn()
        self.assertEqual(self.kinds(executor), ["ShutdownExecutorMessage"])
        shutdown = executor.last(internal.ShutdownExecutorMessage)
        self.assertEqual((shutdown.executor_id.value, shutdown.framework_id.value),
                         (executor_id, framework_id))
        self.assertIn(why, [event.get("why") for event in events])

    def never_destroyed(self):
        """
        Make the isolator's kills never end, so that executors stay as they
        are once the slave decided to kill them.
        """
        self.isolator.destroy = lambda framework_id, executor_id: Deferred()

    def test_unknown_executor(self):
        """
        Re-registration of an executor the slave does not know is refused.
        """
        self.refused("it is unknown", executor_id="ghost")

    def test_unknown_framework(self):
        """
        Re-registration naming a framework the slave does not know is
        refused.
        """
        self.refused("its framework is unknown", framework_id="F9")

    def test_framework_shutting_down(self):
        """
        An executor whose framework is shutting down is not revived.
        """
        self.never_destroyed()
        self.disconnect()
        self.master.send(SLAVE, internal.ShutdownFrameworkMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1")))
        self.turn()
        self.refused("its framework is shutting down")

    def test_executor_shutting_down(self):
        """
        An executor the slave is killing (its re-registration timed out and
        its exit has not come yet) is not revived.
        """
        self.never_destroyed()
        self.disconnect()
        self.clock.advance(2)
        self.turn()
        self.assertEqual(self.record.state, TERMINATING)
        self.refused("it is shutting down")
        self.assertEqual((self.record.state, self.record.pid), (TERMINATING, None))

    def test_slave_stopping(self):
        """
        A slave that is stopping refuses subscriptions.
        """
        self.never_destroyed()
        self.disconnect()
        self.slave.stop()
        self.refused("the slave is shutting down")
