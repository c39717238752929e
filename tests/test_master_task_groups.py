"""
Tests for the master's task groups (the v1 LAUNCH_GROUP operation, carried
by C{LaunchTasksMessage.groups}) and for a framework's request to shut down
one of its executors (the v1 SHUTDOWN call).  Driven message by message over
an in-memory network on a fake clock.
"""

from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.resources import Resources
from mesos_tw.testing.master import MASTER, MasterTestCase, executor_info, task_info

DEFAULT = mesos_pb2.ExecutorInfo.DEFAULT
CUSTOM = mesos_pb2.ExecutorInfo.CUSTOM


def group_executor(kind=DEFAULT, executor_id="pod", resources="cpus:0.1;mem:32"):
    """
    A task group's C{ExecutorInfo}: the slave's DEFAULT executor, or a
    CUSTOM one with a command.
    """
    if kind == DEFAULT:
        info = mesos_pb2.ExecutorInfo(executor_id=mesos_pb2.ExecutorID(value=executor_id),
                                      resources=Resources.parse(resources).to_protobuf())
    else:
        info = executor_info(executor_id, resources=resources)
    info.type = kind
    return info


class TaskGroupTests(MasterTestCase):
    """
    Launching task groups: all of a group's tasks or none.
    """

    def setUp(self):
        MasterTestCase.setUp(self)
        self.slave, self.slave_id = self.add_slave()
        self.scheduler, self.framework_id = self.add_framework()
        self.offer = self.scheduler.last(internal.ResourceOffersMessage).offers[0]

    def launch_groups(self, *groups, tasks=()):
        """
        Launch C{groups} (C{(executor, [task, ...])} pairs) and C{tasks} on
        the offer.
        """
        message = internal.LaunchTasksMessage(
            framework_id=mesos_pb2.FrameworkID(value=self.framework_id),
            offer_ids=[self.offer.id], tasks=tasks, filters=mesos_pb2.Filters(refuse_seconds=5))
        for executor, group_tasks in groups:
            message.groups.add(executor=executor,
                               task_group=mesos_pb2.TaskGroupInfo(tasks=group_tasks))
        self.scheduler.send(MASTER, message)
        self.turn()

    def errors(self):
        """
        The scheduler's TASK_ERROR updates, as C{(task id, message)} pairs.
        """
        return [(m.update.status.task_id.value, m.update.status.message)
                for m in self.scheduler.of(internal.StatusUpdateMessage)
                if m.update.status.state == mesos_pb2.TASK_ERROR]

    def test_group_sent_whole(self):
        """
        A valid group reaches its slave as one RunTaskGroupMessage; each
        task carries the group's executor (with the framework's id); every
        task is staging in the master, and its resources and the new
        executor's are used.
        """
        self.launch_groups((group_executor(), [
            task_info("a", self.slave_id, resources="cpus:0.5;mem:128"),
            task_info("b", self.slave_id, resources="cpus:0.5;mem:128")]))
        run = self.slave.last(internal.RunTaskGroupMessage)
        self.assertEqual([t.task_id.value for t in run.task_group.tasks], ["a", "b"])
        self.assertEqual(run.executor.executor_id.value, "pod")
        self.assertEqual(run.executor.framework_id.value, self.framework_id)
        self.assertEqual({t.executor.executor_id.value for t in run.task_group.tasks}, {"pod"})
        self.assertEqual(run.pid, str(self.scheduler.upid))
        self.assertEqual([self.master.task_state_name(self.framework_id, t) for t in "ab"],
                         ["TASK_STAGING", "TASK_STAGING"])
        self.assertEqual(self.slave.of(internal.RunTaskMessage), [])
        self.clock.advance(5)
        self.turn()
        reoffered = self.scheduler.of(internal.ResourceOffersMessage)[-1].offers[0]
        self.assertEqual(Resources.from_protobuf(reoffered.resources),
                         Resources.parse("cpus:0.9;mem:736"))

    def test_invalid_task_refuses_the_group(self):
        """
        One invalid task (a duplicate id within the group) refuses the whole
        group: every task gets TASK_ERROR with the reason, none is sent, and
        the offer's resources come back.
        """
        self.launch_groups((group_executor(), [task_info("a", self.slave_id),
                                               task_info("a", self.slave_id)]))
        errors = self.errors()
        self.assertEqual([task_id for task_id, _ in errors], ["a", "a"])
        self.assertIn("duplicate task id", errors[0][1])
        self.assertEqual(self.slave.of(internal.RunTaskGroupMessage), [])
        self.assertEqual(self.master.frameworks[self.framework_id].tasks, {})
        self.clock.advance(5)
        self.turn()
        reoffered = self.scheduler.of(internal.ResourceOffersMessage)[-1].offers[0]
        self.assertEqual(Resources.from_protobuf(reoffered.resources),
                         Resources.parse("cpus:2;mem:1024"))

    def test_group_larger_than_offer(self):
        """
        A group whose tasks fit one by one but not together is refused.
        """
        self.launch_groups((group_executor(), [
            task_info("a", self.slave_id, resources="cpus:1;mem:128"),
            task_info("b", self.slave_id, resources="cpus:1;mem:128")]))
        errors = self.errors()
        self.assertEqual([task_id for task_id, _ in errors], ["a", "b"])
        self.assertIn("more resources", errors[0][1])

    def test_executor_rules(self):
        """
        A group's executor needs an explicit type; a DEFAULT one has no
        command and its tasks have commands; a CUSTOM one has a command; a
        task naming another executor is refused.
        """
        untyped = group_executor(CUSTOM)
        untyped.ClearField("type")
        with_command = group_executor()
        with_command.command.value = "./mine"
        without_command = group_executor(CUSTOM)
        without_command.ClearField("command")
        other = task_info("t5", self.slave_id, command=None,
                          executor=group_executor(CUSTOM, executor_id="other"))
        self.launch_groups(
            (untyped, [task_info("t1", self.slave_id)]),
            (with_command, [task_info("t2", self.slave_id)]),
            (group_executor(), [task_info("t3", self.slave_id, command=None)]),
            (without_command, [task_info("t4", self.slave_id)]),
            (group_executor(CUSTOM), [other]),
        )
        errors = dict(self.errors())
        self.assertIn("type must be DEFAULT or CUSTOM", errors["t1"])
        self.assertIn("must not have a command", errors["t2"])
        self.assertIn("no command for the DEFAULT executor", errors["t3"])
        self.assertIn("has no command", errors["t4"])
        self.assertIn("names an executor other than its group's", errors["t5"])
        self.assertEqual(self.slave.of(internal.RunTaskGroupMessage), [])

    def test_custom_executor_task_without_command(self):
        """
        Tasks of a CUSTOM executor's group need no command: the executor
        decides what they do.
        """
        self.launch_groups((group_executor(CUSTOM), [
            task_info("a", self.slave_id, command=None)]))
        self.assertEqual(self.errors(), [])
        run = self.slave.last(internal.RunTaskGroupMessage)
        self.assertEqual(run.executor.command.value, "./executor")

    def test_tasks_and_groups_together(self):
        """
        One launch may hold single tasks and groups: each goes its way.
        """
        self.launch_groups(
            (group_executor(), [task_info("g1", self.slave_id, resources="cpus:0.5;mem:128")]),
            tasks=[task_info("single", self.slave_id)])
        self.assertEqual(self.slave.last(internal.RunTaskMessage).task.task_id.value, "single")
        self.assertEqual(
            [t.task_id.value for t in self.slave.last(internal.RunTaskGroupMessage).task_group.tasks],
            ["g1"])

    def test_second_group_on_a_running_executor(self):
        """
        A later group may use the executor an earlier one started, if it
        describes it the same way; a different description is refused.
        """
        self.launch_groups((group_executor(), [task_info("a", self.slave_id,
                                                         resources="cpus:0.5;mem:64")]))
        self.clock.advance(5)
        self.turn()
        self.offer = self.scheduler.of(internal.ResourceOffersMessage)[-1].offers[0]
        changed = group_executor(resources="cpus:0.2;mem:32")
        self.launch_groups((group_executor(), [task_info("b", self.slave_id,
                                                         resources="cpus:0.5;mem:64")]),
                           (changed, [task_info("c", self.slave_id, resources="cpus:0.1;mem:8")]))
        groups = self.slave.of(internal.RunTaskGroupMessage)
        self.assertEqual([g.task_group.tasks[0].task_id.value for g in groups], ["a", "b"])
        self.assertIn("differs", dict(self.errors())["c"])

    def test_default_executor_refused_for_a_single_task(self):
        """
        The DEFAULT executor runs groups only: a single task naming it is an
        error.
        """
        self.launch_groups(tasks=[task_info("t1", self.slave_id, command=None,
                                            executor=group_executor())])
        self.assertIn("task groups only", dict(self.errors())["t1"])

    def test_invalid_offer_loses_group_tasks(self):
        """
        A launch on an offer that is no longer valid reports the group's
        tasks lost, like single tasks.
        """
        self.offer.id.value = "no-such-offer"
        self.launch_groups((group_executor(), [task_info("a", self.slave_id)]))
        updates = [(m.update.status.task_id.value, m.update.status.state)
                   for m in self.scheduler.of(internal.StatusUpdateMessage)]
        self.assertEqual(updates, [("a", mesos_pb2.TASK_LOST)])


class ShutdownExecutorTests(MasterTestCase):
    """
    A framework asking for one of its executors to be shut down.
    """

    def setUp(self):
        MasterTestCase.setUp(self)
        self.slave, self.slave_id = self.add_slave()
        self.scheduler, self.framework_id = self.add_framework()
        offer = self.scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.launch(self.scheduler, self.framework_id, offer, [
            task_info("t1", self.slave_id, command=None, executor=executor_info("e1"))])

    def shutdown(self, executor_id, slave_id=None, sender=None):
        """
        Send the master a ShutdownExecutorMessage for C{executor_id}.
        """
        (sender or self.scheduler).send(MASTER, internal.ShutdownExecutorMessage(
            executor_id=mesos_pb2.ExecutorID(value=executor_id),
            framework_id=mesos_pb2.FrameworkID(value=self.framework_id),
            slave_id=mesos_pb2.SlaveID(value=slave_id or self.slave_id)))
        self.turn()

    def test_forwarded_to_the_slave(self):
        """
        The slave is told which executor of which framework to shut down.
        """
        self.shutdown("e1")
        message = self.slave.last(internal.ShutdownExecutorMessage)
        self.assertEqual((message.executor_id.value, message.framework_id.value),
                         ("e1", self.framework_id))

    def test_unknown_executor_or_slave_not_forwarded(self):
        """
        An executor or slave the master does not know there is not asked
        about.
        """
        self.shutdown("nope")
        self.shutdown("e1", slave_id="no-such-slave")
        self.assertEqual(self.slave.of(internal.ShutdownExecutorMessage), [])

    def test_only_from_the_framework(self):
        """
        Another framework's scheduler cannot shut the executor down.
        """
        other, _ = self.add_framework("scheduler-2")
        self.shutdown("e1", sender=other)
        self.assertEqual(self.slave.of(internal.ShutdownExecutorMessage), [])
