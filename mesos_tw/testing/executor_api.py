"""
Test support for the slave's v1 executor API: an isolator factory whose
fake isolator hands over each launch's environment, and a reader of a
subscription's RecordIO stream.
"""

import json

from twisted.internet.defer import Deferred, succeed
from twisted.internet.protocol import Protocol

from mesos_tw.testing.isolation import FakeIsolator
from mesos_tw.testing.v1 import RecordIOReader

__all__ = ["LaunchRecordingIsolator", "RecordIOStream", "RecordingIsolatorFactory"]


class LaunchRecordingIsolator(FakeIsolator):
    """
    A fake isolator that also hands each launch's environment to whoever
    waits for it (L{next_launch}).
    """

    def __init__(self, clock=None):
        super().__init__(clock)
        self._waiting = []
        self._environments = []

    def launch(self, framework_id, executor_id, environment):
        """
        Launch as the fake does, then pass on the environment.
        """
        d = super().launch(framework_id, executor_id, environment)
        if self._waiting:
            self._waiting.pop(0).callback(environment)
        else:
            self._environments.append(environment)
        return d

    def next_launch(self):
        """
        A Deferred firing with the environment of the next executor
        launched (or of one launched and not yet asked for).
        """
        if self._environments:
            return succeed(self._environments.pop(0))
        d = Deferred()
        self._waiting.append(d)
        return d


class RecordingIsolatorFactory:
    """
    Stands in for C{--isolation}'s factory: makes one
    L{LaunchRecordingIsolator}.
    """

    def __init__(self):
        self.isolator = LaunchRecordingIsolator()

    def make_isolator(self, reactor, options):
        """
        Our isolator, on C{reactor}.
        """
        self.isolator.clock = reactor
        return self.isolator


class RecordIOStream(Protocol):
    """
    Reads a subscription's stream into a L{RecordIOReader} (which parses
    records with C{parse}); C{done} fires when it ends, and L{close} drops
    the connection.
    """

    def __init__(self, parse=json.loads):
        self.reader = RecordIOReader(parse)
        self.done = Deferred()

    def dataReceived(self, data):
        """
        Feed the reader.
        """
        self.reader.feed(data)

    def connectionLost(self, reason):
        """
        The stream ended (or was cut).
        """
        self.done.callback(None)

    def close(self):
        """
        Drop the connection (if it is still open) and wait for the end.
        """
        if not self.done.called:
            self.transport.stopProducing()
        return self.done
