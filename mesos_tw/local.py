"""
``twistd mesos-local``: a master and N slaves in one process, the embedded
default for trying things out (no ZooKeeper, nothing else to start).
"""

import os

from twisted.application.service import MultiService
from twisted.logger import Logger
from twisted.python import usage

from mesos_tw.authentication.flags import check_credential, check_slave_http_authentication
from mesos_tw.collector import tune_collector
from mesos_tw.detector import StandaloneDetector
from mesos_tw.flags import MesosOptions, parse_positive_int
from mesos_tw.master.tap import MasterService, check_master_flags
from mesos_tw.master.tap import Options as MasterOptions
from mesos_tw.slave.tap import SLAVE_COERCIONS, SLAVE_PARAMETERS, SlaveService, check_isolation

__all__ = ["LocalCluster", "Options", "makeService"]


class Options(MesosOptions):
    """
    The master's flags, the slaves' flags (applied to every slave), and
    C{--num_slaves}.
    """

    synopsis = "[--num_slaves=N] [options]"
    longdesc = "Run a master and N slaves in one process."
    optParameters = (
        MasterOptions.optParameters
        + [p for p in SLAVE_PARAMETERS if p[0] != "master"]
        + [["num_slaves", None, "1", "How many slaves to run."]]
    )
    coercions = dict(MasterOptions.coercions, **SLAVE_COERCIONS, num_slaves=parse_positive_int)

    def postOptions(self):
        """
        Check the values as C{mesos-master} and C{mesos-slave} do, and the
        isolator.
        """
        super().postOptions()
        if self["zk"]:
            raise usage.UsageError("invalid value for --zk: mesos-local runs without ZooKeeper")
        self["zk_url"] = None
        # The master's checks, then the slaves' own (the flags they share
        # are the master's too, checked once).
        check_master_flags(self)
        check_credential(self)
        check_slave_http_authentication(self)
        check_isolation(self)


class LocalCluster(MultiService):
    """
    The master, then the slaves once the master's port is known.

    @ivar master_service: the L{MasterService}.
    @ivar slave_services: the L{SlaveService}s, one per slave.
    """

    log = Logger()

    def __init__(self, options, reactor):
        super().__init__()
        self.options = options
        self.reactor = reactor
        self.master_service = MasterService(options, reactor)
        self.master_service.setServiceParent(self)
        self.slave_services = []

    def startService(self):
        """
        Start the master; when it listens, start the slaves and say where
        everything is.
        """
        super().startService()
        self.master_service.listening.addCallback(self._start_slaves)

    def _start_slaves(self, port):
        options = self.options
        master = self.master_service.node.upid
        for index in range(options["num_slaves"]):
            service = SlaveService(
                options, self.reactor, detector=StandaloneDetector(master),
                work_dir=os.path.join(options["work_dir"], f"slave-{index}"), port=0,
            )
            self.slave_services.append(service)
            service.setServiceParent(self)
        self.log.info(
            "mesos-local: master at {master}; {count} slave(s); state at "
            "{scheme}://{host}:{port}/master/state; sandboxes under {work_dir}",
            master=str(master), count=options["num_slaves"],
            scheme=options["tls"].url_scheme(), host=master.host,
            port=master.port, work_dir=options["work_dir"],
        )
        return port


def makeService(options, reactor=None):
    """
    The local cluster for parsed C{options}; no I/O happens here.
    """
    if reactor is None:
        # The command-line entry: the process is the daemon's own.
        from twisted.internet import reactor

        reactor.callWhenRunning(tune_collector)
    return LocalCluster(options, reactor)
