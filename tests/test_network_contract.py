"""
The L{IMessageNode} contract (L{mesos_tw.testing.network_contract}) run
against the real node over loopback TCP and against the in-memory network
the unit tests use: the fake is verified by the same suite as the real thing.
"""

from twisted.internet import reactor

from mesos_tw.testing.network_contract import MemoryNodes, TCPNodes, make_imessagenode_tests


class TCPMessageNodeTests(make_imessagenode_tests(lambda test: TCPNodes(test, reactor))):
    """
    L{mesos_tw.protocols.network.MessageNode} over loopback TCP.
    """


class MemoryMessageNodeTests(make_imessagenode_tests(MemoryNodes)):
    """
    L{mesos_tw.testing.network.MemoryNode} on a fake clock.
    """
