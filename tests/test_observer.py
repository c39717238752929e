"""
Tests for L{mesos_tw.master.observer}: every slave's health checks on one
timer wheel.
"""

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.master.observer import SLOTS, HealthChecks
from mesos_tw.protocols.messages_pb2 import PingSlaveMessage


class RecordingNode:
    """
    Records what is sent: C{(to, message)} pairs.
    """

    def __init__(self):
        self.sent = []

    def send(self, to, message):
        self.sent.append((to, message))


class HealthChecksTests(SynchronousTestCase):
    """
    Pings once per timeout per slave, from one timer.
    """

    def setUp(self):
        self.clock = Clock()
        self.node = RecordingNode()
        self.checks = HealthChecks(self.clock, self.node, timeout=16.0, max_timeouts=3)
        self.checks.start()
        self.addCleanup(self.checks.stop)
        self.timeouts = []

    def observe(self, pid):
        observer = self.checks.observe(pid, lambda reason: self.timeouts.append((pid, reason)))
        observer.start()
        return observer

    def pings(self, pid):
        return sum(1 for to, message in self.node.sent
                   if to == pid and isinstance(message, PingSlaveMessage))

    def test_one_timer(self):
        """
        A thousand observed slaves cost the reactor one timer.
        """
        for number in range(1000):
            self.observe(f"slave({number})")
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)

    def test_ping_each_timeout_in_its_own_phase(self):
        """
        A slave is pinged when observed, then once per timeout; slaves
        observed at different moments keep their own phases.
        """
        self.observe("a")
        self.clock.advance(8)
        self.observe("b")
        self.assertEqual((self.pings("a"), self.pings("b")), (1, 1))
        for _ in range(SLOTS // 2):
            self.clock.advance(1)
        self.assertEqual((self.pings("a"), self.pings("b")), (2, 1))
        for _ in range(SLOTS // 2):
            self.clock.advance(1)
        self.assertEqual((self.pings("a"), self.pings("b")), (2, 2))

    def test_unanswered_pings_time_out(self):
        """
        The third ping in a row unanswered gives the slave up, once; a slave
        that answers stays.
        """
        self.observe("silent")
        healthy = self.observe("healthy")
        for _ in range(3):
            self.clock.advance(16)
            healthy.pong()
        self.assertEqual(self.timeouts, [("silent", "missed 3 pings in a row")])
        self.clock.advance(64)
        self.assertEqual(len(self.timeouts), 1)

    def test_skipped_steps_served_once(self):
        """
        A reactor that was busy for two whole timeouts serves every slot it
        missed, each slave once.
        """
        observers = [self.observe(f"slave({n})") for n in range(4)]
        for observer in observers:
            observer.pong()
        self.clock.advance(1)
        self.node.sent.clear()
        self.clock.advance(32)
        self.assertEqual(sorted(to for to, _ in self.node.sent),
                         [f"slave({n})" for n in range(4)])

    def test_stopped_observer_not_pinged(self):
        """
        A slave no longer observed gets no more pings.
        """
        observer = self.observe("gone")
        observer.stop()
        self.clock.advance(64)
        self.assertEqual(self.pings("gone"), 1)
        self.assertEqual(self.timeouts, [])
