"""
Faults a simulated world suffers, chosen by its seed: a network that
drops, delays, duplicates and reorders messages and cuts links
(L{FaultyNetwork}), and the profiles that say which kinds a run gets.
"""

from mesos_tw.testing.network import MemoryNetwork

__all__ = ["PROFILES", "FaultyNetwork", "parse_profile"]

#: Every kind of fault, by the name a profile uses.
KINDS = ("network", "partition", "crash", "zk")

#: Named mixes; C{--faults} takes one of these or a comma-separated list
#: of kinds.
PROFILES = {"none": (), "all": KINDS}


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
    The in-memory network, with faults: each message may be dropped,
    duplicated or delayed (which reorders it after later ones), as the
    world's random generator decides, when C{network} faults are on.

    @param rng: the world's C{random.Random}.
    @param record: C{record(text)} adds a line to the world's trace.
    @ivar faults: how many faults of each kind were injected.
    """

    #: Per message, when network faults are on.
    DROP, DUPLICATE, DELAY = 0.002, 0.002, 0.01

    def __init__(self, reactor, rng, record):
        MemoryNetwork.__init__(self, reactor)
        self.rng = rng
        self.record = record
        self.enabled = False
        self.faults = {}
        self.partitioned = set()

    def partition(self, a, b):
        """
        Cut C{a} off from C{b}: their connection closes and no new one
        opens until L{heal}.
        """
        self.partitioned.add(frozenset((a, b)))
        self.sever(a, b)
        self.sever(b, a)

    def heal(self, a, b):
        """
        End the partition between C{a} and C{b}.
        """
        self.partitioned.discard(frozenset((a, b)))

    def _connect(self, sender, to):
        if frozenset((sender, to)) in self.partitioned:
            self._connecting.pop((sender, to), None)
            self._tell_lost(sender, to)
            return
        MemoryNetwork._connect(self, sender, to)

    def new_uuid(self):
        """
        Sixteen random bytes from the world's generator (status update
        uuids must replay too).
        """
        return self.rng.getrandbits(128).to_bytes(16, "big")

    def _count(self, kind):
        self.faults[kind] = self.faults.get(kind, 0) + 1

    def deliver(self, sender, to, message):
        if self.enabled:
            roll = self.rng.random()
            name = type(message).__name__
            if roll < self.DROP:
                self._count("drop")
                self.record(f"network drops {name} {sender} -> {to}")
                return
            if roll < self.DROP + self.DUPLICATE:
                self._count("duplicate")
                self.record(f"network duplicates {name} {sender} -> {to}")
                MemoryNetwork.deliver(self, sender, to, message)
            elif roll < self.DROP + self.DUPLICATE + self.DELAY:
                self._count("delay")
                delay = self.rng.uniform(0.05, 2.0)
                self.record(f"network delays {name} {sender} -> {to} by {delay:.2f}s")
                self.reactor.callLater(delay, MemoryNetwork.deliver, self, sender, to, message)
                return
        MemoryNetwork.deliver(self, sender, to, message)
