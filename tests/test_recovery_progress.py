"""
Tests for L{mesos_tw.master.recovery_progress}: a new leader logs the
re-registrations of the slaves it expects as counts, at most one line per
interval, and a last line when every one is back.
"""

from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.master.recovery_progress import INTERVAL, RecoveryProgress


class RecoveryProgressTests(SynchronousTestCase):
    """
    Counts, not a line per slave.
    """

    def setUp(self):
        self.clock = Clock()
        self.clock.advance(100)
        self.progress = RecoveryProgress(self.clock, expected=3, started=100.0)
        self.events = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def lines(self):
        """
        The progress's log events, as C{(count, back, repeats)} for a
        progress line and C{"all"} for the last one.
        """
        found = []
        for event in self.events:
            if event.get("log_source") is not self.progress:
                continue
            if "expected" in event and "count" in event:
                found.append((event["count"], event["back"], event["repeats"]))
            else:
                found.append("all")
        return found

    def test_one_line_per_interval(self):
        """
        Re-registrations within one interval make one line, logged when
        the interval has passed; none is logged while nothing happens.
        """
        self.progress.slave_back()
        self.progress.repeat_answered()
        self.progress.repeat_answered()
        self.assertEqual(self.lines(), [])
        self.clock.advance(INTERVAL)
        self.assertEqual(self.lines(), [(1, 1, 2)])
        self.clock.advance(10 * INTERVAL)
        self.assertEqual(self.lines(), [(1, 1, 2)])
        self.progress.slave_back()
        self.clock.advance(INTERVAL)
        self.assertEqual(self.lines(), [(1, 1, 2), (1, 2, 0)])
        self.assertEqual(len(self.clock.getDelayedCalls()), 0)

    def test_last_slave_back(self):
        """
        The last expected slave back logs at once what was counted, then
        a line saying all are back, how long after the registry was read;
        no timer is left.
        """
        self.progress.slave_back()
        self.progress.slave_back()
        self.clock.advance(0.5)
        self.progress.slave_back()
        self.assertEqual(self.lines(), [(3, 3, 0), "all"])
        self.assertEqual(self.events[-1]["seconds"], 0.5)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_repeats_after_all_back(self):
        """
        Repeats answered after every slave is back are still counted and
        logged once per interval.
        """
        for _ in range(3):
            self.progress.slave_back()
        self.progress.repeat_answered()
        self.clock.advance(INTERVAL)
        self.assertEqual(self.lines(), [(3, 3, 0), "all", (0, 3, 1)])
        self.assertEqual(self.progress.repeated, 1)

    def test_stop(self):
        """
        A term ending logs what was counted and leaves no timer.
        """
        self.progress.slave_back()
        self.progress.stop()
        self.assertEqual(self.lines(), [(1, 1, 0)])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_last_slave_gone(self):
        """
        An expected slave marked gone is accounted for: when the others are
        back, the last line says how many were marked gone; no timer is
        left.
        """
        self.progress.slave_back()
        self.progress.slave_gone()
        self.assertEqual(self.lines(), [])
        self.progress.slave_back()
        self.assertEqual(self.lines(), [(2, 2, 0), "all"])
        self.assertEqual((self.events[-1]["gone"], self.progress.gone), (1, 1))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_gone_last(self):
        """
        The last expected slave marked gone (the others back) ends the
        count as the last one back would.
        """
        self.progress.slave_back()
        self.progress.slave_back()
        self.progress.slave_gone()
        self.assertEqual(self.lines(), [(2, 2, 0), "all"])
        self.assertEqual(self.clock.getDelayedCalls(), [])
