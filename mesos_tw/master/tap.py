"""
``twistd mesos-master``: the master's flags and service.
"""

import os

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.python import usage
from twisted.web.server import Site

from mesos_tw import constants
from mesos_tw.constants import LISTEN_BACKLOG
from mesos_tw.flags import MesosOptions, parse_duration, parse_port, parse_positive_int
from mesos_tw.web.json import flags_json
from mesos_tw.master.http import MasterHTTP
from mesos_tw.master.master import Master
from mesos_tw.protocols.framing import DEFAULT_MAX_FRAME_BYTES
from mesos_tw.protocols.network import MessageNode
from mesos_tw.protocols.upid import UPID

__all__ = ["MasterService", "Options", "makeService"]


class Options(MesosOptions):
    """
    The master's flags (Mesos's names; C{MESOS_<FLAG>} works too).
    """

    synopsis = "[options]"
    longdesc = "Run a Mesos master: frames and HTTP on one port."
    optParameters = [
        ["ip", None, "127.0.0.1", "IP address to listen on and advertise."],
        ["port", None, str(constants.MASTER_PORT), "Port to listen on."],
        ["hostname", None, None, "Hostname to advertise (default: the IP)."],
        ["allocation_interval", None, "1secs", "Time between batch allocations."],
        ["slave_ping_timeout", None, "15secs", "Time between pings of each slave."],
        ["max_slave_ping_timeouts", None, "5", "Missed pings that remove a slave."],
        ["max_frame_bytes", None, str(DEFAULT_MAX_FRAME_BYTES), "Largest frame accepted."],
        ["zk", None, None, "ZooKeeper URL for leader election (zk://host:port/path)."],
        ["cluster", None, None, "Human-readable name of the cluster."],
    ]
    coercions = {
        "port": parse_port,
        "allocation_interval": parse_duration,
        "slave_ping_timeout": parse_duration,
        "max_slave_ping_timeouts": parse_positive_int,
        "max_frame_bytes": parse_positive_int,
    }

    def postOptions(self):
        """
        Check the values; refuse ZooKeeper, which this build lacks.
        """
        super().postOptions()
        if self["zk"]:
            raise usage.UsageError(
                "invalid value for --zk: ZooKeeper leader election is not in this build yet; "
                "run a single master without --zk"
            )
        if self["allocation_interval"] <= 0:
            raise usage.UsageError("invalid value for --allocation_interval: must be positive")


class MasterService(Service):
    """
    A master listening on its port.  Nothing happens until C{startService}.

    @ivar listening: fires with the listening port once bound.
    """

    def __init__(self, options, reactor):
        self.options = options
        self.reactor = reactor
        self.master = None
        self.node = None
        self.listening = Deferred()

    def startService(self):
        """
        Bind the port, then start the master.
        """
        super().startService()
        options = self.options
        self.node = MessageNode(
            self.reactor, UPID("master", options["ip"], options["port"]), None,
            options["max_frame_bytes"],
        )
        self.master = Master(
            self.reactor, self.node,
            allocation_interval=options["allocation_interval"],
            slave_ping_timeout=options["slave_ping_timeout"],
            max_slave_ping_timeouts=options["max_slave_ping_timeouts"],
            hostname=options["hostname"], os_pid=os.getpid(), cluster=options["cluster"],
        )
        endpoint = TCP4ServerEndpoint(
            self.reactor, options["port"], backlog=LISTEN_BACKLOG, interface=options["ip"])
        d = self.node.listen(endpoint, Site(MasterHTTP(
            self.master, flags_json(options, [p[0] for p in Options.optParameters])).resource()))

        def started(port):
            self.master.start()
            return port

        d.addCallback(started)
        d.chainDeferred(self.listening)

    def stopService(self):
        """
        Stop the master and close its port and connections.
        """
        super().stopService()
        if self.master is not None:
            self.master.stop()
        if self.node is not None:
            return self.node.stop()


def makeService(options, reactor=None):
    """
    The master service for parsed C{options}; no I/O happens here.
    """
    if reactor is None:
        from twisted.internet import reactor
    return MasterService(options, reactor)
