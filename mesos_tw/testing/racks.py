"""
A real master and real slaves in the test's process, each slave with a
hostname and a C{rack} attribute of its own (mesos-local gives every slave
the same ones), for functional tests of placement: data locality, racks,
roles.
"""

import os

from twisted.internet.defer import inlineCallbacks

from mesos_tw.detector import StandaloneDetector
from mesos_tw.master import tap as master_tap
from mesos_tw.protocols.upid import UPID
from mesos_tw.slave import tap as slave_tap
from mesos_tw.testing.local_cluster import until

__all__ = ["RackedCluster", "rack_layout"]


def rack_layout(racks, per_rack):
    """
    C{{hostname: rack}} for C{racks} racks of C{per_rack} hosts:
    C{h1..hN} in C{r1..rR}, filled rack by rack.
    """
    return {f"h{rack * per_rack + index + 1}": f"r{rack + 1}"
            for rack in range(racks) for index in range(per_rack)}


class RackedCluster:
    """
    A master on a free port; L{add_slaves} starts slaves on it.

    @ivar port: the master's port, once L{start} has fired.
    @ivar slaves: C{{hostname: SlaveService}}.
    """

    def __init__(self, test, reactor, *master_flags):
        self.test = test
        self.reactor = reactor
        self.work_dir = os.path.abspath(test.mktemp())
        options = master_tap.Options(environ={})
        options.parseOptions(["--port=0", *master_flags])
        self.master_service = master_tap.makeService(options, reactor)
        self.port = None
        self.slaves = {}

    @property
    def master(self):
        """
        The leading L{Master}.
        """
        return self.master_service.master

    @inlineCallbacks
    def start(self):
        """
        Start the master (stopped at the test's cleanup).
        """
        self.master_service.startService()
        self.test.addCleanup(self.master_service.stopService)
        self.port = (yield self.master_service.listening).getHost().port
        return self

    @inlineCallbacks
    def add_slaves(self, layout, resources="cpus:1;mem:256;disk:100", *slave_flags):
        """
        Start a slave for each C{hostname: rack} of C{layout}, offering
        C{resources}; fire once all of them have registered.
        """
        master = UPID("master", "127.0.0.1", self.port)
        for hostname, rack in layout.items():
            options = slave_tap.Options(environ={})
            options.parseOptions([
                f"--master=127.0.0.1:{self.port}", "--port=0", f"--hostname={hostname}",
                f"--attributes=rack:{rack}", f"--resources={resources}",
                f"--work_dir={os.path.join(self.work_dir, hostname)}", *slave_flags])
            service = slave_tap.SlaveService(
                options, self.reactor, detector=StandaloneDetector(master), port=0)
            service.startService()
            self.test.addCleanup(service.stopService)
            self.slaves[hostname] = service
        total = len(self.slaves)
        yield until(self.reactor, lambda: len(self.master.slaves) == total,
                    f"{total} slave(s) to register")
        return self
