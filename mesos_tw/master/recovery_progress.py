"""
A new leader's log of the slaves it expects back: after a failover every
slave the registry lists re-registers within seconds, and one log line
each (as Mesos writes) cost the master about a third of its time at
10,000 slaves.  Their re-registrations are counted instead, and the count
is logged at most once per L{INTERVAL}, with a last line when the last of
them is back.
"""

from twisted.logger import Logger

__all__ = ["INTERVAL", "RecoveryProgress"]

#: Seconds between two progress lines.
INTERVAL = 1.0


class RecoveryProgress:
    """
    Counts the re-registrations of the C{expected} slaves a new leader
    read from the registry at C{started} (seconds on C{clock}) and logs
    their progress.

    @param hold: a L{mesos_tw.collector.RecoveryHold}, held from now until
        each of them is back or marked gone, or the term ends, or L{None}.
    """

    log = Logger()

    def __init__(self, clock, expected, started, hold=None):
        self._clock = clock
        self._hold = hold
        if hold is not None:
            hold.hold()
        self.expected = expected
        self.started = started
        self.back = 0
        self.gone = 0
        self.repeated = 0
        self._since_line = 0
        self._repeated_since_line = 0
        self._call = None

    def slave_back(self):
        """
        One of the expected slaves re-registered.
        """
        self.back += 1
        self._since_line += 1
        if not self._accounted_for():
            self._soon()

    def slave_gone(self):
        """
        One of the expected slaves was marked gone by an operator before it
        came back: no longer expected.
        """
        self.gone += 1
        self._accounted_for()

    def _accounted_for(self):
        """
        If every expected slave is back or gone, log it (once) and release
        the hold; whether they all are.
        """
        if self.back + self.gone < self.expected:
            return False
        self._release()
        self._line()
        seconds = self._clock.seconds() - self.started
        if self.gone:
            self.log.info("Every one of the {expected} slaves the registry listed re-registered "
                          "or was marked gone ({gone}), {seconds:.2f}s after it was read",
                          expected=self.expected, gone=self.gone, seconds=seconds)
        else:
            self.log.info("Every one of the {expected} slaves the registry listed re-registered, "
                          "{seconds:.2f}s after it was read", expected=self.expected,
                          seconds=seconds)
        return True

    def repeat_answered(self):
        """
        A slave repeated a re-registration already answered (it retried
        before the answer reached it) and was answered again.
        """
        self.repeated += 1
        self._repeated_since_line += 1
        self._soon()

    def stop(self):
        """
        The term ended: log what was not yet logged, and no more.
        """
        self._release()
        self._line()

    def _release(self):
        if self._hold is not None:
            self._hold.release()
            self._hold = None

    def _soon(self):
        if self._call is None:
            self._call = self._clock.callLater(INTERVAL, self._line)

    def _line(self):
        if self._call is not None:
            if self._call.active():
                self._call.cancel()
            self._call = None
        if not self._since_line and not self._repeated_since_line:
            return
        self.log.info("{count} more of the slaves the registry listed re-registered "
                      "({back} of {expected} now, {seconds:.2f}s after the registry was read); "
                      "{repeats} repeated re-registrations answered again",
                      count=self._since_line, back=self.back, expected=self.expected,
                      seconds=self._clock.seconds() - self.started,
                      repeats=self._repeated_since_line)
        self._since_line = self._repeated_since_line = 0
