"""
One simulated cluster, built from the real classes on simulated time:
masters in a leader election on an in-memory ZooKeeper, slaves with
simulated executors, and frameworks on the classic scheduler driver, all
on one in-memory network.  Everything random comes from the seed, so a
run replays exactly (`mesos_tw.simulation` runs it with a fixed hash seed
too).
"""

import os
import random
import shutil
import tempfile
from contextlib import contextmanager

from twisted.internet.defer import succeed

from mesos_tw.protocols.messages_pb2 import StatusUpdateAcknowledgementMessage
from mesos_tw.protocols.upid import UPID
from mesos_tw.simulation.actors import SimulatedScheduler
from mesos_tw.simulation.clock import SimulatedClock
from mesos_tw.simulation.faults import FaultyNetwork
from mesos_tw.simulation.invariants import check_allocation
from mesos_tw.simulation.processes import FrameworkProcess, MasterProcess, SlaveMachine
from mesos_tw.simulation.v1 import V1FrameworkProcess
from mesos_tw.testing.zookeeper import MemoryZooKeeperServer

__all__ = ["InjectedFailure", "TASK_SECONDS", "World"]

#: The longest a simulated task runs.
TASK_SECONDS = 60.0

#: Where worlds keep their slaves' work directories: memory, if the
#: machine has it (checkpoints are written with fsync).
_SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") else None

#: The messages each kind of process receives whose senders retry them
#: until answered: a handler may fail before its work on them and the
#: protocol still goes on.  (An executor's update to its slave is not one:
#: the executor driver sends it again only when it reconnects.)
RETRIED = {
    "master": frozenset({"RegisterSlaveMessage", "ReregisterSlaveMessage",
                         "RegisterFrameworkMessage", "ReregisterFrameworkMessage",
                         "StatusUpdateMessage"}),
    "scheduler": frozenset({"StatusUpdateMessage"}),
    "slave": frozenset({"PingSlaveMessage"}),
    "executor": frozenset(),
}


class InjectedFailure(Exception):
    """
    A handler failure the simulator injected.
    """


class World:
    """
    A cluster on simulated time for one seed.

    @ivar trace: C{(simulated seconds, text)} of what happened, for replay.
    @ivar schedulers: the frameworks' L{SimulatedScheduler}s.
    """

    def __init__(self, seed, faults=frozenset(), mutation=None, masters=3, slaves=3,
                 frameworks=3, tasks=20, buggify=False):
        self.seed = seed
        self.rng = random.Random(seed)
        self.fault_kinds = faults
        self.mutation = mutation
        self.buggify = buggify
        #: What L{drf_fair} has yet to report.
        self.drf_violations = []
        #: Whether faults may strike now.
        self.faulting = False
        self.clock = SimulatedClock()
        self._sources = {}
        self.trace = []
        self.network = FaultyNetwork(self.clock, random.Random(f"{seed}/network"),
                                     self.record, new_uuid=self._new_uuid)
        self._handler_rng = random.Random(f"{seed}/handler")
        if buggify:
            self.network.DROP, self.network.DELAY = 0.02, 0.05
        #: Per handler call, when C{handler} faults are on.
        self.handler_failure_rate = 0.01 if buggify else 0.001
        self.zookeeper = MemoryZooKeeperServer()
        #: task id -> the slaves (names) it started on, in order.
        self.runs = {}
        #: slave id -> when a leader had recorded it gone (the operator
        #: marked it: the C{gone} fault).
        self.gone = {}
        #: slave id -> its machine's name, for each slave the operator has
        #: asked a leader to mark gone (recorded in C{gone} once a leader
        #: lists it as removed).
        self.marked = {}
        self.directory = tempfile.mkdtemp(prefix="mesos-sim-", dir=_SCRATCH)
        self.masters = [MasterProcess(self, n) for n in range(masters)]
        self.machines = [SlaveMachine(self, n) for n in range(slaves)]
        # The first two on the classic driver, the third (and every third)
        # on the v1 HTTP API; every other one checkpoints.
        self.frameworks = [
            (V1FrameworkProcess if number % 3 == 2 else FrameworkProcess)(
                self, SimulatedScheduler(f"fw{number}", tasks, self.rng, self.clock,
                                         longest=10.0 if buggify else TASK_SECONDS),
                checkpoint=number % 2 == 0)
            for number in range(frameworks)]

    @property
    def slaves(self):
        """
        The slave processes running now.
        """
        return [machine.slave for machine in self.machines if machine.slave is not None]

    @property
    def schedulers(self):
        """
        The frameworks' L{SimulatedScheduler}s.
        """
        return [framework.scheduler for framework in self.frameworks]

    def _new_uuid(self):
        return self.rng.getrandbits(128).to_bytes(16, "big")

    def random_source(self, label):
        """
        A new C{random.Random} for one process's use (C{label} names it,
        e.g. C{jitter/slave-0}), seeded from the world's seed, the label
        and how many were made for that label before.
        """
        number = self._sources[label] = self._sources.get(label, -1) + 1
        return random.Random(f"{self.seed}/{label}/{number}")

    def process_node(self, kind, host, name):
        """
        A node factory for a driver: the node gets the process id
        C{kind-name} on C{host} (rather than the driver's own
        C{kind-<uuid>} on this machine's host name), so that the trace and
        every order that follows process ids replay on any machine.
        """
        return lambda upid: self.network.node(UPID(f"{kind}-{name}", host, upid.port))

    def record(self, text):
        """
        Add C{text} to the trace at the current simulated time.
        """
        self.trace.append((self.clock.seconds(), text))

    def inject_failures(self, dispatcher, owner):
        """
        With C{handler} faults on, make C{dispatcher}'s handlers raise now
        and then: after doing their work (a bug in a handler's tail), or,
        for messages their sender retries, before.
        """
        if "handler" not in self.fault_kinds:
            return
        for cls, handler in list(dispatcher.handlers.items()):
            dispatcher.handlers[cls] = self._failing(handler, cls.__name__, owner)

    def _failing(self, handler, name, owner):
        def failing(*arguments):
            if not self.faulting or self._handler_rng.random() >= self.handler_failure_rate:
                return handler(*arguments)
            self.network.count("handler")
            if name in RETRIED[owner.split()[0]] and self._handler_rng.random() < 0.5:
                self.record(f"handler of {name} at {owner} raises before its work")
                raise InjectedFailure(f"injected before handling {name}")
            handler(*arguments)
            self.record(f"handler of {name} at {owner} raises after its work")
            raise InjectedFailure(f"injected after handling {name}")
        return failing

    # Mutations: known bugs, put back only in the simulated world.

    def mutate_master(self, master):
        """
        Put the chosen mutation's bug into a new term's master.
        """
        unchecked = master.allocator.allocate
        master.allocator.allocate = lambda changed_only=False: check_allocation(
            self, master, unchecked, changed_only)
        if self.mutation == "double_offer":
            allocator = master.allocator
            allocate = allocator.allocate

            def allocate_twice(changed_only=False):
                # The allocator takes what it offered as given back at
                # once (through IAllocator, so any allocator gets the
                # bug), and offers it again while the first offer stands.
                offers = allocate(changed_only)
                for framework_id, slave_id, resources in list(offers):
                    allocator.resources_recovered(framework_id, slave_id, resources, 0)
                return offers

            allocator.allocate = allocate_twice

    def mutate_slave(self, slave):
        """
        Put the chosen mutation's bug into a new slave process.
        """
        if self.mutation == "drop_ack":
            # The slave loses every acknowledgement: its updates are never
            # taken as delivered.
            slave.dispatcher.handlers[StatusUpdateAcknowledgementMessage] = \
                lambda *arguments: None

    def mutate_node(self, node):
        """
        Put the chosen mutation's bug into a master process's message node.
        """
        if self.mutation == "keep_unknown_connections":
            # A term's end closes only the connections of the peers the
            # node knows (seed 80043's bug): one whose first message is on
            # its way carries it to the next term.
            def disconnect_known():
                for peer in node.peers():
                    node.disconnect(peer)

            node.disconnect_all = disconnect_known

    def mutate_registry(self, registry):
        """
        Put the chosen mutation's bug into a master process's registry.
        """
        if self.mutation == "forget_removed_slave":
            # The registry loses its removed slaves (those marked gone): a
            # new leader admits a gone slave that re-registers, with the
            # tasks its frameworks heard were lost.
            registry.load = lambda: succeed(set())

    def leaders(self):
        """
        The master processes acting as leader now (elected, with a term's
        L{Master}): one, or none during an election (the C{one_leader}
        invariant checks there is never more).
        """
        return [process for process in self.masters
                if process.election is not None and process.election.elected
                and process.election.master is not None]

    def leader(self):
        """
        The leading L{Master} once it has read the registry, or L{None}.
        """
        for process in self.leaders():
            if process.election.master.recovered:
                return process.election.master
        return None

    # Running.

    @contextmanager
    def running(self):
        """
        Within: the world's files exist; after, every process is gone and
        the files with them.  (Nothing global is touched: what is random
        comes from the world's own generators, passed to each component,
        so that another thread drawing from the C{random} module or making
        uuids meanwhile, as a test suite's may, changes nothing here.)
        """
        try:
            yield self
        finally:
            for framework in self.frameworks:
                if framework.alive:
                    framework.crash()
            for machine in self.machines:
                for process in list(machine.executors.values()):
                    process.kill()
                if machine.slave is not None:
                    machine.crash()
            for master in self.masters:
                if master.alive:
                    master.crash()
            shutil.rmtree(self.directory, ignore_errors=True)

    def start(self):
        """
        Start the slaves and frameworks (the masters start as made).
        """
        for slave in self.slaves:
            slave.start()
        for framework in self.frameworks:
            framework.start()

    def advance(self, seconds):
        """
        Run simulated time forward by C{seconds}, running each call when
        it is due.
        """
        self.clock.advance(seconds)
