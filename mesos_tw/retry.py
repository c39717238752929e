"""
Doing something again until it works: registration with a master is sent at
once, then after 1 s, 2 s, 4 s, ... up to a cap, until the answer comes.
"""

from mesos_tw.constants import REGISTRATION_BACKOFF_MAX, REGISTRATION_RETRY_INTERVAL

__all__ = ["RetryWithBackoff"]


class RetryWithBackoff:
    """
    Calls C{action} repeatedly on C{clock}, doubling the wait each time up
    to C{maximum}, until L{stop} is called.
    """

    def __init__(self, clock, action, initial=REGISTRATION_RETRY_INTERVAL,
                 maximum=REGISTRATION_BACKOFF_MAX):
        self._clock = clock
        self._action = action
        self._initial = initial
        self._maximum = maximum
        self._interval = initial
        self._call = None

    @property
    def running(self):
        """
        Whether another attempt is scheduled.
        """
        return self._call is not None

    def start(self, delay=0.0):
        """
        (Re)start from the initial interval: act now, or after C{delay}.
        """
        self.stop()
        self._interval = self._initial
        if delay:
            self._call = self._clock.callLater(delay, self._attempt)
        else:
            self._attempt()

    def stop(self):
        """
        Cancel the next attempt.
        """
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None

    def _attempt(self):
        self._call = self._clock.callLater(self._interval, self._attempt)
        self._interval = min(self._interval * 2, self._maximum)
        self._action()
