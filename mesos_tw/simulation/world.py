"""
One simulated cluster, built from the real classes on simulated time:
masters in a leader election on an in-memory ZooKeeper, slaves with
simulated executors, and frameworks on the classic scheduler driver, all
on one in-memory network.  Everything random comes from the seed, so a
run replays exactly (`mesos_tw.simulation` runs it with a fixed hash seed
too).
"""

import random
import shutil
import tempfile
import uuid
from contextlib import contextmanager

from twisted.internet.task import Clock

from mesos_tw.detector.zookeeper import ZooKeeperContender, ZooKeeperDetector
from mesos_tw.driver.scheduler import MesosSchedulerDriver
from mesos_tw.master.election import MasterElection
from mesos_tw.master.master import Master, new_master_info
from mesos_tw.master.registry import ZooKeeperRemovedSlaves
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.messages_pb2 import StatusUpdateAcknowledgementMessage
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.simulation.actors import SimulatedIsolator, SimulatedScheduler
from mesos_tw.simulation.faults import FaultyNetwork
from mesos_tw.slave.slave import Slave
from mesos_tw.testing.zookeeper import MemoryZooKeeperServer

__all__ = ["World"]

ZK_PATH = "/mesos"
SESSION_TIMEOUT = 10.0


class MasterProcess:
    """
    One master process: its ZooKeeper session, election and node; it can
    crash and be started again (a new process, the same address).
    """

    def __init__(self, world, number):
        self.world = world
        self.upid = UPID("master", f"198.18.0.{number + 1}", 5050)
        self.number = number
        self.election = None
        self.client = None
        self.start()

    def start(self):
        """
        Start the process: a new session, standing for election.
        """
        world = self.world
        self.client = world.zookeeper.client(SESSION_TIMEOUT)
        self.client.start()
        registry = ZooKeeperRemovedSlaves(self.client, ZK_PATH)
        world.mutate_registry(registry)

        def make_master(node, info, ids):
            master = Master(world.clock, node, info=info, ids=ids, os_pid=100 + self.number,
                            registry=registry)
            world.mutate_master(master)
            return master

        self.election = MasterElection(
            world.clock, world.network.node(self.upid), ZooKeeperContender(self.client, ZK_PATH),
            ZooKeeperDetector(self.client, ZK_PATH), make_master)
        self.election.start(new_master_info(self.upid, None, 100 + self.number,
                                            world.clock.seconds()))

    def crash(self):
        """
        The process dies: its connections drop, its session is closed by
        the server once it times out (here: at once, as the faults ask).
        """
        election, self.election = self.election, None
        # A dead process withdraws nothing: its candidate znode goes only
        # with its session, below, not by a polite delete.
        election.contender.withdraw = lambda: None
        election.stop()
        self.world.network.crash(self.upid)
        self.client.stop()


class World:
    """
    A cluster on simulated time for one seed.

    @ivar trace: C{(simulated seconds, text)} of what happened, for replay.
    @ivar schedulers: the frameworks' L{SimulatedScheduler}s.
    """

    def __init__(self, seed, faults=frozenset(), mutation=None, masters=3, slaves=3,
                 frameworks=2, tasks=12):
        self.seed = seed
        self.rng = random.Random(seed)
        self.fault_kinds = faults
        self.mutation = mutation
        self.clock = Clock()
        self.trace = []
        self.network = FaultyNetwork(self.clock, self.rng, self.record)
        self.zookeeper = MemoryZooKeeperServer()
        #: task id -> the slaves (names) it started on, in order.
        self.runs = {}
        self.directory = tempfile.mkdtemp(prefix="mesos-sim-")
        self.masters = [MasterProcess(self, n) for n in range(masters)]
        self.slaves = [self._slave(n) for n in range(slaves)]
        self.schedulers, self.drivers = [], []
        for number in range(frameworks):
            scheduler = SimulatedScheduler(f"fw{number}", tasks, self.rng, self.clock)
            driver = MesosSchedulerDriver(
                scheduler, mesos_pb2.FrameworkInfo(user="sim", name=f"fw{number}",
                                                   failover_timeout=3600),
                self._detector(), reactor=self.clock, node_factory=self.network.node)
            self.schedulers.append(scheduler)
            self.drivers.append(driver)

    def record(self, text):
        """
        Add C{text} to the trace at the current simulated time.
        """
        self.trace.append((self.clock.seconds(), text))

    def _detector(self):
        client = self.zookeeper.client(SESSION_TIMEOUT)
        client.start()
        return ZooKeeperDetector(client, ZK_PATH)

    def _slave(self, number):
        node = self.network.node(UPID(f"slave({number + 1})", f"198.18.1.{number + 1}", 5051))
        name = f"slave-{number}"
        isolator = SimulatedIsolator(
            self.clock, self.network,
            lambda task_id: self.runs.setdefault(task_id, []).append(name))
        slave = Slave(
            self.clock, node, self._detector(), isolator,
            f"{self.directory}/slave-{number}", Resources.parse("cpus:1;mem:512"),
            hostname=name, python="python3", environ={"PATH": "/bin"},
            new_uuid=self.network.new_uuid)
        if self.mutation == "drop_ack":
            # The slave loses every acknowledgement: its updates are never
            # taken as delivered.
            slave.dispatcher.handlers[StatusUpdateAcknowledgementMessage] = \
                lambda *arguments: None
        return slave

    # Mutations: known bugs, put back only in the simulated world.

    def mutate_master(self, master):
        """
        Put the chosen mutation's bug into a new term's master.
        """
        if self.mutation == "double_offer":
            allocator = master.allocator
            allocate = allocator.allocate

            def allocate_twice(changed_only=False):
                offers = allocate(changed_only)
                for framework_id, slave_id, resources in list(offers):
                    allocator._free[slave_id] = resources
                return offers

            allocator.allocate = allocate_twice

    def mutate_registry(self, registry):
        """
        Put the chosen mutation's bug into a master process's registry
        (none now: C{forget_removed_slave} was retired when unreachable
        slaves became re-admitted rather than removed, docs/simulation.md).
        """

    # Running.

    @contextmanager
    def running(self):
        """
        Within: C{uuid.uuid4} draws from the seed (drivers name themselves
        with it), so does the C{random} module (registration back-off's
        jitter), and the world's files exist.
        """
        real_uuid4, random_state = uuid.uuid4, random.getstate()
        uuid.uuid4 = lambda: uuid.UUID(int=self.rng.getrandbits(128), version=4)
        random.seed(self.seed)
        try:
            yield self
        finally:
            uuid.uuid4 = real_uuid4
            random.setstate(random_state)
            for driver in self.drivers:
                driver.abort()
            for slave in self.slaves:
                slave.stop()
            for master in self.masters:
                if master.election is not None:
                    master.election.stop()
            shutil.rmtree(self.directory, ignore_errors=True)

    def start(self):
        """
        Start the slaves and frameworks (the masters start as made).
        """
        for slave in self.slaves:
            slave.start()
        for driver in self.drivers:
            driver.start()

    def advance(self, seconds):
        """
        Run simulated time forward by C{seconds}, from one due call to the
        next (a call due now runs in the same step, as L{Clock} does).
        """
        end = self.clock.seconds() + seconds
        while True:
            calls = self.clock.getDelayedCalls()
            due = min((call.getTime() for call in calls), default=end)
            if due > end:
                break
            self.clock.advance(max(0.0, due - self.clock.seconds()))
        self.clock.advance(end - self.clock.seconds())
