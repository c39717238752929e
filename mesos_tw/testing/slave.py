"""
A slave on an in-memory network, a fake clock and a fake isolator, with a
recording master and executors: L{SlaveTestCase} runs tasks on it, and
L{ResubscriptionTestCase} adds executors that disconnect and resubscribe.
"""

from twisted.internet.defer import fail as defer_fail
from twisted.internet.defer import succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.detector import StandaloneDetector
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.slave.fetcher import Fetcher, FetchError
from mesos_tw.slave.slave import Slave
from mesos_tw.testing.isolation import FakeIsolator
from mesos_tw.testing.master import MASTER
from mesos_tw.testing.network import MemoryNetwork
from mesos_tw.testing.peers import RecordingPeer

__all__ = ["SCHEDULER", "SLAVE", "RecordingFetcher", "ResubscriptionTestCase", "SlaveTestCase", "resubscribed_task"]

SLAVE = UPID("slave(1)", "127.0.0.1", 5051)


SCHEDULER = "scheduler-1@127.0.0.1:0"


class RecordingFetcher(Fetcher):
    """
    A L{Fetcher} that records what it is asked to fetch, and fetches
    nothing (or fails, saying C{fail}).
    """

    def __init__(self, reactor, fail=None):
        Fetcher.__init__(self, reactor)
        self.fail = fail
        self.fetched = []

    def fetch(self, command, directory):
        """
        Record the URIs and the sandbox.
        """
        self.fetched.append((list(command.uris), directory))
        if self.fail is not None:
            return defer_fail(FetchError(self.fail))
        return succeed(None)


class SlaveTestCase(SynchronousTestCase):
    """
    A slave, a recording master, and helpers to run tasks.
    """

    def setUp(self):
        self.clock = Clock()
        self.network = MemoryNetwork(self.clock)
        self.master = RecordingPeer(self.network, MASTER)
        self.isolator = FakeIsolator()
        self.work_dir = self.mktemp()
        counter = iter(range(1, 10 ** 6))
        self.slave = Slave(
            self.clock, self.network.node(SLAVE), StandaloneDetector(MASTER), self.isolator,
            self.work_dir, Resources.parse("cpus:2;mem:1024"), attributes={"rack": "r1"},
            python="python3", environ={"PATH": "/bin"},
            new_uuid=lambda: next(counter).to_bytes(16, "big"), jitter=lambda: 1.0,
        )
        self.slave.start()
        self.addCleanup(self.slave.stop)

    def turn(self):
        """
        Deliver everything in flight.
        """
        for _ in range(5):
            self.clock.advance(0)

    def register(self, slave_id="S1"):
        """
        Answer the slave's registration.
        """
        self.turn()
        self.master.send(SLAVE, internal.SlaveRegisteredMessage(
            slave_id=mesos_pb2.SlaveID(value=slave_id)))
        self.turn()

    def run_task(self, task_id="t1", executor_id=None):
        """
        The master sends a task (a command task unless C{executor_id}).
        """
        task = mesos_pb2.TaskInfo(
            name=task_id, task_id=mesos_pb2.TaskID(value=task_id),
            slave_id=mesos_pb2.SlaveID(value="S1"),
            resources=Resources.parse("cpus:1;mem:128").to_protobuf())
        if executor_id is None:
            task.command.value = "echo hi"
        else:
            task.executor.executor_id.value = executor_id
            task.executor.command.value = "./my-executor"
        self.master.send(SLAVE, internal.RunTaskMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1"),
            framework=mesos_pb2.FrameworkInfo(user="alice", name="fw"), pid=SCHEDULER, task=task))
        self.turn()

    def executor_registers(self, executor_id, name="executor-1"):
        """
        An executor connects and registers; return it.
        """
        executor = RecordingPeer(self.network, UPID(name, "127.0.0.1", 0))
        executor.send(SLAVE, internal.RegisterExecutorMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1"),
            executor_id=mesos_pb2.ExecutorID(value=executor_id)))
        self.turn()
        return executor

    def executor_exits(self, executor, executor_id, status=0):
        """
        A registered executor's process exits: its connection closes, and
        the isolator reports the exit.
        """
        self.network.crash(executor.upid)
        self.isolator.exit("F1", executor_id, status)

    def executor_update(self, executor, task_id, state, uuid):
        """
        The executor sends a status update.
        """
        executor.send(SLAVE, internal.StatusUpdateMessage(update=internal.StatusUpdate(
            framework_id=mesos_pb2.FrameworkID(value="F1"),
            executor_id=mesos_pb2.ExecutorID(value=task_id), timestamp=1.0, uuid=uuid,
            status=mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value=task_id), state=state))))
        self.turn()

    def forwarded(self):
        """
        (task, state) of the updates the master received.
        """
        return [(m.update.status.task_id.value, m.update.status.state)
                for m in self.master.of(internal.StatusUpdateMessage)]

    def acknowledge(self, task_id, uuid):
        """
        The scheduler acknowledges an update, straight to the slave.
        """
        scheduler = self.network.nodes.get(UPID.parse(SCHEDULER)) or RecordingPeer(
            self.network, UPID.parse(SCHEDULER)).node
        scheduler.send(SLAVE, internal.StatusUpdateAcknowledgementMessage(
            slave_id=mesos_pb2.SlaveID(value="S1"), framework_id=mesos_pb2.FrameworkID(value="F1"),
            task_id=mesos_pb2.TaskID(value=task_id), uuid=uuid))
        self.turn()


class ResubscriptionTestCase(SlaveTestCase):
    """
    A registered slave whose custom executor C{e1} has registered and been
    sent task C{t1}.
    """

    def setUp(self):
        super().setUp()
        self.register()
        self.run_task("t1", executor_id="e1")
        self.old = self.executor_registers("e1", "executor-old")

    @property
    def record(self):
        """
        The slave's record of C{e1}.
        """
        return self.slave.frameworks["F1"].executors["e1"]

    def disconnect(self, executor=None):
        """
        The executor's connection breaks.
        """
        (executor or self.old).node.disconnect(SLAVE)
        self.turn()

    def resubscribe(self, name="executor-new", tasks=(), updates=(), executor_id="e1"):
        """
        The executor subscribes again from a new UPID with what it has not
        seen acknowledged; return the new peer.
        """
        executor = RecordingPeer(self.network, UPID(name, "127.0.0.1", 0))
        executor.send(SLAVE, internal.ReregisterExecutorMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1"),
            executor_id=mesos_pb2.ExecutorID(value=executor_id),
            tasks=[resubscribed_task(t) for t in tasks], updates=list(updates)))
        self.turn()
        return executor

    def kill(self, task_id):
        """
        The master asks for a kill.
        """
        self.master.send(SLAVE, internal.KillTaskMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1"),
            task_id=mesos_pb2.TaskID(value=task_id)))
        self.turn()

    def kinds(self, executor):
        """
        What an executor received, by message name (and task, for tasks,
        kills and acknowledgements).
        """
        described = []
        for _, message in executor.received:
            name = type(message).__name__
            if isinstance(message, internal.RunTaskMessage):
                name += " " + message.task.task_id.value
            elif isinstance(message, (internal.KillTaskMessage,
                                      internal.StatusUpdateAcknowledgementMessage)):
                name += " " + message.task_id.value
            described.append(name)
        return described


def resubscribed_task(task_id):
    """
    The C{TaskInfo} an executor reports when it resubscribes with C{task_id}.
    """
    return mesos_pb2.TaskInfo(name=task_id, task_id=mesos_pb2.TaskID(value=task_id),
                              slave_id=mesos_pb2.SlaveID(value="S1"))
