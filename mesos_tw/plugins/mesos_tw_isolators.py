"""
The isolators that ship with mesos_tw, as plugins exactly like a third
party's: C{--isolation=process} (the default), C{cgroups} and C{lxc}.
"""

from zope.interface import implementer

from mesos_tw.isolation.interface import IIsolatorFactory


@implementer(IIsolatorFactory)
class ProcessIsolatorFactory:
    """
    C{--isolation=process}: plain processes, no limits.
    """

    name = "process"
    description = "Each executor is a process in its own session; no resource limits."

    def check(self, options):
        """
        Processes work anywhere.
        """

    def make_isolator(self, reactor, options):
        """
        A L{mesos_tw.isolation.process.ProcessIsolator}.
        """
        from mesos_tw.isolation.process import ProcessIsolator

        return ProcessIsolator(reactor)


process = ProcessIsolatorFactory()
