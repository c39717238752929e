"""
C{twistd mesos-services}: Marathon's flags, and a service that serves the
REST API and, while leading, runs the scheduler.
"""

import socket

from twisted.application import strports
from twisted.application.service import MultiService
from twisted.python import usage
from twisted.web.server import Site

from mesos_tw.detector import DetectorError, resolve_master
from mesos_tw.services.api import ServicesAPI
from mesos_tw.services.leadership import Leadership
from mesos_tw.zookeeper import ZooKeeperURL, ZooKeeperURLError

__all__ = ["Options", "makeService"]

#: Marathon's default --failover_timeout: a week.
FAILOVER_TIMEOUT = 604800.0


class Options(usage.Options):
    """
    Marathon's flags, where they apply.
    """

    optParameters = [
        ["master", None, None, "the Mesos master: host:port, zk://host:port/path, or "
                               "file:///path holding one"],
        ["zk", None, None, "zk://host:port[,host:port]/path where the state and the leader "
                           "election live (in memory, one instance, when absent)"],
        ["http_port", None, 8080, "port of the REST API and the services page", int],
        ["hostname", None, None, "the hostname to advertise (default: this host's name)"],
        ["framework_name", None, "mesos-services", "the framework's name"],
        ["failover_timeout", None, FAILOVER_TIMEOUT,
         "seconds the master keeps the framework's tasks while no instance leads", float],
        ["zk_session_timeout", None, 10000, "ZooKeeper session timeout, in milliseconds "
                                            "(Marathon's unit)", int],
    ]

    def postOptions(self):
        if not self["master"]:
            raise usage.UsageError("--master is required (host:port or zk://host:port/path)")
        try:
            resolve_master(self["master"])
        except DetectorError as error:
            raise usage.UsageError(f"invalid value for --master: {error}") from None
        if self["zk"]:
            try:
                self["zk"] = ZooKeeperURL.parse(self["zk"])
            except ZooKeeperURLError as error:
                raise usage.UsageError(f"invalid value for --zk: {error}") from None
        if not 0 < self["http_port"] < 65536:
            raise usage.UsageError(f"invalid value for --http_port: {self['http_port']}")
        if self["zk_session_timeout"] <= 0:
            raise usage.UsageError("invalid value for --zk_session_timeout: must be > 0")
        if self["failover_timeout"] < 0:
            raise usage.UsageError("invalid value for --failover_timeout: must be >= 0")
        self["hostname"] = self["hostname"] or socket.gethostname()


def makeService(options, reactor=None):
    """
    The REST API on C{--http_port} and the leadership that runs the
    scheduler.  Nothing starts until the service does.
    """
    if reactor is None:
        from twisted.internet import reactor
    service = MultiService()
    leadership = Leadership(reactor, options["master"], options["zk"] or None,
                            options["hostname"], options["http_port"],
                            options["framework_name"], options["failover_timeout"],
                            zk_session_timeout=options["zk_session_timeout"] / 1000.0)
    leadership.setServiceParent(service)
    info = {"http_config": {"http_port": options["http_port"]},
            "marathon_config": {"master": options["master"], "hostname": options["hostname"],
                                "framework_name": options["framework_name"],
                                "failover_timeout": options["failover_timeout"]},
            "zookeeper_config": {"zk": str(options["zk"]) if options["zk"] else None}}
    api = ServicesAPI(leadership, info)
    strports.service(f"tcp:{options['http_port']}", Site(api.resource())).setServiceParent(
        service)
    return service
