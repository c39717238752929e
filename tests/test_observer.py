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

    def test_first_ping_within_a_timeout(self):
        """
        A slave is not pinged when observed (Mesos pings at once: see the
        module's docstring) but when the wheel reaches its slot, within
        one timeout; then once per timeout.
        """
        self.observe("a")
        self.assertEqual(self.pings("a"), 0)
        self.clock.advance(1)
        self.assertEqual(self.pings("a"), 1)
        self.clock.advance(15)
        self.assertEqual(self.pings("a"), 1)
        self.clock.advance(1)
        self.assertEqual(self.pings("a"), 2)

    def test_slaves_spread_over_the_slots(self):
        """
        Slaves observed at the same moment join the slots in turn: a
        thousand are pinged a sixteenth of them per slot, each once per
        timeout, rather than all at once.
        """
        for number in range(1000):
            self.observe(f"slave({number})")
        counts = []
        for _ in range(SLOTS):
            before = len(self.node.sent)
            self.clock.advance(1)
            counts.append(len(self.node.sent) - before)
        self.assertEqual(sorted(set(counts)), [62, 63])
        self.assertEqual(sum(counts), 1000)

    def test_unanswered_pings_time_out(self):
        """
        The third ping in a row unanswered gives the slave up, once; a slave
        that answers stays.
        """
        self.observe("silent")
        healthy = self.observe("healthy")
        self.clock.advance(2)
        for _ in range(2):
            self.clock.advance(16)
            healthy.pong()
        self.assertEqual(self.timeouts, [])
        self.clock.advance(16)
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
        self.clock.advance(1)
        observer.stop()
        self.clock.advance(64)
        self.assertEqual(self.pings("gone"), 1)
        self.assertEqual(self.timeouts, [])
