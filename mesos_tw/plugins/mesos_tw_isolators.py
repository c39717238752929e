"""
The isolators that ship with mesos_tw.
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

    def make_isolator(self, reactor, options):
        from mesos_tw.isolation.process import ProcessIsolator

        return ProcessIsolator(reactor)


process = ProcessIsolatorFactory()
