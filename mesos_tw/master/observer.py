"""
Slave health: the master pings each slave and removes one that misses too
many pongs in a row (Mesos's SlaveObserver).
"""

from twisted.internet.task import LoopingCall

from mesos_tw.protocols.messages_pb2 import PingSlaveMessage

__all__ = ["SlaveObserver"]


class SlaveObserver:
    """
    Pings one slave every C{timeout} seconds.

    @param on_timeout: called with a reason once C{max_timeouts} pings in a
        row have gone unanswered; the observer then stops.
    """

    def __init__(self, clock, node, pid, timeout, max_timeouts, on_timeout):
        self._node = node
        self.pid = pid
        self._max_timeouts = max_timeouts
        self._on_timeout = on_timeout
        self._timeout = timeout
        self._answered = True
        self.missed = 0
        self._loop = LoopingCall(self._ping)
        self._loop.clock = clock

    def start(self):
        """
        Send the first ping now.
        """
        self._loop.start(self._timeout, now=True)

    def stop(self):
        """
        Stop pinging.
        """
        if self._loop.running:
            self._loop.stop()

    def pong(self):
        """
        The slave answered: it is healthy.
        """
        self._answered = True
        self.missed = 0

    def _ping(self):
        if not self._answered:
            self.missed += 1
            if self.missed >= self._max_timeouts:
                self.stop()
                self._on_timeout(f"missed {self.missed} pings in a row")
                return
        self._answered = False
        self._node.send(self.pid, PingSlaveMessage())
