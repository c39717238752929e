"""
Hierarchical dominant resource fairness, as Mesos's allocator since 0.12:
roles are ranked by weighted dominant share, and the frameworks of a role by
their own dominant share.  Each slave's free resources go, whole, to the
first framework in that order that wants offers and has not filtered them.

What keeps a cycle cheap at 10,000s of slaves and 1,000s of frameworks:
everything a cycle reads of a slave is in one record (free resources, kept
as they change, whether they can be taken, the filters on it), so a busy
slave costs a cycle one attribute read, and a free one no lookup in a
table of every slave; the sorters move only the framework that was just
offered something and its role, in one pass
(L{mesos_tw.master.sorter.DRFSorter.grow_with}), from where the cycle's
walk saw them; a slave nobody filtered goes to the first in line without
a walk when every framework wants offers; the filters that ran out are
dropped before a cycle, so its walk past the others needs no clock; a
cycle stops at once when no framework wants offers.

And, as Mesos's allocator does, a cycle asked for by an event visits only
what the events since the last cycle changed: the slaves whose free
resources grew.  Anything that can change who takes a slave nobody took
(a framework coming, waking or reviving, a new whitelist, a filter running
out) makes the next cycle a full one.
"""

from heapq import heapify, heappop, heappush

from twisted.logger import Logger
from zope.interface import implementer

from mesos_tw.constants import MIN_CPUS, MIN_MEM
from mesos_tw.master.allocator import IAllocator
from mesos_tw.master.sorter import DRFSorter, dominant_share
from mesos_tw.resources import Resources

__all__ = ["HierarchicalDRFAllocator", "offerable"]

_NOTHING = Resources()
_NO_FILTERS = {}

#: The fewest entries of the expiry heap worth compacting.
_MIN_EXPIRIES_COMPACTED = 1024


def _expiries_of(slave):
    """
    C{(framework id, expiry)} of the filters on C{slave} (a L{_Slave} or
    L{None}) that run out.
    """
    return slave.expiries.items() if slave is not None and slave.expiries else ()


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


class _Slave:
    """
    What the allocator knows of a slave: one record, so that a cycle's
    visit to a slave reads one object rather than several tables.

    @ivar takeable: whether a cycle may offer it: its free resources are
        worth offering (L{offerable}) and it is not deactivated.
    @ivar filters: L{None}, or C{{framework id: the resources it refused
        here}}: what a cycle's walk reads, so the value is the bag itself.
    @ivar expiries: L{None}, or C{{framework id: expiry}} for the filters
        that run out.
    @ivar owed: L{None}, or what was in use beyond the slave's total when it
        was added (a stale report the master accepted): paid back first
        from what is recovered, so that free resources never exceed the
        total (Mesos computes them as total minus allocated).
    """

    __slots__ = ("total", "hostname", "free", "active", "takeable", "filters", "expiries",
                 "owed")

    def __init__(self, total, free, hostname):
        self.total = total
        self.hostname = hostname
        self.active = True
        self.filters = None
        self.expiries = None
        self.owed = None
        self.set_free(free)

    def set_free(self, free):
        """
        New free resources (and whether a cycle may offer them).
        """
        self.free = free
        self.takeable = self.active and offerable(free)

    def forget_filter(self, framework_id):
        """
        Drop the framework's filter here, if it has one.
        """
        if self.filters is not None:
            self.filters.pop(framework_id, None)
            if not self.filters:
                self.filters = None
        self.forget_expiry(framework_id)

    def forget_expiry(self, framework_id):
        """
        The framework's filter here (if any) no longer runs out.
        """
        if self.expiries is not None:
            self.expiries.pop(framework_id, None)
            if not self.expiries:
                self.expiries = None


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
        # slave id -> _Slave, in the order slaves came (a cycle's order)
        self._slaves = {}
        self._totals = {}
        self._whitelist = None
        # framework id -> slave ids it has filters on
        self._filtering = {}
        # What the next changed-only cycle visits (a dict: insertion order).
        self._changed = {}
        self._everything_changed = True
        # Filters' expiries, earliest first: a heap of (expiry, slave id,
        # framework id).  A cycle first drops the filters that have run out,
        # so its walk past the others needs no clock (a dropped or replaced
        # filter's entry stays until it runs out, and is then skipped).
        # Stale entries are dropped when they outnumber the live ones (see
        # _compact_expiries), so the heap stays bounded by the filters alive.
        self._expiries = []
        self._compact_expiries_at = _MIN_EXPIRIES_COMPACTED

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
        # Most slaves hold one framework's work (or none): its bag is the
        # sum, with no new bag made (a new leader adds thousands a second).
        if not used:
            in_use = _NOTHING
        elif len(used) == 1:
            in_use = next(iter(used.values()))
        else:
            in_use = Resources.sum(used.values())
        # The totals first: they leave every sorter to re-sort when next
        # read, so the charges below need not move anyone in line (the
        # re-sort places everyone, as it would have after them).
        self._change_totals(total.scalars(), 1)
        for framework_id, resources in used.items():
            scalars = resources.scalars()
            if framework_id in self._frameworks:
                self._charge(framework_id, scalars, 1)
            else:
                _add_to(self._unclaimed.setdefault(framework_id, {}), scalars)
        owed = None if total.contains(in_use) else in_use - total
        slave = self._slaves.get(slave_id)
        if slave is None:
            slave = self._slaves[slave_id] = _Slave(total, total - in_use, hostname)
        else:
            # Added again without being removed: the new figures, and what
            # the slave had (its filters, whether it was deactivated).
            slave.total, slave.hostname = total, hostname
            slave.set_free(total - in_use)
        slave.owed = owed
        self._changed[slave_id] = None

    def slave_removed(self, slave_id):
        self._changed.pop(slave_id, None)
        slave = self._slaves.pop(slave_id, None)
        if slave is None:
            return
        self._change_totals(slave.total.scalars(), -1)
        for framework_id in slave.filters or ():
            self._filtering.get(framework_id, set()).discard(slave_id)

    def update_weights(self, weights):
        for role, weight in weights.items():
            self._weights[role] = weight
            if role in self._roles:
                self._roles.set_weight(role, weight)

    def slave_deactivated(self, slave_id):
        slave = self._slaves.get(slave_id)
        if slave is not None:
            slave.active = False
            slave.takeable = False

    def slave_activated(self, slave_id):
        slave = self._slaves.get(slave_id)
        if slave is not None and not slave.active:
            slave.active = True
            slave.set_free(slave.free)
            self._changed[slave_id] = None

    def update_whitelist(self, hostnames):
        self._whitelist = None if hostnames is None else set(hostnames)
        self._everything_changed = True

    def _change_totals(self, scalars, sign):
        # A new dict, never changed once made: the sorters keep it.
        totals = dict(self._totals)
        for name, amount in scalars.items():
            left = totals.get(name, 0.0) + sign * amount
            if left > 1e-9:
                totals[name] = left
            else:
                totals.pop(name, None)
        self._totals = totals
        self._roles.set_totals(totals)
        for sorter in self._sorters.values():
            sorter.set_totals(totals)

    # Resources.

    def _charge(self, framework_id, scalars, sign):
        if not scalars:
            return
        role = self._frameworks[framework_id].role
        self._sorters[role].allocated(framework_id, scalars, sign)
        self._roles.allocated(role, scalars, sign)

    def resources_recovered(self, framework_id, slave_id, resources, refuse_seconds):
        slave = self._slaves.get(slave_id)
        if slave is not None:
            freed = resources
            owed = slave.owed
            if owed is not None:
                freed, owed = resources - owed, owed - resources
                paid = not any(amount > 1e-9 for amount in owed.scalars().values())
                slave.owed = None if paid else owed
            slave.set_free(slave.free + freed)
            self._changed[slave_id] = None
        if framework_id in self._frameworks:
            self._charge(framework_id, resources.scalars(), -1)
        elif framework_id in self._unclaimed:
            held = self._unclaimed[framework_id]
            for name, amount in resources.scalars().items():
                held[name] = max(0.0, held.get(name, 0.0) - amount)
        if refuse_seconds and resources and framework_id in self._frameworks \
                and slave is not None:
            if slave.filters is None:
                slave.filters = {}
            slave.filters[framework_id] = resources
            self._filtering.setdefault(framework_id, set()).add(slave_id)
            if refuse_seconds < 0:
                slave.forget_expiry(framework_id)
            else:
                expiry = self._clock.seconds() + refuse_seconds
                heappush(self._expiries, (expiry, slave_id, framework_id))
                if len(self._expiries) > self._compact_expiries_at:
                    self._compact_expiries()
                if slave.expiries is None:
                    slave.expiries = {}
                slave.expiries[framework_id] = expiry

    def _compact_expiries(self):
        """
        Rebuild the expiry heap from the filters alive (a framework that
        declines the same slave again and again with a long filter leaves
        one stale entry per decline).  The next compaction waits until the
        heap has doubled, so each costs no more than the pushes before it.
        """
        filtered = {slave_id for slave_ids in self._filtering.values() for slave_id in slave_ids}
        self._expiries = [(expiry, slave_id, framework_id) for slave_id in filtered
                          for framework_id, expiry in _expiries_of(self._slaves.get(slave_id))]
        heapify(self._expiries)
        self._compact_expiries_at = max(_MIN_EXPIRIES_COMPACTED, 2 * len(self._expiries))

    def _drop_filters(self, framework_id):
        """
        Forget the framework's filters; whether it had any.
        """
        slave_ids = self._filtering.pop(framework_id, ())
        slaves = self._slaves
        for slave_id in slave_ids:
            slave = slaves.get(slave_id)
            if slave is not None:
                slave.forget_filter(framework_id)
        return bool(slave_ids)

    # For checks from outside (the simulator's).

    def free_resources(self):
        """
        Each slave's free resources: C{{slave id: Resources}} (a new dict).
        """
        return {slave_id: slave.free for slave_id, slave in self._slaves.items()}

    def filter_on(self, slave_id, framework_id):
        """
        The framework's filter on the slave, as C{(refused resources, expiry
        or None)}, or L{None} if it has none (an expired filter may be
        reported until the next cycle drops it).
        """
        slave = self._slaves.get(slave_id)
        if slave is None or slave.filters is None or framework_id not in slave.filters:
            return None
        return slave.filters[framework_id], (slave.expiries or {}).get(framework_id)

    def wants_offers(self, framework_id):
        """
        Whether the framework is known, active and not suppressed.
        """
        return framework_id in self._wanting

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
        expiries, slaves = self._expiries, self._slaves
        while expiries and expiries[0][0] <= now:
            _, slave_id, framework_id = heappop(expiries)
            slave = slaves.get(slave_id)
            if slave is None or slave.expiries is None:
                continue
            expiry = slave.expiries.get(framework_id)
            if expiry is not None and expiry <= now:
                # Only this slave may now go to that framework (a stale
                # entry, of a filter replaced or revived away, changes
                # nothing).
                slave.forget_filter(framework_id)
                self._filtering.get(framework_id, set()).discard(slave_id)
                self._changed[slave_id] = None
        if changed_only and not self._everything_changed:
            visited = [(slave_id, slaves[slave_id]) for slave_id in self._changed]
        else:
            visited = slaves.items()
            self._everything_changed = False
        self._changed = {}
        if not self._wanting:
            return offers
        # The inner loop of the master's busiest moments, so written out:
        # each slave goes, whole, to the first framework in hierarchical DRF
        # order (roles by weighted share, then the role's frameworks) that
        # wants offers and has no filter covering it.  The sorters' lines
        # are read in place (only the updates per offer below change them
        # during the cycle, and those move one entry within a line), and
        # the taker's place in each line, found by the walk, spares the
        # updates a search.
        whitelist, roles, sorters = self._whitelist, self._roles, self._sorters
        wanting = self._wanting
        everyone = len(wanting) == len(self._frameworks)
        role_line = roles.line()
        lines = {role: sorter.line() for role, sorter in sorters.items()}
        for slave_id, slave in visited:
            if not slave.takeable:
                continue
            if whitelist is not None and slave.hostname not in whitelist:
                continue
            free, filters = slave.free, slave.filters
            if filters is None and everyone:
                # Nobody filtered the slave and every framework wants
                # offers: the first in line takes it.
                role_index = index = 0
                role = role_line[0][2]
                taker = lines[role][0][2]
            else:
                if filters is None:
                    filters = _NO_FILTERS
                taker = None
                for role_index, role_key in enumerate(role_line):
                    role = role_key[2]
                    for index, key in enumerate(lines[role]):
                        framework_id = key[2]
                        if framework_id in filters:
                            # A filter holds back only offers it covers:
                            # more resources on the slave (a task ended)
                            # make the offer worth sending again.
                            refused = filters[framework_id]
                            if refused is free or refused.contains(free):
                                continue
                        if framework_id in wanting:
                            taker = framework_id
                            break
                    if taker is not None:
                        break
                if taker is None:
                    continue
            offers.append((taker, slave_id, free))
            slave.free = _NOTHING
            slave.takeable = False
            sorters[role].grow_with(taker, index, roles, role, role_index, free.scalars())
        return offers
