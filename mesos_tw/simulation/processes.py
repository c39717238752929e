"""
The processes of a simulated cluster, each able to crash and start again
as a real one does: a master (L{MasterProcess}), a slave machine whose
slave process can die while its executors live on (L{SlaveMachine}), an
executor process (L{ExecutorProcess}), and a framework's scheduler process
(L{FrameworkProcess}), which fails over with its framework id.

Each process runs on a L{ProcessClock}: when it dies, every timer it set
dies with it, and its clock can jump on its own.
"""

import uuid

from mesos_tw.detector.zookeeper import ZooKeeperContender, ZooKeeperDetector
from mesos_tw.driver.executor import MesosExecutorDriver
from mesos_tw.driver.scheduler import MesosSchedulerDriver
from mesos_tw.master.election import MasterElection
from mesos_tw.master.master import Master, new_master_info
from mesos_tw.master.registry import ZooKeeperRemovedSlaves
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.simulation.actors import SimulatedExecutor, SimulatedIsolator
from mesos_tw.simulation.clock import ProcessClock
from mesos_tw.simulation.v1 import cut_streams, scheduler_api
from mesos_tw.slave.slave import Slave

__all__ = ["ExecutorProcess", "FrameworkProcess", "MasterProcess", "SlaveMachine"]

ZK_PATH = "/mesos"
SESSION_TIMEOUT = 10.0

#: A simulated slave's resources.
SLAVE_RESOURCES = "cpus:1;mem:512"

#: How long a new leader waits for the slaves the registry lists.
SLAVE_REREGISTER_TIMEOUT = 120.0

#: The boot id of every simulated machine (none reboots).
BOOT_ID = "simulated-boot"


class MasterProcess:
    """
    One master process: its ZooKeeper session, election and node, and its
    v1 scheduler API (C{api}); it can crash and be started again (a new
    process, the same address).
    """

    def __init__(self, world, number):
        self.world = world
        self.upid = UPID("master", f"198.18.0.{number + 1}", 5050)
        self.number = number
        self.election = None
        self.client = None
        self.clock = None
        self.api = None
        self.start()

    @property
    def alive(self):
        """
        Whether the process runs.
        """
        return self.election is not None

    def start(self):
        """
        Start the process: a new session, standing for election.
        """
        world = self.world
        self.clock = clock = ProcessClock(world.clock)
        self.client = world.zookeeper.client(SESSION_TIMEOUT)
        self.client.start()
        registry = ZooKeeperRemovedSlaves(self.client, ZK_PATH)
        world.mutate_registry(registry)

        def make_master(node, info, ids):
            # Slaves a new leader recovered from the registry are waited
            # for 120 s (Mesos's default is 10 minutes, longer than a run
            # settles): reconciliations wait for them meanwhile.
            master = Master(clock, node, info=info, ids=ids,
                            registry=registry, slave_reregister_timeout=SLAVE_REREGISTER_TIMEOUT)
            world.mutate_master(master)
            world.inject_failures(master.dispatcher, f"master {self.upid}")
            return master

        node = world.network.node(self.upid)
        world.mutate_node(node)
        self.election = MasterElection(
            clock, node, ZooKeeperContender(self.client, ZK_PATH),
            ZooKeeperDetector(self.client, ZK_PATH), make_master)
        self.api = scheduler_api(world, clock, self.election)
        # Every process of a master has the same pid and address: only its
        # id (a UUID from the seed) tells them apart, as on a real cluster.
        self.election.start(new_master_info(
            self.upid, None, new_uuid=lambda: uuid.UUID(bytes=world.network.new_uuid())))

    def crash(self):
        """
        The process dies: its timers and connections go, its session is
        closed by the server once it times out (here: at once).
        """
        election, self.election = self.election, None
        # A dead process withdraws nothing: its candidate znode goes only
        # with its session, below, not by a polite delete.
        election.contender.withdraw = lambda: None
        election.stop()
        self.clock.kill()
        cut_streams(self.api)
        self.world.network.crash(self.upid)
        self.client.stop()


class ExecutorProcess:
    """
    One simulated executor process on a slave machine: a real
    L{MesosExecutorDriver} running a L{SimulatedExecutor}.  It outlives
    the slave process that launched it (its driver waits for a restarted
    slave when its framework checkpoints).

    @ivar pid: its process id on the machine.
    @ivar key: C{(framework id, executor id)}.
    """

    def __init__(self, machine, pid, key, environment):
        self.machine = machine
        self.pid = pid
        self.key = key
        world = machine.world
        self.clock = ProcessClock(world.clock)
        self.driver = MesosExecutorDriver(
            SimulatedExecutor(self.clock, machine.task_started), reactor=self.clock,
            environ=dict(environment),
            node_factory=world.process_node("executor", machine.upid.host,
                                            f"{machine.name}-{pid}"),
            new_uuid=world.network.new_uuid)
        self.driver.stopped.addCallback(lambda _: self.exited(0))
        world.inject_failures(self.driver.dispatcher, f"executor {key[1]} on {machine.name}")
        self.clock.callLater(0, self.driver.start)

    @property
    def alive(self):
        """
        Whether the process runs.
        """
        return not self.clock.dead

    def kill(self, status=9):
        """
        The process dies at once (a crash, or its container destroyed).
        """
        if self.clock.dead:
            return
        self.clock.kill()
        if self.driver.node is not None:
            self.machine.world.network.crash(self.driver.node.upid)
        self.driver.abort()
        self.exited(status)

    def exited(self, status):
        """
        The process ended with wait status C{status}: the machine's slave,
        if one runs, sees its container end.
        """
        self.clock.kill()
        if self.machine.executors.get(self.pid) is self:
            del self.machine.executors[self.pid]
            self.machine.isolator.process_exited(self, status)


class SlaveMachine:
    """
    One slave machine: its work directory (with the slave's checkpoints
    under C{meta/}) and executor processes outlive the slave process, which
    can crash and start again and then recovers what it checkpointed.

    @ivar slave: the running L{Slave}, or L{None} while it is down.
    @ivar executors: C{{pid: L{ExecutorProcess}}} running on the machine.
    """

    def __init__(self, world, number):
        self.world = world
        self.number = number
        self.name = f"slave-{number}"
        self.upid = UPID(f"slave({number + 1})", f"198.18.1.{number + 1}", 5051)
        self.work_dir = f"{world.directory}/{self.name}"
        self.executors = {}
        self.next_pid = 1000
        self.slave = None
        #: The id the slave process that died last had (an operator may
        #: still name it).
        self.last_id = None
        self.isolator = None
        self.client = None
        self.clock = None
        self.make()

    @property
    def slave_id(self):
        """
        The id of the machine's slave as an operator sees it: its running
        process's, or, while none runs or it has none yet, the last one
        it had (L{None} if it never had one).
        """
        if self.slave is not None and self.slave.id is not None:
            return self.slave.id
        return self.last_id

    def task_started(self, task_id):
        """
        Note that C{task_id} started running here.
        """
        self.world.runs.setdefault(task_id, []).append(self.name)

    def make(self):
        """
        Build a slave process (not yet started).
        """
        world = self.world
        self.clock = ProcessClock(world.clock)
        self.isolator = SimulatedIsolator(self.clock, self)
        self.client = world.zookeeper.client(SESSION_TIMEOUT)
        self.client.start()
        self.slave = Slave(
            self.clock, world.network.node(self.upid),
            ZooKeeperDetector(self.client, ZK_PATH), self.isolator, self.work_dir,
            Resources.parse(SLAVE_RESOURCES), hostname=self.name, python="python3",
            environ={"PATH": "/bin"}, new_uuid=world.network.new_uuid, boot_id=BOOT_ID,
            resource_monitoring_interval=30.0,
            jitter=world.random_source(f"jitter/{self.name}").random)
        world.mutate_slave(self.slave)
        world.inject_failures(self.slave.dispatcher, f"slave {self.upid}")

    def launch(self, key, environment):
        """
        Start an executor process for C{key}; returns its pid.
        """
        self.next_pid += 1
        self.executors[self.next_pid] = ExecutorProcess(self, self.next_pid, key, environment)
        return self.next_pid

    def crash(self):
        """
        The slave process dies (its executors live on); its ZooKeeper
        session closes.
        """
        self.last_id = self.slave_id
        self.clock.kill()
        self.world.network.crash(self.upid)
        self.client.stop()
        self.isolator.machine = None
        self.slave = None

    def restart(self):
        """
        Start a new slave process, which recovers from C{meta/}.
        """
        self.make()
        self.slave.start()


class FrameworkProcess:
    """
    A framework's scheduler process: a real classic
    L{MesosSchedulerDriver} for its L{SimulatedScheduler}, whose state (the
    tasks it launched, the updates it heard, its framework id) is kept as
    a real framework keeps it in its own store, so a new process fails
    over to the same framework.
    """

    #: Where the frameworks' scheduler processes run.
    HOST = "198.18.3.1"

    def __init__(self, world, scheduler, checkpoint):
        self.world = world
        self.scheduler = scheduler
        self.checkpoint = checkpoint
        self.driver = None
        self.clock = None
        self.client = None

    @property
    def alive(self):
        """
        Whether the process runs.
        """
        return self.driver is not None

    def start(self):
        """
        Start a scheduler process: it registers, or fails over to its
        framework id once it has one.
        """
        world = self.world
        self.clock = ProcessClock(world.clock)
        self.client = world.zookeeper.client(SESSION_TIMEOUT)
        self.client.start()
        info = mesos_pb2.FrameworkInfo(user="sim", name=self.scheduler.name,
                                       failover_timeout=3600, checkpoint=self.checkpoint)
        if self.scheduler.framework_id is not None:
            info.id.value = self.scheduler.framework_id
        self.scheduler.incarnation += 1
        name = self.scheduler.name
        self.driver = MesosSchedulerDriver(
            self.scheduler, info, ZooKeeperDetector(self.client, ZK_PATH),
            reactor=self.clock,
            node_factory=world.process_node(
                "scheduler", self.HOST, f"{name}-{self.scheduler.incarnation}"),
            jitter=world.random_source(f"jitter/{name}").random)
        self.driver.start()
        world.inject_failures(self.driver.dispatcher, f"scheduler {self.scheduler.name}")

    def crash(self):
        """
        The scheduler process dies, without unregistering.
        """
        driver, self.driver = self.driver, None
        self.clock.kill()
        if driver.node is not None:
            self.world.network.crash(driver.node.upid)
        driver.abort()
        self.client.stop()
