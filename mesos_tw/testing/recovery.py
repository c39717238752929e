"""
A slave that can be killed (as with C{kill -9}) and started again on the
same work directory, on a fake clock and an in-memory network, with a fake
isolator whose executors "run" across the restart: L{SlaveRecoveryTestCase},
for the slave recovery and sandbox garbage collection tests.
"""

import os

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.detector import StandaloneDetector
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.slave.slave import Slave
from mesos_tw.testing.isolation import FakeIsolator
from mesos_tw.testing.master import MASTER
from mesos_tw.testing.network import MemoryNetwork
from mesos_tw.testing.peers import RecordingPeer
from mesos_tw.testing.slave import SCHEDULER, SLAVE

__all__ = ["FRAMEWORK", "HeldRecoveryIsolator", "SlaveRecoveryTestCase"]

FRAMEWORK = mesos_pb2.FrameworkID(value="F1")


class HeldRecoveryIsolator(FakeIsolator):
    """
    A fake isolator whose recovery is over only when the test says.
    """

    def recover(self, containers):
        """
        Recover as the fake does, but fire L{held} later.
        """
        FakeIsolator.recover(self, containers)
        self.held = Deferred()
        return self.held


class SlaveRecoveryTestCase(SynchronousTestCase):
    """
    A slave that can be killed and started again on the same work
    directory, a recording master, and an executor e1 of framework F1.
    """

    checkpoint = True
    #: The framework's capabilities (C{FrameworkInfo.Capability} types).
    capabilities = ()

    def setUp(self):
        self.clock = Clock()
        self.network = MemoryNetwork(self.clock)
        self.master = RecordingPeer(self.network, MASTER)
        self.work_dir = os.path.abspath(self.mktemp())
        self.uuids = iter(range(1, 10 ** 6))
        self.slave = self.start_slave()
        self.addCleanup(lambda: self.slave.stop())

    def start_slave(self, isolator=None, boot_id="boot-1", **keywords):
        """
        Start a slave on our work directory; it registers as S1 (or
        re-registers) once the master answers.
        """
        self.isolator = isolator or FakeIsolator(self.clock)
        slave = Slave(
            self.clock, self.network.node(SLAVE), StandaloneDetector(MASTER), self.isolator,
            self.work_dir, Resources.parse("cpus:2;mem:1024"), python="python3",
            environ={"PATH": "/bin"}, new_uuid=lambda: next(self.uuids).to_bytes(16, "big"),
            boot_id=boot_id, **dict({"disk_usage": lambda path: 0.0}, **keywords))
        slave.start()
        self.turn()
        return slave

    def turn(self):
        """
        Deliver everything in flight.
        """
        for _ in range(5):
            self.clock.advance(0)

    def register(self, slave_id="S1"):
        """
        The master answers the slave's (re-)registration.
        """
        self.turn()
        answer = (internal.SlaveReregisteredMessage if self.slave.id == slave_id
                  else internal.SlaveRegisteredMessage)
        self.master.send(SLAVE, answer(slave_id=mesos_pb2.SlaveID(value=slave_id)))
        self.turn()

    def run_task(self, task_id="t1", executor_id="e1"):
        """
        The master sends a task of F1 for custom executor C{executor_id}.
        """
        task = mesos_pb2.TaskInfo(
            name=task_id, task_id=mesos_pb2.TaskID(value=task_id),
            slave_id=mesos_pb2.SlaveID(value="S1"),
            resources=Resources.parse("cpus:0.5;mem:64").to_protobuf())
        task.executor.executor_id.value = executor_id
        task.executor.command.value = "./my-executor"
        self.master.send(SLAVE, internal.RunTaskMessage(
            framework_id=FRAMEWORK, pid=SCHEDULER, task=task,
            framework=mesos_pb2.FrameworkInfo(
                user="alice", name="fw", checkpoint=self.checkpoint,
                capabilities=[mesos_pb2.FrameworkInfo.Capability(type=capability)
                              for capability in self.capabilities])))
        self.turn()

    def executor_registers(self, executor_id="e1", name="executor-1"):
        """
        The executor registers; return it.
        """
        executor = RecordingPeer(self.network, UPID(name, "127.0.0.1", 0))
        executor.send(SLAVE, internal.RegisterExecutorMessage(
            framework_id=FRAMEWORK, executor_id=mesos_pb2.ExecutorID(value=executor_id)))
        self.turn()
        return executor

    def update(self, task_id, state, uuid, executor_id="e1"):
        """
        A C{StatusUpdate} the executor makes.
        """
        return internal.StatusUpdate(
            framework_id=FRAMEWORK, executor_id=mesos_pb2.ExecutorID(value=executor_id),
            timestamp=1.0, uuid=uuid,
            status=mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value=task_id), state=state,
                                        uuid=uuid))

    def send_update(self, executor, task_id, state, uuid):
        """
        The executor sends an update.
        """
        executor.send(SLAVE, internal.StatusUpdateMessage(
            update=self.update(task_id, state, uuid)))
        self.turn()

    def acknowledge(self, task_id, uuid):
        """
        The scheduler acknowledges an update, straight to the slave.
        """
        scheduler = RecordingPeer(self.network, UPID.parse(SCHEDULER))
        scheduler.send(SLAVE, internal.StatusUpdateAcknowledgementMessage(
            slave_id=mesos_pb2.SlaveID(value="S1"), framework_id=FRAMEWORK,
            task_id=mesos_pb2.TaskID(value=task_id), uuid=uuid))
        self.turn()

    def crash(self):
        """
        Kill the slave as C{kill -9} would: its node goes, and every timer
        it had (nothing else here has timers).
        """
        self.network.crash(SLAVE)
        for call in self.clock.getDelayedCalls():
            call.cancel()

    def restart(self, **keywords):
        """
        Kill the slave and start a new one on the same work directory.
        """
        self.crash()
        self.slave = self.start_slave(**keywords)

    def reregister_executor(self, executor, tasks=("t1",), updates=(), executor_id="e1"):
        """
        The executor subscribes again after the restart.
        """
        executor.send(SLAVE, internal.ReregisterExecutorMessage(
            framework_id=FRAMEWORK, executor_id=mesos_pb2.ExecutorID(value=executor_id),
            tasks=[mesos_pb2.TaskInfo(name=t, task_id=mesos_pb2.TaskID(value=t),
                                      slave_id=mesos_pb2.SlaveID(value="S1")) for t in tasks],
            updates=list(updates)))
        self.turn()

    def forwarded(self):
        """
        (task, state) of the updates the master received, in order.
        """
        return [(m.update.status.task_id.value, m.update.status.state)
                for m in self.master.of(internal.StatusUpdateMessage)]

    def restart_before_executor_sees_t2(self):
        """
        e1 runs t1; t2 is sent to it, and the slave restarts before e1
        sees it; e1 subscribes again listing only t1; the slave
        re-registers.
        """
        self.register()
        self.run_task()
        executor = self.executor_registers()
        self.run_task("t2")
        self.restart()
        self.reregister_executor(executor, tasks=("t1",))
        self.register()

    def running_task(self):
        """
        Register, run t1 on e1, have e1 register and report TASK_RUNNING
        (acknowledged); return the executor.
        """
        self.register()
        self.run_task()
        executor = self.executor_registers()
        self.send_update(executor, "t1", mesos_pb2.TASK_RUNNING, b"r" * 16)
        self.acknowledge("t1", b"r" * 16)
        return executor
