"""
Hierarchical dominant resource fairness, as Mesos's allocator since 0.12:
roles are ranked by weighted dominant share, and the frameworks of a role by
their own dominant share.  Each slave's free resources go, whole, to the
first framework in that order that wants offers and has not filtered them.

What keeps a cycle cheap at 10,000s of slaves and 1,000s of frameworks:
free resources are kept per slave as they change (nothing is recomputed per
cycle), with the set of slaves that have something worth offering, so a
busy slave costs a cycle one lookup; the sorters move only the framework
that was just offered something (L{mesos_tw.master.sorter.DRFSorter}),
found where the cycle's walk saw it; filters are found by slave, and the
ones that ran out are dropped before a cycle, so its walk past the others
needs no clock; a cycle stops at once when no framework wants offers.

And, as Mesos's allocator does, a cycle asked for by an event visits only
what the events since the last cycle changed: the slaves whose free
resources grew.  Anything that can change who takes a slave nobody took
(a framework coming, waking or reviving, a new whitelist, a filter running
out) makes the next cycle a full one.
"""

from heapq import heappop, heappush

from twisted.logger import Logger
from zope.interface import implementer

from mesos_tw.constants import MIN_CPUS, MIN_MEM
from mesos_tw.master.allocator import IAllocator
from mesos_tw.master.sorter import DRFSorter, dominant_share
from mesos_tw.resources import Resources

__all__ = ["HierarchicalDRFAllocator", "offerable"]

_NOTHING = Resources()


def offerable(free):
    """
    Whether a slave's free resources are worth offering (Mesos's minimum:
    some cpus and 32 MB of memory).
    """
    scalars = free.scalars()
    return scalars.get("cpus", 0.0) >= MIN_CPUS and scalars.get("mem", 0.0) >= MIN_MEM


def _add_to(held, scalars):
    """
    Add C{scalars} (C{{name: amount}}) to C{held}, in place.
    """
    for name, amount in scalars.items():
        held[name] = held.get(name, 0.0) + amount


class _Framework:
    """
    What the allocator knows of a framework.
    """

    __slots__ = ("role", "active", "suppressed")

    def __init__(self, role):
        self.role = role
        self.active = True
        self.suppressed = False


@implementer(IAllocator)
class HierarchicalDRFAllocator:
    """
    Roles by weighted dominant share, then frameworks by dominant share;
    ties go to the smaller name, so the order is deterministic.

    @param weights: C{{role: weight}}; roles not named weigh 1.
    """

    log = Logger()

    def __init__(self, clock, weights=None):
        self._clock = clock
        self._weights = dict(weights or {})
        self._roles = DRFSorter()
        self._sorters = {}
        self._frameworks = {}
        self._wanting = set()
        self._unclaimed = {}
        self._free = {}
        # slave id -> what was in use beyond its total when it was added (a
        # stale report the master accepted): paid back first from what is
        # recovered, so that free resources never exceed the total (Mesos
        # computes them as total minus allocated).
        self._owed = {}
        # The slaves whose free resources are worth offering: a cycle skips
        # the others (in a busy cluster, nearly all) with one lookup.
        self._offerable = set()
        self._slave_totals = {}
        self._hostnames = {}
        # slaves that are disconnected: not offered until activated again
        self._deactivated = set()
        self._totals = {}
        self._whitelist = None
        # slave id -> {framework id: (resources, expiry or None)}
        self._filters = {}
        # framework id -> slave ids it has filters on
        self._filtering = {}
        # What the next changed-only cycle visits (a dict: insertion order).
        self._changed = {}
        self._everything_changed = True
        # Filters' expiries, earliest first: a heap of (expiry, slave id,
        # framework id).  A cycle first drops the filters that have run out,
        # so its walk past the others needs no clock (a dropped or replaced
        # filter's entry stays, and costs at most one needless full cycle).
        self._expiries = []

    # Frameworks.

    def framework_added(self, framework_id, used, role="*"):
        if framework_id in self._frameworks:
            return
        self._frameworks[framework_id] = _Framework(role)
        if role not in self._sorters:
            sorter = self._sorters[role] = DRFSorter()
            sorter.set_totals(self._totals)
            self._roles.add(role, self._weights.get(role, 1.0))
        self._sorters[role].add(framework_id)
        held = self._unclaimed.pop(framework_id, {})
        _add_to(held, used.scalars())
        self._charge(framework_id, held, 1)
        self._wanting.add(framework_id)
        self._everything_changed = True

    def framework_removed(self, framework_id):
        framework = self._frameworks.pop(framework_id, None)
        self._unclaimed.pop(framework_id, None)
        self._wanting.discard(framework_id)
        self._drop_filters(framework_id)
        if framework is None:
            return
        sorter = self._sorters[framework.role]
        # Whatever it still held (the master recovers it first) leaves its
        # role's share with it.
        self._roles.allocated(framework.role, sorter.allocation(framework_id), -1)
        sorter.remove(framework_id)
        if not len(sorter):
            del self._sorters[framework.role]
            self._roles.remove(framework.role)

    def framework_activated(self, framework_id):
        framework = self._frameworks.get(framework_id)
        if framework is not None:
            framework.active = True
            self._update_wanting(framework_id, framework)

    def framework_deactivated(self, framework_id):
        framework = self._frameworks.get(framework_id)
        if framework is not None:
            framework.active = False
            self._update_wanting(framework_id, framework)

    def offers_revived(self, framework_id):
        if self._drop_filters(framework_id):
            self._everything_changed = True
        framework = self._frameworks.get(framework_id)
        if framework is not None:
            framework.suppressed = False
            self._update_wanting(framework_id, framework)

    def offers_suppressed(self, framework_id):
        framework = self._frameworks.get(framework_id)
        if framework is not None:
            framework.suppressed = True
            self._update_wanting(framework_id, framework)

    def resources_requested(self, framework_id, requests):
        self.log.info(
            "Framework {framework_id} requested resources ({count} requests); "
            "requests are hints and are not acted on, as in Mesos",
            framework_id=framework_id, count=len(requests),
        )

    def _update_wanting(self, framework_id, framework):
        if framework.active and not framework.suppressed:
            if framework_id not in self._wanting:
                self._everything_changed = True
            self._wanting.add(framework_id)
        else:
            self._wanting.discard(framework_id)

    # Slaves.

    def slave_added(self, slave_id, total, used, hostname=None):
        in_use = Resources.sum(used.values())
        for framework_id, resources in used.items():
            scalars = resources.scalars()
            if framework_id in self._frameworks:
                self._charge(framework_id, scalars, 1)
            else:
                _add_to(self._unclaimed.setdefault(framework_id, {}), scalars)
        self._set_free(slave_id, total - in_use)
        if total.contains(in_use):
            self._owed.pop(slave_id, None)
        else:
            self._owed[slave_id] = in_use - total
        self._changed[slave_id] = None
        self._slave_totals[slave_id] = total
        self._hostnames[slave_id] = hostname
        self._change_totals(total.scalars(), 1)

    def slave_removed(self, slave_id):
        self._free.pop(slave_id, None)
        self._owed.pop(slave_id, None)
        self._offerable.discard(slave_id)
        self._changed.pop(slave_id, None)
        self._deactivated.discard(slave_id)
        self._hostnames.pop(slave_id, None)
        total = self._slave_totals.pop(slave_id, None)
        if total is not None:
            self._change_totals(total.scalars(), -1)
        for framework_id in self._filters.pop(slave_id, {}):
            self._filtering.get(framework_id, set()).discard(slave_id)

    def update_weights(self, weights):
        for role, weight in weights.items():
            self._weights[role] = weight
            if role in self._roles:
                self._roles.set_weight(role, weight)

    def slave_deactivated(self, slave_id):
        if slave_id in self._free:
            self._deactivated.add(slave_id)

    def slave_activated(self, slave_id):
        if slave_id in self._deactivated:
            self._deactivated.discard(slave_id)
            self._changed[slave_id] = None

    def update_whitelist(self, hostnames):
        self._whitelist = None if hostnames is None else set(hostnames)
        self._everything_changed = True

    def _set_free(self, slave_id, free):
        self._free[slave_id] = free
        if offerable(free):
            self._offerable.add(slave_id)
        else:
            self._offerable.discard(slave_id)

    def _change_totals(self, scalars, sign):
        for name, amount in scalars.items():
            left = self._totals.get(name, 0.0) + sign * amount
            if left > 1e-9:
                self._totals[name] = left
            else:
                self._totals.pop(name, None)
        self._roles.set_totals(self._totals)
        for sorter in self._sorters.values():
            sorter.set_totals(self._totals)

    # Resources.

    def _charge(self, framework_id, scalars, sign):
        if not scalars:
            return
        role = self._frameworks[framework_id].role
        self._sorters[role].allocated(framework_id, scalars, sign)
        self._roles.allocated(role, scalars, sign)

    def resources_recovered(self, framework_id, slave_id, resources, refuse_seconds):
        if slave_id in self._free:
            freed = resources
            owed = self._owed.get(slave_id)
            if owed is not None:
                freed, owed = resources - owed, owed - resources
                if any(amount > 1e-9 for amount in owed.scalars().values()):
                    self._owed[slave_id] = owed
                else:
                    del self._owed[slave_id]
            self._set_free(slave_id, self._free[slave_id] + freed)
            self._changed[slave_id] = None
        if framework_id in self._frameworks:
            self._charge(framework_id, resources.scalars(), -1)
        elif framework_id in self._unclaimed:
            held = self._unclaimed[framework_id]
            for name, amount in resources.scalars().items():
                held[name] = max(0.0, held.get(name, 0.0) - amount)
        if refuse_seconds and resources and framework_id in self._frameworks \
                and slave_id in self._free:
            expiry = None if refuse_seconds < 0 else self._clock.seconds() + refuse_seconds
            if expiry is not None:
                heappush(self._expiries, (expiry, slave_id, framework_id))
            self._filters.setdefault(slave_id, {})[framework_id] = (resources, expiry)
            self._filtering.setdefault(framework_id, set()).add(slave_id)

    def _drop_filters(self, framework_id):
        """
        Forget the framework's filters; whether it had any.
        """
        slave_ids = self._filtering.pop(framework_id, ())
        for slave_id in slave_ids:
            filters = self._filters.get(slave_id)
            if filters is not None:
                filters.pop(framework_id, None)
                if not filters:
                    del self._filters[slave_id]
        return bool(slave_ids)

    # Shares, for the master's state and the tests.

    def dominant_share(self, framework_id):
        """
        The framework's largest share of any scalar resource (what it was
        offered and has not given back, and what its tasks use).
        """
        framework = self._frameworks.get(framework_id)
        if framework is not None:
            return self._sorters[framework.role].share(framework_id)
        return dominant_share(self._unclaimed.get(framework_id, {}), self._totals)

    def role_share(self, role):
        """
        The role's dominant share (not weighted).
        """
        return self._roles.share(role) if role in self._roles else 0.0

    # Offers.

    def allocate(self, changed_only=False):
        offers = []
        now = self._clock.seconds()
        expiries, all_filters = self._expiries, self._filters
        while expiries and expiries[0][0] <= now:
            _, slave_id, framework_id = heappop(expiries)
            self._everything_changed = True
            filters = all_filters.get(slave_id)
            entry = None if filters is None else filters.get(framework_id)
            if entry is not None and entry[1] is not None and entry[1] <= now:
                del filters[framework_id]
                if not filters:
                    del all_filters[slave_id]
                self._filtering.get(framework_id, set()).discard(slave_id)
        if changed_only and not self._everything_changed:
            free_slaves = self._free
            visited = [(slave_id, free_slaves[slave_id]) for slave_id in self._changed]
        else:
            visited = self._free.items()
            self._everything_changed = False
        self._changed = {}
        if not self._wanting:
            return offers
        # The inner loop of the master's busiest moments, so written out:
        # each slave goes, whole, to the first framework in hierarchical DRF
        # order (roles by weighted share, then the role's frameworks) that
        # wants offers and has no filter covering it.  The sorters' lines
        # are read in place (only the two updates per offer below change
        # them during the cycle, and those move one entry within a line),
        # and the taker's place in each line, found by the walk, spares the
        # updates a search.
        whitelist, hostnames = self._whitelist, self._hostnames
        free_slaves, takeable = self._free, self._offerable
        deactivated, roles, sorters = self._deactivated, self._roles, self._sorters
        wanting = self._wanting
        role_line = roles.line()
        lines = {role: sorter.line() for role, sorter in sorters.items()}
        for slave_id, free in visited:
            if slave_id not in takeable or slave_id in deactivated:
                continue
            if whitelist is not None and hostnames.get(slave_id) not in whitelist:
                continue
            filters = all_filters.get(slave_id)
            taker = None
            for role_index, (_, role) in enumerate(role_line):
                for index, (_, framework_id) in enumerate(lines[role]):
                    if framework_id not in wanting:
                        continue
                    entry = None if filters is None else filters.get(framework_id)
                    if entry is None:
                        taker = framework_id
                        break
                    # A filter holds back only offers it covers: more
                    # resources on the slave (a task ended) make the offer
                    # worth sending again.
                    refused = entry[0]
                    if not (refused is free or refused.contains(free)):
                        taker = framework_id
                        break
                if taker is not None:
                    break
            if taker is None:
                continue
            offers.append((taker, slave_id, free))
            free_slaves[slave_id] = _NOTHING
            takeable.discard(slave_id)
            scalars = free.scalars()
            sorters[role].grow(taker, scalars, index)
            roles.grow(role, scalars, role_index)
        return offers
