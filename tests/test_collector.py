"""
Tests for L{mesos_tw.collector}: the daemons' garbage collector settings.
"""

from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.collector import YOUNG_THRESHOLD, tune_collector


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
