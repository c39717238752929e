"""
A master on an in-memory network and a fake clock, and the protobufs its
unit tests send it: L{MasterTestCase} registers recording slaves and
frameworks and launches tasks message by message.
"""

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.master.master import Master
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.testing.network import MemoryNetwork
from mesos_tw.testing.peers import RecordingPeer

__all__ = ["MASTER", "MasterTestCase", "executor_info", "slave_info", "task_info"]

MASTER = UPID("master", "127.0.0.1", 5050)


def slave_info(resources="cpus:2;mem:1024", hostname="host1"):
    """
    A C{SlaveInfo} offering C{resources}.
    """
    return mesos_pb2.SlaveInfo(
        hostname=hostname, resources=Resources.parse(resources).to_protobuf())


def task_info(task_id, slave_id, resources="cpus:1;mem:128", command="true", executor=None):
    """
    A C{TaskInfo} running C{command} (or on C{executor}).
    """
    task = mesos_pb2.TaskInfo(
        name=f"task {task_id}", task_id=mesos_pb2.TaskID(value=task_id),
        slave_id=mesos_pb2.SlaveID(value=slave_id),
        resources=Resources.parse(resources).to_protobuf())
    if executor is not None:
        task.executor.CopyFrom(executor)
    elif command is not None:
        task.command.value = command
    return task


def executor_info(executor_id="default", command="./executor", resources=""):
    """
    An C{ExecutorInfo}.
    """
    return mesos_pb2.ExecutorInfo(
        executor_id=mesos_pb2.ExecutorID(value=executor_id),
        command=mesos_pb2.CommandInfo(value=command),
        resources=Resources.parse(resources).to_protobuf())


class MasterTestCase(SynchronousTestCase):
    """
    A master with helpers to add slaves and frameworks.
    """

    def setUp(self):
        self.clock = Clock()
        self.network = MemoryNetwork(self.clock)
        self.master = Master(self.clock, self.network.node(MASTER))
        self.master.start()
        self.addCleanup(self.master.stop)

    def turn(self):
        """
        Deliver everything in flight.
        """
        for _ in range(5):
            self.clock.advance(0)

    def add_slave(self, name="slave(1)", port=5051, resources="cpus:2;mem:1024"):
        """
        Register a recording slave; return it and its id.
        """
        slave = RecordingPeer(self.network, UPID(name, "127.0.0.1", port))
        slave.send(MASTER, internal.RegisterSlaveMessage(slave=slave_info(resources)))
        self.turn()
        return slave, slave.last(internal.SlaveRegisteredMessage).slave_id.value

    def add_framework(self, name="scheduler-1", failover_timeout=0.0):
        """
        Register a recording scheduler; return it and its framework id.
        """
        scheduler = RecordingPeer(self.network, UPID(name, "127.0.0.1", 0))
        scheduler.send(MASTER, internal.RegisterFrameworkMessage(framework=mesos_pb2.FrameworkInfo(
            user="alice", name=name, failover_timeout=failover_timeout)))
        self.turn()
        return scheduler, scheduler.last(internal.FrameworkRegisteredMessage).framework_id.value

    def launch(self, scheduler, framework_id, offer, tasks, refuse_seconds=5.0):
        """
        Launch C{tasks} on C{offer} from C{scheduler}.
        """
        scheduler.send(MASTER, internal.LaunchTasksMessage(
            framework_id=mesos_pb2.FrameworkID(value=framework_id), offer_id=offer.id,
            tasks=tasks, filters=mesos_pb2.Filters(refuse_seconds=refuse_seconds)))
        self.turn()

    def report(self, slave, slave_id, framework_id, task_id, state):
        """
        C{slave} reports task C{task_id} of C{framework_id} in C{state}.
        """
        slave.send(MASTER, internal.StatusUpdateMessage(update=internal.StatusUpdate(
            framework_id=mesos_pb2.FrameworkID(value=framework_id),
            slave_id=mesos_pb2.SlaveID(value=slave_id),
            status=mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value=task_id), state=state,
                                        slave_id=mesos_pb2.SlaveID(value=slave_id)),
            timestamp=self.clock.seconds(), uuid=b"u" * 16)))
        self.turn()

    def running_task(self, task_id="t1", state=mesos_pb2.TASK_RUNNING):
        """
        A slave, a framework, and a task of it launched on the slave and
        reported in C{state} (unless L{None}); returns C{(slave, slave_id,
        scheduler, framework_id)}.
        """
        slave, slave_id = self.add_slave()
        scheduler, framework_id = self.add_framework()
        offer = scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.launch(scheduler, framework_id, offer, [task_info(task_id, slave_id)])
        if state is not None:
            self.report(slave, slave_id, framework_id, task_id, state)
        return slave, slave_id, scheduler, framework_id

    def updates(self, peer):
        """
        The statuses of the updates a peer received, as (task, state) pairs.
        """
        return [(m.update.status.task_id.value, m.update.status.state)
                for m in peer.of(internal.StatusUpdateMessage)]
