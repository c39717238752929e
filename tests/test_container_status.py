"""
Tests that every status update the slave forwards carries Mesos's
C{container_status}: the executor run's id as its container id and, unless
the executor gave its own, the slave's address as the container's network.
"""

from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.testing.slave import SlaveTestCase


class ContainerStatusTests(SlaveTestCase):
    """
    A registered slave running one command task.
    """

    def setUp(self):
        super().setUp()
        self.register()
        self.run_task("t1")
        self.executor = self.executor_registers("t1")
        self.run_id = self.slave.frameworks["F1"].executors["t1"].run_id

    def last_forwarded(self):
        """
        The status of the last update the master received.
        """
        return self.master.last(internal.StatusUpdateMessage).update.status

    def test_executor_update(self):
        """
        An executor's update gets the run's container id and the slave's
        address.
        """
        self.executor_update(self.executor, "t1", mesos_pb2.TASK_RUNNING, b"u1")
        container = self.last_forwarded().container_status
        self.assertEqual(container.container_id.value, self.run_id)
        self.assertEqual([address.ip_address for network in container.network_infos
                          for address in network.ip_addresses], ["127.0.0.1"])

    def test_executor_network_kept(self):
        """
        An executor that reports its own network keeps it; the container id
        is still the run's.
        """
        status = mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value="t1"),
                                      state=mesos_pb2.TASK_RUNNING)
        status.container_status.container_id.value = "made-up"
        status.container_status.network_infos.add(name="overlay").ip_addresses.add(
            ip_address="198.18.0.7")
        self.executor.send(self.slave.pid, internal.StatusUpdateMessage(
            update=internal.StatusUpdate(
                framework_id=mesos_pb2.FrameworkID(value="F1"),
                executor_id=mesos_pb2.ExecutorID(value="t1"), timestamp=1.0, uuid=b"u1",
                status=status)))
        self.turn()
        container = self.last_forwarded().container_status
        self.assertEqual(container.container_id.value, self.run_id)
        self.assertEqual([(n.name, [a.ip_address for a in n.ip_addresses])
                          for n in container.network_infos], [("overlay", ["198.18.0.7"])])

    def test_slave_made_update(self):
        """
        An update the slave makes itself (the executor exited with its task
        unfinished) carries it too.
        """
        self.executor_exits(self.executor, "t1", status=1 << 8)
        self.turn()
        status = self.last_forwarded()
        self.assertEqual(status.source, mesos_pb2.TaskStatus.SOURCE_SLAVE)
        self.assertEqual(status.container_status.container_id.value, self.run_id)
