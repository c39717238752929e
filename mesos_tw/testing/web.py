"""
A request in memory whose response is written by a push producer
(L{mesos_tw.web.producing}): C{DummyRequest} would call a registered
producer's C{resumeProducing} in a loop, so this one only keeps it.
"""

from twisted.internet.testing import StringTransport
from twisted.web.test.requesthelper import DummyRequest

__all__ = ["ProducerRequest"]


class ProducerRequest(DummyRequest):
    """
    A C{DummyRequest} that keeps the producer registered with it
    (C{producer}, L{None} once unregistered) instead of running it, and
    has a connection (C{channel}, as a real request has until its client
    goes).
    """

    producer = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.transport = self.channel = StringTransport()

    def isSecure(self):
        """
        Whether it came over TLS: in memory, never.
        """
        return False

    def registerProducer(self, producer, streaming):
        """
        Keep the producer.
        """
        self.producer = producer

    def unregisterProducer(self):
        """
        Forget it.
        """
        self.producer = None
