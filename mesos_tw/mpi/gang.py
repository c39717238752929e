"""
Gang scheduling: an MPI job's ranks start together or not at all.  Offers
are held (not answered) until together they fit every rank; then the job
is placed on them at once.  If that does not happen within the gang
timeout, every held offer is given back.
"""

from dataclasses import dataclass

__all__ = ["Gang", "Placement"]


def _scalar(offer, name):
    return sum(r.scalar.value for r in offer.resources if r.name == name)


@dataclass(frozen=True)
class Placement:
    """
    Where the ranks go: C{hosts} is C{[(offers of one slave, ranks there)]}
    in rank order; C{unused} the held offers left over.
    """

    hosts: tuple
    unused: tuple


class Gang:
    """
    The offers held for C{ranks} ranks of C{cpus} and C{mem} each.

    @ivar held: the offers held, in the order they came.
    """

    def __init__(self, ranks, cpus, mem):
        if ranks < 1:
            raise ValueError(f"an MPI job needs at least one rank, got {ranks}")
        self.ranks = ranks
        self.cpus = cpus
        self.mem = mem
        self.held = []

    def _fits(self, cpus, mem):
        return int(min(cpus / self.cpus + 1e-9, mem / self.mem + 1e-9))

    def capacity(self, offers):
        """
        How many ranks fit in C{offers} (of one slave) together.
        """
        return self._fits(sum(_scalar(o, "cpus") for o in offers),
                          sum(_scalar(o, "mem") for o in offers))

    def hold(self, offer):
        """
        Hold C{offer} if a rank fits in it with what is held of its slave.

        @return: whether it is held (an offer too small for a rank should
            be declined at once).
        """
        same_slave = [o for o in self.held if o.slave_id.value == offer.slave_id.value]
        if self.capacity(same_slave + [offer]) <= self.capacity(same_slave):
            return False
        self.held.append(offer)
        return True

    def forget(self, offer_id):
        """
        Drop a held offer (rescinded by the master).
        """
        self.held = [offer for offer in self.held if offer.id.value != offer_id.value]

    def _by_slave(self):
        slaves = {}
        for offer in self.held:
            slaves.setdefault(offer.slave_id.value, []).append(offer)
        return list(slaves.values())

    def held_ranks(self):
        """
        How many ranks the held offers fit.
        """
        return sum(self.capacity(offers) for offers in self._by_slave())

    def placement(self):
        """
        A L{Placement} of every rank on the held offers, filling the
        roomiest slaves first (fewer hosts, fewer proxies), or L{None}
        while they do not fit them all.
        """
        if self.held_ranks() < self.ranks:
            return None
        slaves = self._by_slave()
        order = sorted(range(len(slaves)), key=lambda i: (-self.capacity(slaves[i]), i))
        left, hosts, unused = self.ranks, [], []
        for index in order:
            offers = slaves[index]
            if left == 0:
                unused.extend(offers)
                continue
            take = min(left, self.capacity(offers))
            hosts.append((tuple(offers), take))
            left -= take
        return Placement(hosts=tuple(hosts), unused=tuple(unused))

    def release(self):
        """
        Stop holding anything; return what was held (to be declined).
        """
        held, self.held = self.held, []
        return held
