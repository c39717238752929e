"""
Garbage collector settings for the daemons (``twistd mesos-master``,
``mesos-slave``, ``mesos-local``): a process of our own, long-lived, that
allocates a few objects per message.

With CPython's defaults a collection of the youngest generation runs every
700 net allocations of container objects, and every tenth of those
collects the middle generation too: with thousands of messages a second
(each a few protobuf wrappers, a Deferred or two, dicts), `mesos-local`
spent 6 to 9% of its CPU in the collector in `launch_throughput.py`'s
runs (0.29 s of 4.5 s in a 10,000-task custom-executor run; 0.08 s with
these settings).  Reference counting frees what holds no cycle whatever
the settings; cycles are still collected, less often.  What the daemon
built while starting (its modules, services, tables) lives as long as the
process: frozen out of the collector, it is not traversed again by every
full collection.

A new leader taking back the slaves the registry lists is the other case
worth care: nearly all it builds then lives on (each slave's record, its
tasks, its connection), so a collection of the middle generation traverses
thousands of survivors and frees little (25 to 72 ms each, two or three a
round, at 10,000 slaves).  L{RecoveryHold} puts those off until the slaves
are back, for a bounded time; the youngest generation is still collected.
"""

import gc

__all__ = ["RECOVERY_HOLD_LIMIT", "YOUNG_THRESHOLD", "RecoveryHold", "tune_collector"]

#: Net allocations of container objects between two collections of the
#: youngest generation (CPython's default is 700).
YOUNG_THRESHOLD = 10_000


def tune_collector(collector=gc, young=YOUNG_THRESHOLD):
    """
    Freeze what exists now out of the collector and collect the youngest
    generation every C{young} allocations.  Called once the reactor runs
    (the daemon has started), by the daemons' command-line entries only:
    a test process keeps CPython's defaults.

    @param collector: the C{gc} module (a fake in tests).
    """
    collector.freeze()
    _, middle, old = collector.get_threshold()
    collector.set_threshold(young, middle, old)


#: Seconds a recovery may put off the older generations' collections, at
#: most (a slave that never comes back must not put them off for the
#: whole C{--slave_reregister_timeout}).
RECOVERY_HOLD_LIMIT = 10.0

#: A middle-generation threshold never reached: only the youngest
#: generation is collected meanwhile.
_NEVER = 2 ** 30


class RecoveryHold:
    """
    Puts off the collections of the middle and oldest generations while a
    new leader recovers (L{hold}) until it is done (L{release}) or for
    C{limit} seconds, whichever comes first.  What they would have freed
    meanwhile (garbage in reference cycles) waits until then: at most
    C{limit} seconds of it.  The daemon's entry gives one to its master;
    tests and embedders get none, and the collector is left alone.

    @param clock: an L{IReactorTime}.
    @param collector: the C{gc} module (a fake in tests).
    """

    def __init__(self, clock, collector=gc, limit=RECOVERY_HOLD_LIMIT):
        self._clock = clock
        self._collector = collector
        self._limit = limit
        self._saved = None
        self._deadline = None

    @property
    def holding(self):
        """
        Whether collections are being put off.
        """
        return self._saved is not None

    def hold(self):
        """
        Put off the older generations' collections (again: a new limit).
        """
        if self._saved is None:
            self._saved = self._collector.get_threshold()
            young = self._saved[0]
            self._collector.set_threshold(young, _NEVER, self._saved[2])
        self._cancel_deadline()
        self._deadline = self._clock.callLater(self._limit, self.release)

    def release(self):
        """
        Collect as before (the middle generation at the next collection of
        the youngest, if it is due).
        """
        self._cancel_deadline()
        if self._saved is not None:
            self._collector.set_threshold(*self._saved)
            self._saved = None

    def _cancel_deadline(self):
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None
