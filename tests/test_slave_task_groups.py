"""
Tests for the slave's task groups (RunTaskGroupMessage from the master)
and for the master passing on a framework's request to shut down one
executor, on an in-memory network, a fake clock and a fake isolator.
"""

from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.resources import Resources
from mesos_tw.testing.slave import (
    SCHEDULER,
    SLAVE,
    ResubscriptionTestCase,
    SlaveTestCase,
)

DEFAULT = mesos_pb2.ExecutorInfo.DEFAULT


def run_group(test, task_ids, executor_id, kind=DEFAULT):
    """
    C{test}'s master sends its slave a task group of C{task_ids} for
    executor C{executor_id} (the DEFAULT executor unless C{kind} says
    otherwise).
    """
    executor = mesos_pb2.ExecutorInfo(
        executor_id=mesos_pb2.ExecutorID(value=executor_id), type=kind,
        framework_id=mesos_pb2.FrameworkID(value="F1"),
        resources=Resources.parse("cpus:0.1;mem:32").to_protobuf())
    if kind != DEFAULT:
        executor.command.value = "./my-executor"
    group = mesos_pb2.TaskGroupInfo()
    for task_id in task_ids:
        task = group.tasks.add(
            name=task_id, task_id=mesos_pb2.TaskID(value=task_id),
            slave_id=mesos_pb2.SlaveID(value="S1"),
            resources=Resources.parse("cpus:0.5;mem:64").to_protobuf())
        task.command.value = f"echo {task_id}"
        task.executor.CopyFrom(executor)
    test.master.send(SLAVE, internal.RunTaskGroupMessage(
        framework=mesos_pb2.FrameworkInfo(user="alice", name="fw",
                                          id=mesos_pb2.FrameworkID(value="F1")),
        executor=executor, task_group=group, pid=SCHEDULER))
    test.turn()


class TaskGroupTests(SlaveTestCase):
    """
    Task groups: queued whole, sent whole, killed whole.
    """

    def setUp(self):
        SlaveTestCase.setUp(self)
        self.register()

    def run_group(self, *task_ids, executor_id="pod", kind=DEFAULT):
        """
        The master sends a task group of C{task_ids} for executor
        C{executor_id} (the DEFAULT executor unless C{kind} says otherwise).
        """
        run_group(self, task_ids, executor_id, kind)

    def test_default_executor_launched_with_the_built_in_command(self):
        """
        A DEFAULT executor is launched as the slave's built-in task group
        executor, with the group's resources; the slave keeps the
        ExecutorInfo as the framework gave it (no command), so that later
        groups compare equal.
        """
        self.run_group("a", "b")
        container = self.isolator.containers[("F1", "pod")]
        self.assertIn("-m mesos_tw.executors.default", container.executor_info.command.value)
        self.assertEqual(container.resources, Resources.parse("cpus:1.1;mem:160"))
        executor = self.slave.frameworks["F1"].executors["pod"]
        self.assertFalse(executor.info.HasField("command"))

    def test_group_queued_then_sent_whole(self):
        """
        Until the executor registers the group waits; then it goes in one
        RunTaskGroupMessage, its tasks staging.
        """
        self.run_group("a", "b")
        executor = self.executor_registers("pod")
        run = executor.last(internal.RunTaskGroupMessage)
        self.assertEqual([t.task_id.value for t in run.task_group.tasks], ["a", "b"])
        self.assertEqual(run.pid, SCHEDULER)
        self.assertEqual(executor.of(internal.RunTaskMessage), [])
        tasks = self.slave.frameworks["F1"].executors["pod"].tasks
        self.assertEqual({t: r.state for t, r in tasks.items()},
                         {"a": mesos_pb2.TASK_STAGING, "b": mesos_pb2.TASK_STAGING})

    def test_group_to_a_running_executor(self):
        """
        A group for an executor that already runs goes to it at once.
        """
        self.run_group("a")
        executor = self.executor_registers("pod")
        self.run_group("b", "c")
        groups = executor.of(internal.RunTaskGroupMessage)
        self.assertEqual([[t.task_id.value for t in g.task_group.tasks] for g in groups],
                         [["a"], ["b", "c"]])

    def test_groups_and_tasks_queued_in_order(self):
        """
        Groups and single tasks waiting for one (custom) executor are all
        handed over when it registers, the groups whole.
        """
        self.run_group("a", "b", executor_id="e1", kind=mesos_pb2.ExecutorInfo.CUSTOM)
        self.run_task("single", executor_id="e1")
        executor = self.executor_registers("e1")
        self.assertEqual([t.task_id.value for t in
                          executor.last(internal.RunTaskGroupMessage).task_group.tasks],
                         ["a", "b"])
        self.assertEqual(executor.last(internal.RunTaskMessage).task.task_id.value, "single")

    def test_killing_a_queued_task_kills_its_group(self):
        """
        A kill of one queued task of a group kills the whole group before
        it is launched (a group runs whole or not at all); other groups stay.
        """
        self.run_group("a", "b")
        self.run_group("c")
        self.master.send(SLAVE, internal.KillTaskMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1"), task_id=mesos_pb2.TaskID(value="b")))
        self.turn()
        self.assertEqual(sorted(self.forwarded()), [("a", mesos_pb2.TASK_KILLED),
                                                    ("b", mesos_pb2.TASK_KILLED)])
        self.assertIn("task b of its task group was killed",
                      self.master.last(internal.StatusUpdateMessage).update.status.message)
        executor = self.executor_registers("pod")
        self.assertEqual([t.task_id.value for t in
                          executor.last(internal.RunTaskGroupMessage).task_group.tasks], ["c"])

    def test_executor_exit_ends_group_tasks(self):
        """
        A group's tasks end with their executor, like single tasks.
        """
        self.run_group("a", "b")
        executor = self.executor_registers("pod")
        self.executor_exits(executor, "pod", 256)
        self.turn()
        self.assertEqual(sorted(self.forwarded()), [("a", mesos_pb2.TASK_LOST),
                                                    ("b", mesos_pb2.TASK_LOST)])

    def test_group_from_stranger_ignored(self):
        """
        Only the registered master launches groups.
        """
        stranger = self.executor_registers("nobody", name="stranger")
        stranger.send(SLAVE, internal.RunTaskGroupMessage(
            framework=mesos_pb2.FrameworkInfo(user="u", name="n",
                                              id=mesos_pb2.FrameworkID(value="F1")),
            executor=mesos_pb2.ExecutorInfo(executor_id=mesos_pb2.ExecutorID(value="x"),
                                            type=DEFAULT),
            task_group=mesos_pb2.TaskGroupInfo()))
        self.turn()
        self.assertNotIn("F1", self.slave.frameworks)


class ShutdownExecutorTests(SlaveTestCase):
    """
    The master passing on a framework's request to shut down an executor.
    """

    def setUp(self):
        SlaveTestCase.setUp(self)
        self.register()
        self.run_task("t1", executor_id="e1")
        self.executor = self.executor_registers("e1")

    def shutdown(self, sender, executor_id="e1"):
        """
        C{sender} asks the slave to shut down C{executor_id}.
        """
        sender.send(SLAVE, internal.ShutdownExecutorMessage(
            executor_id=mesos_pb2.ExecutorID(value=executor_id),
            framework_id=mesos_pb2.FrameworkID(value="F1")))
        self.turn()

    def test_shutdown_then_kill_after_grace_period(self):
        """
        The executor is asked to shut down and killed after the grace
        period; its unfinished task ends killed, saying why.
        """
        self.shutdown(self.master)
        self.assertEqual(len(self.executor.of(internal.ShutdownExecutorMessage)), 1)
        self.clock.advance(5)
        self.assertEqual(self.isolator.killed, [("F1", "e1")])
        self.network.crash(self.executor.upid)
        self.turn()
        self.assertEqual(self.forwarded(), [("t1", mesos_pb2.TASK_KILLED)])
        self.assertIn("framework's request",
                      self.master.last(internal.StatusUpdateMessage).update.status.message)

    def test_only_from_the_master(self):
        """
        Nobody but the master can shut an executor down; an unknown executor
        is ignored.
        """
        self.shutdown(self.executor)
        self.shutdown(self.master, executor_id="unknown")
        self.assertEqual(self.executor.of(internal.ShutdownExecutorMessage), [])
        self.clock.advance(5)
        self.assertEqual(self.isolator.killed, [])


class ResubscribedGroupTests(ResubscriptionTestCase):
    """
    Task groups for an executor whose connection broke.
    """

    def groups(self, executor):
        """
        The task ids of each RunTaskGroupMessage C{executor} received.
        """
        return [[t.task_id.value for t in m.task_group.tasks]
                for m in executor.of(internal.RunTaskGroupMessage)]

    def test_group_waits_for_resubscription(self):
        """
        A group for a disconnected executor waits, and goes whole when it
        subscribes again.
        """
        self.disconnect()
        run_group(self, ["a", "b"], "e1", mesos_pb2.ExecutorInfo.CUSTOM)
        self.assertEqual(self.groups(self.old), [])
        new = self.resubscribe(tasks=["t1"])
        self.assertEqual(self.groups(new), [["a", "b"]])

    def test_undelivered_group_sent_again_whole(self):
        """
        A group the executor never saw (it lists none of its tasks) is sent
        again as a group, not task by task.
        """
        run_group(self, ["a", "b"], "e1", mesos_pb2.ExecutorInfo.CUSTOM)
        self.assertEqual(self.groups(self.old), [["a", "b"]])
        self.disconnect()
        new = self.resubscribe(tasks=["t1"])
        self.assertEqual(self.groups(new), [["a", "b"]])
        self.assertEqual(new.of(internal.RunTaskMessage), [])

    def test_undelivered_group_killed_whole(self):
        """
        A kill of one task of an undelivered group, made while the executor
        was away, kills the whole group when it subscribes again.
        """
        run_group(self, ["a", "b"], "e1", mesos_pb2.ExecutorInfo.CUSTOM)
        self.disconnect()
        self.kill("a")
        new = self.resubscribe(tasks=["t1"])
        self.assertEqual(self.groups(new), [])
        self.assertEqual(sorted(self.forwarded()), [("a", mesos_pb2.TASK_KILLED),
                                                    ("b", mesos_pb2.TASK_KILLED)])
