"""
The allocator decides which framework is offered which slave's free
resources.  The master tells it what happens (frameworks and slaves come and
go, resources are used and given back) and asks it for offers.

L{DRFAllocator} is Mesos's dominant resource fairness: the framework with the
smallest dominant share (its largest fraction of any scalar resource in the
cluster) is offered first.
"""

from twisted.logger import Logger
from zope.interface import Interface, implementer

from mesos_tw.constants import MIN_CPUS, MIN_MEM
from mesos_tw.resources import Resources

__all__ = ["DRFAllocator", "IAllocator"]


class IAllocator(Interface):
    """
    What the master tells an allocator, and what it asks of it.

    Resources offered to a framework count as allocated to it until they are
    recovered (declined, unused, or freed when its tasks end).
    """

    def framework_added(framework_id, used):
        """
        A framework registered; C{used} is what it already holds.
        """

    def framework_removed(framework_id):
        """
        A framework is gone; its resources were already recovered.
        """

    def framework_activated(framework_id):
        """
        The framework (re)connected and wants offers.
        """

    def framework_deactivated(framework_id):
        """
        The framework disconnected: offer it nothing until it comes back.
        """

    def slave_added(slave_id, total, used):
        """
        A slave with C{total} resources joined; C{used} maps framework ids to
        what they already run there.
        """

    def slave_removed(slave_id):
        """
        A slave is gone, and everything on it.
        """

    def resources_recovered(framework_id, slave_id, resources, refuse_seconds):
        """
        C{framework_id} gives back C{resources} on C{slave_id}.  A positive
        C{refuse_seconds} keeps them from being offered to that framework
        again for that long; a negative one, until it revives.
        """

    def offers_revived(framework_id):
        """
        Drop every filter the framework has.
        """

    def resources_requested(framework_id, requests):
        """
        The framework asked for resources (a hint; may only be logged).
        """

    def allocate():
        """
        Decide offers now.

        @return: a list of C{(framework_id, slave_id, Resources)}.
        """


def _offerable(free):
    """
    Whether a slave's free resources are worth offering (Mesos's minimum).
    """
    return free.scalar("cpus") >= MIN_CPUS and free.scalar("mem") >= MIN_MEM


@implementer(IAllocator)
class DRFAllocator:
    """
    Dominant resource fairness over frameworks; ties go to the smaller
    framework id, so the order is deterministic.
    """

    log = Logger()

    def __init__(self, clock):
        self._clock = clock
        self._total = Resources()
        self._slave_totals = {}
        self._slaves = {}
        self._allocated = {}
        self._active = set()
        self._filters = {}

    def framework_added(self, framework_id, used):
        # Re-registered slaves may already have reported what the framework
        # runs on them (after a master failover): add to it.
        self._allocated[framework_id] = self._allocated.get(framework_id, Resources()) + used
        self._active.add(framework_id)

    def framework_removed(self, framework_id):
        self._allocated.pop(framework_id, None)
        self._active.discard(framework_id)
        for key in [k for k in self._filters if k[0] == framework_id]:
            del self._filters[key]

    def framework_activated(self, framework_id):
        self._active.add(framework_id)

    def framework_deactivated(self, framework_id):
        self._active.discard(framework_id)

    def slave_added(self, slave_id, total, used):
        in_use = Resources()
        for framework_id, resources in used.items():
            in_use = in_use + resources
            self._allocated[framework_id] = self._allocated.get(framework_id, Resources()) + resources
        self._slaves[slave_id] = total - in_use
        self._total = self._total + total
        self._slave_totals[slave_id] = total

    def slave_removed(self, slave_id):
        self._slaves.pop(slave_id, None)
        total = self._slave_totals.pop(slave_id, Resources())
        self._total = self._total - total
        for key in [k for k in self._filters if k[1] == slave_id]:
            del self._filters[key]

    def resources_recovered(self, framework_id, slave_id, resources, refuse_seconds):
        if slave_id in self._slaves:
            self._slaves[slave_id] = self._slaves[slave_id] + resources
        if framework_id in self._allocated:
            self._allocated[framework_id] = self._allocated[framework_id] - resources
        if refuse_seconds and resources and framework_id in self._allocated:
            expiry = None if refuse_seconds < 0 else self._clock.seconds() + refuse_seconds
            self._filters[(framework_id, slave_id)] = (resources, expiry)

    def offers_revived(self, framework_id):
        for key in [k for k in self._filters if k[0] == framework_id]:
            del self._filters[key]

    def resources_requested(self, framework_id, requests):
        self.log.info(
            "Framework {framework_id} requested resources ({count} requests); "
            "requests are hints and are not acted on",
            framework_id=framework_id, count=len(requests),
        )

    def dominant_share(self, framework_id):
        """
        The framework's largest share of any scalar resource.
        """
        allocated = self._allocated.get(framework_id, Resources())
        share = 0.0
        for name, amount in allocated.scalars().items():
            total = self._total.scalar(name)
            if total > 0:
                share = max(share, amount / total)
        return share

    def _filtered(self, framework_id, slave_id, free, now):
        entry = self._filters.get((framework_id, slave_id))
        if entry is None:
            return False
        resources, expiry = entry
        if expiry is not None and expiry <= now:
            del self._filters[(framework_id, slave_id)]
            return False
        # A filter holds back only offers it covers: new resources on the
        # slave (a task ended) make the offer worth sending again.
        return resources.contains(free)

    def allocate(self):
        now = self._clock.seconds()
        offers = []
        if not self._active:
            return offers
        order = sorted(self._active, key=lambda f: (self.dominant_share(f), f))
        for slave_id in sorted(self._slaves):
            free = self._slaves[slave_id]
            if not _offerable(free):
                continue
            for index, framework_id in enumerate(order):
                if self._filtered(framework_id, slave_id, free, now):
                    continue
                offers.append((framework_id, slave_id, free))
                self._slaves[slave_id] = Resources()
                self._allocated[framework_id] = self._allocated[framework_id] + free
                order.pop(index)
                share = self.dominant_share(framework_id)
                position = 0
                while position < len(order) and (self.dominant_share(order[position]), order[position]) < (share, framework_id):
                    position += 1
                order.insert(position, framework_id)
                break
        return offers
