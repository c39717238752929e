"""
Which instance of mesos-services leads: with C{--zk}, instances contend in
ZooKeeper (C{<path>/leader}) and keep their state there (C{<path>/state});
without it there is one instance, leading at once, with its state in memory.

The leader loads the state, builds a L{ServiceScheduler} and registers the
framework with the master, with the saved framework id when there is one (a
failover: the master hands it the running tasks, which it reconciles
without restarting them).  An instance that stops leading stops its driver
for failover and forgets its scheduler.
"""

import socket
import uuid

from twisted.application.service import Service
from twisted.internet.defer import gatherResults, maybeDeferred
from twisted.logger import Logger

from mesos_tw.detector import StandaloneContender
from mesos_tw.detector.interfaces import LEADING
from mesos_tw.detector.zookeeper import ZooKeeperContender, ZooKeeperDetector
from mesos_tw.native import MesosSchedulerDriver
from mesos_tw.protocols import mesos_pb2
from mesos_tw.services.scheduler import ServiceScheduler
from mesos_tw.services.store import MemoryStore, ZooKeeperStore
from mesos_tw.zookeeper import ZooKeeperClient

__all__ = ["Leadership", "framework_info"]

Capability = mesos_pb2.FrameworkInfo.Capability


def framework_info(name, hostname, http_port, failover_timeout, framework_id=None):
    """
    The C{FrameworkInfo} mesos-services registers with: partition-aware,
    able to handle TASK_KILLING, its UI at its HTTP port.
    """
    info = mesos_pb2.FrameworkInfo(
        user="", name=name, failover_timeout=failover_timeout, hostname=hostname,
        webui_url=f"http://{hostname}:{http_port}/",
        capabilities=[Capability(type=Capability.PARTITION_AWARE),
                      Capability(type=Capability.TASK_KILLING_STATE)])
    if framework_id:
        info.id.value = framework_id
    return info


def _ip_number(host):
    try:
        return int.from_bytes(socket.inet_aton(socket.gethostbyname(host)), "big")
    except OSError:
        return 0


class Leadership(Service):
    """
    Stands for leadership and, while leading, runs the scheduler.

    @param zk: a L{mesos_tw.zookeeper.ZooKeeperURL}, or L{None}.
    @param driver_factory: makes the scheduler driver (for tests).
    @ivar scheduler: our L{ServiceScheduler} while we lead, else L{None}.
    """

    log = Logger()

    def __init__(self, reactor, master, zk, hostname, http_port, framework_name,
                 failover_timeout, driver_factory=MesosSchedulerDriver, client=None,
                 zk_session_timeout=10.0):
        self.reactor = reactor
        self.master = master
        self.zk = zk
        self.hostname = hostname
        self.http_port = http_port
        self.framework_name = framework_name
        self.failover_timeout = failover_timeout
        self.driver_factory = driver_factory
        self.scheduler = None
        self.driver = None
        self.leader = None
        self._term = 0
        self.client = client
        if zk is None:
            self.store, self.contender, self.detector = MemoryStore(), StandaloneContender(), None
        else:
            if self.client is None:
                self.client = ZooKeeperClient(reactor, zk.hosts, zk_session_timeout,
                                              credentials=zk.credentials)
            path = zk.path.rstrip("/")
            self.store = ZooKeeperStore(self.client, path)
            self.contender = ZooKeeperContender(self.client, f"{path}/leader")
            self.detector = ZooKeeperDetector(self.client, f"{path}/leader")

    def own_url(self):
        return f"http://{self.hostname}:{self.http_port}"

    def leader_url(self):
        """
        The leader's C{http://host:port}, or L{None} while none is known.
        """
        if self.scheduler is not None:
            return self.own_url()
        if self.leader is None:
            return None
        return f"http://{self.leader.host}:{self.leader.port}"

    def startService(self):
        """
        Stand for leadership.
        """
        Service.startService(self)
        info = mesos_pb2.MasterInfo(
            id=str(uuid.uuid4()), ip=_ip_number(self.hostname), port=self.http_port,
            hostname=self.hostname, pid=f"mesos-services@{self.hostname}:{self.http_port}")
        if self.detector is not None:
            self.detector.start(self._leader_detected)
        self.contender.contend(info, self._leadership)
        if self.client is not None:
            self.client.start()

    def _leader_detected(self, upid):
        self.leader = upid

    def _leadership(self, leadership):
        if leadership == LEADING and self.scheduler is None:
            self._term += 1
            self.log.info("Elected leader; loading the state")
            self.store.load().addCallback(self._lead, self._term).addErrback(
                lambda failure: self.log.failure("Could not take the lead", failure))
        elif leadership != LEADING and self.scheduler is not None:
            self.log.warn("No longer leading ({leadership}); stopping the scheduler",
                          leadership=leadership)
            self._abdicate()

    def _lead(self, state, term):
        if term != self._term or not self.running:
            return
        scheduler = ServiceScheduler(self.reactor, self.store, state)
        self.scheduler = scheduler
        info = framework_info(self.framework_name, self.hostname, self.http_port,
                              self.failover_timeout, scheduler.framework_id)
        self.log.info("Registering with {master} as {framework}", master=self.master,
                      framework=scheduler.framework_id or "a new framework")
        self.driver = self.driver_factory(scheduler, info, self.master, reactor=self.reactor)
        self.driver.start()

    def _abdicate(self):
        self._term += 1
        driver, self.driver = self.driver, None
        scheduler, self.scheduler = self.scheduler, None
        if scheduler is not None:
            scheduler.stop()
        if driver is not None:
            driver.stop(True)

    def stopService(self):
        """
        Stop the driver for failover (the framework lives on, for the next
        leader) and leave the election.
        """
        Service.stopService(self)
        self._abdicate()
        results = [self.contender.withdraw()]
        if self.detector is not None:
            results.append(self.detector.stop())
        if self.client is not None:
            results.append(self.client.stop())
        return gatherResults([maybeDeferred(lambda r=r: r) for r in results],
                             consumeErrors=True)
