"""
Tests for L{mesos_tw.collector}: the daemons' garbage collector settings.
"""

import gc

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.collector import RECOVERY_HOLD_LIMIT, YOUNG_THRESHOLD, RecoveryHold, tune_collector
from mesos_tw.master.recovery_progress import RecoveryProgress


class FakeCollector:
    """
    The part of the C{gc} module L{tune_collector} uses, recording calls.
    """

    def __init__(self, threshold=(700, 10, 10)):
        self.threshold = threshold
        self.frozen = 0

    def freeze(self):
        """
        Count a freeze.
        """
        self.frozen += 1

    def get_threshold(self):
        """
        The thresholds now.
        """
        return self.threshold

    def set_threshold(self, *threshold):
        """
        Keep the new thresholds.
        """
        self.threshold = threshold


class TuneCollectorTests(SynchronousTestCase):
    """
    L{tune_collector} freezes what exists and collects the youngest
    generation less often.
    """

    def test_freezes_and_raises_the_young_threshold(self):
        """
        What exists is frozen; the youngest generation's threshold becomes
        L{YOUNG_THRESHOLD}; the older generations' are kept.
        """
        collector = FakeCollector((700, 11, 12))
        tune_collector(collector)
        self.assertEqual((collector.frozen, collector.threshold), (1, (YOUNG_THRESHOLD, 11, 12)))

    def test_young_threshold_given(self):
        """
        The caller may choose the youngest generation's threshold.
        """
        collector = FakeCollector()
        tune_collector(collector, young=5000)
        self.assertEqual(collector.threshold, (5000, 10, 10))


class RecoveryHoldMixin:
    """
    L{RecoveryHold} on a collector given by L{collector}: the fake and
    the real C{gc} module pass the same tests.
    """

    def setUp(self):
        self.clock = Clock()
        self.collector = self.collector_for_test()
        self.before = self.collector.get_threshold()
        self.hold = RecoveryHold(self.clock, self.collector)

    def test_hold_puts_off_older_generations(self):
        """
        While held, the youngest generation keeps its threshold and the
        middle one's is never reached; released, all are as before.
        """
        self.hold.hold()
        young, middle, old = self.collector.get_threshold()
        self.assertEqual((young, old), (self.before[0], self.before[2]))
        self.assertGreaterEqual(middle, 2 ** 30)
        self.assertTrue(self.hold.holding)
        self.hold.release()
        self.assertEqual(self.collector.get_threshold(), self.before)
        self.assertFalse(self.hold.holding)

    def test_limit(self):
        """
        A hold not released ends by itself after its limit.
        """
        self.hold.hold()
        self.clock.advance(RECOVERY_HOLD_LIMIT - 0.1)
        self.assertTrue(self.hold.holding)
        self.clock.advance(0.1)
        self.assertEqual(self.collector.get_threshold(), self.before)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_hold_again(self):
        """
        Holding while held keeps the thresholds of before the first hold,
        and counts the limit from the last; releasing twice is harmless.
        """
        self.hold.hold()
        self.clock.advance(RECOVERY_HOLD_LIMIT / 2)
        self.hold.hold()
        self.clock.advance(RECOVERY_HOLD_LIMIT / 2)
        self.assertTrue(self.hold.holding)
        self.hold.release()
        self.hold.release()
        self.assertEqual(self.collector.get_threshold(), self.before)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_recovery_progress_holds_until_every_slave_is_back(self):
        """
        A new leader's L{RecoveryProgress} holds from the registry's read
        until the last expected slave is back.
        """
        progress = RecoveryProgress(self.clock, expected=2, started=0.0, hold=self.hold)
        self.assertTrue(self.hold.holding)
        progress.slave_back()
        self.assertTrue(self.hold.holding)
        progress.slave_back()
        self.assertFalse(self.hold.holding)
        self.assertEqual(self.collector.get_threshold(), self.before)

    def test_recovery_progress_releases_when_the_term_ends(self):
        """
        A term that ends before every slave is back releases the hold.
        """
        progress = RecoveryProgress(self.clock, expected=2, started=0.0, hold=self.hold)
        progress.slave_back()
        progress.stop()
        self.assertFalse(self.hold.holding)
        self.assertEqual(self.clock.getDelayedCalls(), [])


class FakeCollectorRecoveryHoldTests(RecoveryHoldMixin, SynchronousTestCase):
    """
    L{RecoveryHold} on L{FakeCollector}.
    """

    def collector_for_test(self):
        return FakeCollector((YOUNG_THRESHOLD, 10, 10))


class RealCollectorRecoveryHoldTests(RecoveryHoldMixin, SynchronousTestCase):
    """
    L{RecoveryHold} on the process's own C{gc} module (its thresholds are
    put back after each test).
    """

    def collector_for_test(self):
        self.addCleanup(gc.set_threshold, *gc.get_threshold())
        return gc
