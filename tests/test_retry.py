"""
Tests for L{mesos_tw.retry.RetryWithBackoff}.
"""

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.retry import RetryWithBackoff


class RetryWithBackoffTests(SynchronousTestCase):
    """
    Attempts now, then after doubling intervals up to a cap, until stopped.
    """

    def setUp(self):
        self.clock = Clock()
        self.attempts = []
        self.retry = RetryWithBackoff(
            self.clock, lambda: self.attempts.append(self.clock.seconds()), 1.0, 4.0,
            jitter=lambda: 1.0)

    def test_backoff(self):
        """
        Attempts come at 0, 1, 3, 7, 11 s: intervals 1, 2, 4, 4.
        """
        self.retry.start()
        for _ in range(11):
            self.clock.advance(1)
        self.assertEqual(self.attempts, [0, 1, 3, 7, 11])

    def test_stop(self):
        """
        After stop, no more attempts.
        """
        self.retry.start()
        self.retry.stop()
        self.clock.advance(100)
        self.assertEqual((self.attempts, self.retry.running), ([0], False))

    def test_delayed_start_resets(self):
        """
        A delayed restart waits, then starts again from the first interval.
        """
        self.retry.start()
        for _ in range(7):
            self.clock.advance(1)
        self.retry.start(delay=2)
        self.clock.advance(2)
        self.clock.advance(1)
        self.assertEqual(self.attempts, [0, 1, 3, 7, 9, 10])

    def test_full_jitter(self):
        """
        Each wait is a fresh draw times the current cap: draws of 0.5, 0.25,
        1.0 and 0.0 wait 0.5 s (of 1), 0.5 s (of 2), 4 s (of 4) and nothing
        (of 4, the maximum); a delayed start draws too (0.5 of 2 s).
        """
        draws = iter([0.5, 0.25, 1.0, 0.0, 0.5, 0.5, 1.0])
        retry = RetryWithBackoff(self.clock, lambda: self.attempts.append(self.clock.seconds()),
                                 1.0, 4.0, jitter=lambda: next(draws))
        retry.start()
        self.clock.advance(0.5)
        self.clock.advance(0.5)
        self.clock.advance(4)
        self.assertEqual(self.attempts, [0, 0.5, 1.0, 5.0, 5.0])
        retry.start(delay=2)
        self.clock.advance(1)
        self.assertEqual(self.attempts[-1], 6.0)

    def test_default_draws_differ(self):
        """
        By default the draws are random: two retries started together
        soon disagree on when to try again.
        """
        first, second = [], []
        a = RetryWithBackoff(self.clock, lambda: first.append(self.clock.seconds()))
        b = RetryWithBackoff(self.clock, lambda: second.append(self.clock.seconds()))
        a.start(delay=1.0)
        b.start(delay=1.0)
        for _ in range(200):
            self.clock.advance(0.1)
        a.stop()
        b.stop()
        self.assertNotEqual(first, second)

    def test_stop_from_the_action(self):
        """
        An action that stops the retry ends it.
        """
        retry = RetryWithBackoff(self.clock, lambda: retry.stop(), 1.0, 4.0)
        retry.start()
        self.assertFalse(retry.running)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_minimum_wait(self):
        """
        A start with a C{minimum} waits that long before its random wait
        (a draw of 0.5 of 2 s after 3 s: 4 s), then backs off as usual.
        """
        retry = RetryWithBackoff(self.clock, lambda: self.attempts.append(self.clock.seconds()),
                                 1.0, 4.0, jitter=lambda: 0.5)
        retry.start(delay=2, minimum=3)
        self.clock.advance(3.9)
        self.assertEqual(self.attempts, [])
        self.clock.advance(0.1)
        self.clock.advance(0.5)
        self.assertEqual(self.attempts, [4.0, 4.5])
