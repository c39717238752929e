"""
A fake L{Hydra <mesos_tw.mpi.hydra.Hydra>} for unit tests of the MPI
scheduler: nothing is spawned; the test fires its launch lines and its
exit itself.
"""

from twisted.internet.defer import Deferred

__all__ = ["FakeHydra"]


class FakeHydra:
    """
    Records how it was made and whether it was started or killed.

    @ivar instances: every L{FakeHydra} made, newest last (class-wide; a
        test resets it in its set-up).
    """

    instances = []

    def __init__(self, reactor, hosts, argv, on_output, on_error, mpiexec="mpiexec",
                 extra_args=()):
        self.hosts = list(hosts)
        self.argv = list(argv)
        self.on_output = on_output
        self.launches = Deferred()
        self.exited = Deferred()
        self.started = False
        self.killed = False
        FakeHydra.instances.append(self)

    def start(self):
        """
        Record the start.
        """
        self.started = True

    def kill(self):
        """
        Record the kill.
        """
        self.killed = True

    def print_launches(self):
        """
        Fire L{launches} with a proxy command per host.
        """
        self.launches.callback({
            index: ["hydra_pmi_proxy", "--control-port", "here:1", "--proxy-id", str(index)]
            for index in range(len(self.hosts))})
