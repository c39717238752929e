"""
The slave's record of an executor run: the resources it holds, kept up to
date as tasks come and go rather than added up again each time.
"""

from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.protocols import mesos_pb2
from mesos_tw.resources import Resources
from mesos_tw.slave.state import ExecutorRecord


def _task(task_id, text):
    """
    A C{TaskInfo} of C{text}'s resources.
    """
    return mesos_pb2.TaskInfo(name=task_id, task_id=mesos_pb2.TaskID(value=task_id),
                              slave_id=mesos_pb2.SlaveID(value="S1"),
                              resources=Resources.parse(text).to_protobuf())


class ExecutorResourcesTests(SynchronousTestCase):
    """
    L{ExecutorRecord.resources}: the executor's own resources plus those of
    its tasks, queued or sent.
    """

    def setUp(self):
        info = mesos_pb2.ExecutorInfo(executor_id=mesos_pb2.ExecutorID(value="e1"),
                                      resources=Resources.parse("cpus:0.1;mem:32").to_protobuf())
        self.executor = ExecutorRecord(info, "F1", "run-1", "/sandbox", False)

    def added_up(self):
        """
        The same total, added up from scratch.
        """
        tasks = [*self.executor.tasks.values(), *self.executor.queued_tasks.values()]
        return Resources.sum([Resources.from_protobuf(self.executor.info.resources),
                              *(Resources.from_protobuf(t.resources) for t in tasks)])

    def test_tasks_queued_sent_and_ended(self):
        """
        Each change of the tasks held (queued, sent, ended, several at
        once) shows in the next call, with ranges as well as scalars, and
        equals the total added up from scratch.
        """
        executor = self.executor
        self.assertEqual(executor.resources(), Resources.parse("cpus:0.1;mem:32"))
        executor.queue([_task("t1", "cpus:1;mem:128;ports:[31000-31001]"),
                        _task("t2", "cpus:0.5;mem:64")], grouped=False)
        self.assertEqual(executor.resources(),
                         Resources.parse("cpus:1.6;mem:224;ports:[31000-31001]"))
        _, sent = executor.take_queued()
        for task in sent:
            executor.tasks[task.task_id.value] = task
        executor.queue([_task("t3", "cpus:2;ports:[31005-31005]")], grouped=False)
        self.assertEqual(executor.resources(), self.added_up())
        del executor.tasks["t1"]
        self.assertEqual(executor.resources(),
                         Resources.parse("cpus:2.6;mem:96;ports:[31005-31005]"))
        self.assertEqual(executor.resources(), self.added_up())
        executor.tasks.clear()
        executor.queued_tasks.clear()
        self.assertEqual(executor.resources(), Resources.parse("cpus:0.1;mem:32"))

    def test_many_tasks(self):
        """
        Thousands of small tasks coming and going leave no rounding
        residue once they are gone, and each total matches the sum.
        """
        executor = self.executor
        for index in range(2000):
            executor.tasks[str(index)] = _task(str(index), "cpus:0.01;mem:1")
            if index % 3 == 0:
                del executor.tasks[str(index // 2)]
            if index % 250 == 0:
                self.assertEqual(executor.resources(), self.added_up())
        self.assertEqual(executor.resources(), self.added_up())
        executor.tasks.clear()
        self.assertEqual(executor.resources(), Resources.parse("cpus:0.1;mem:32"))

    def test_every_way_of_changing_the_tasks(self):
        """
        Whichever dict operation adds or removes a task (item assignment,
        C{update}, C{|=}, C{setdefault}, C{del}, C{pop}, C{popitem},
        C{clear}),
        the total follows it; replacing a held task by the same id does
        not count it twice.
        """
        executor = self.executor
        tasks = executor.tasks
        tasks.update({"a": _task("a", "cpus:1"), "b": _task("b", "mem:10")})
        tasks.setdefault("c", _task("c", "cpus:2"))
        tasks.setdefault("c", _task("c", "cpus:2"))
        tasks["a"] = _task("a", "cpus:1")
        self.assertEqual(executor.resources(), Resources.parse("cpus:3.1;mem:42"))
        del tasks["a"]
        self.assertEqual(tasks.pop("b").task_id.value, "b")
        self.assertIsNone(tasks.pop("b", None))
        self.assertEqual(executor.resources(), self.added_up())
        tasks.popitem()
        self.assertEqual(executor.resources(), Resources.parse("cpus:0.1;mem:32"))
        tasks |= {"d": _task("d", "cpus:1")}
        self.assertEqual(executor.resources(), Resources.parse("cpus:1.1;mem:32"))
