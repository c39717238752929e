"""
Faults a simulated world suffers, chosen by its seed: a network that
drops, delays, duplicates and reorders messages and cuts links
(L{FaultyNetwork}), and the profiles that say which kinds a run gets.
"""

from mesos_tw.testing.network import MemoryNetwork

__all__ = ["PROFILES", "FaultyNetwork", "parse_profile"]

#: Every kind of fault, by the name a profile uses.
KINDS = ("network", "partition", "crash", "zk", "slave", "executor", "scheduler", "clock",
         "handler", "stream", "gone")

#: Named mixes; C{--faults} takes one of these or a comma-separated list
#: of kinds.
PROFILES = {
    "none": (),
    "all": KINDS,
    "processes": ("crash", "slave", "executor", "scheduler"),
}


def parse_profile(text):
    """
    The fault kinds C{text} names (a profile's name, or kinds separated by
    commas).

    @raise ValueError: naming an unknown kind.
    """
    if text in PROFILES:
        return frozenset(PROFILES[text])
    kinds = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(kinds - set(KINDS))
    if unknown:
        raise ValueError(f"unknown fault kinds {', '.join(unknown)}; known: "
                         f"{', '.join(KINDS)} (or a profile: {', '.join(PROFILES)})")
    return kinds


class FaultyNetwork(MemoryNetwork):
    """
    The in-memory network, with the faults TCP lets through, as the
    world's random generator decides when C{network} faults are on: a
    message may be lost, and its connection with it (both ends hear that
    the other is gone, as when a TCP connection breaks; what else was on
    its way on it is lost too), or held up on its connection (a slow link),
    its connection's later messages waiting behind it (TCP keeps their
    order).  A held-up message is bytes in flight on its connection: if
    the receiving end closes the connection meanwhile (a master whose term
    ends closes every connection), it is lost with it, as on TCP.
    Messages on one connection are never duplicated or reordered; across
    connections (after a break) they may be, as the protocol's own retries
    make them.

    @param rng: the C{random.Random} its faults are drawn from.
    @param record: C{record(text)} adds a line to the world's trace.
    @param new_uuid: makes the sixteen random bytes of a status update's
        uuid, from the world's seed (they must replay too).
    @ivar faults: how many faults of each kind were injected.
    """

    #: Per message, when network faults are on.
    DROP, DELAY = 0.002, 0.01

    def __init__(self, reactor, rng, record, new_uuid):
        MemoryNetwork.__init__(self, reactor)
        self.new_uuid = new_uuid
        self.rng = rng
        self.record = record
        self.enabled = False
        self.faults = {}
        self.partitioned = set()

    def partition(self, a, b):
        """
        Cut C{a} off from C{b}: their connection breaks (nothing on its way
        arrives) and no new one opens until L{heal}.
        """
        self.partitioned.add(frozenset((a, b)))
        self.break_connection(a, b)

    def heal(self, a, b):
        """
        End the partition between C{a} and C{b}.
        """
        self.partitioned.discard(frozenset((a, b)))

    def _connect(self, sender, to):
        if frozenset((sender, to)) in self.partitioned:
            if self._connecting.pop((sender, to), None) is not None:
                self._tell_lost(sender, to)
            return
        MemoryNetwork._connect(self, sender, to)

    def count(self, kind):
        """
        Count one injected fault of C{kind}.
        """
        self.faults[kind] = self.faults.get(kind, 0) + 1

    def deliver(self, sender, to, message, delay=0.0):
        name = type(message).__name__
        self.record(f"{sender} -> {to}: {name}")
        if self.enabled:
            roll = self.rng.random()
            if roll < self.DROP:
                self.count("drop")
                if self.linked(sender, to) or self.linked(to, sender):
                    self.record(f"network drops {name} {sender} -> {to} and their connection")
                    self.break_connection(sender, to)
                else:
                    # No connection yet: the one this message opens fails,
                    # with what waited for it, and the sender hears so (a
                    # first message is never lost silently: the sender of
                    # one it does not send again would wait for ever).
                    self.record(f"network drops {name} {sender} -> {to}: the connection "
                                "fails")
                    self._connecting.pop((sender, to), None)
                    self.reactor.callLater(0, self._tell_lost, sender, to)
                return
            if roll < self.DROP + self.DELAY:
                self.count("delay")
                delay = self.rng.uniform(0.05, 2.0)
                self.record(f"network holds up {sender} -> {to} for {delay:.2f}s at {name}")
        MemoryNetwork.deliver(self, sender, to, message, delay)
