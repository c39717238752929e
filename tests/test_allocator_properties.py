"""
Property tests for the allocator: random sequences of what a master tells
it (slaves come and go, frameworks launch, decline, suppress, fail), checked
against a model of the cluster kept by the test.

The invariants: no resource is offered twice at once; what is offered or
used on a slave never exceeds its total; everything returns to the pool
when tasks end or frameworks leave; every offer of a cycle goes to the
framework hierarchical DRF puts first at that moment (ties by name, as
the allocator breaks them), and a full cycle leaves unoffered only slaves
nobody may take; and a cycle for what changed misses nothing a full cycle
would offer.

Every amount here is a multiple of a half, so sums are exact in floating
point: the model's shares are the allocator's to the last bit, and the
model can demand the same order, ties included.
"""

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from twisted.internet.task import Clock

from mesos_tw.master.hierarchical import HierarchicalDRFAllocator, offerable
from mesos_tw.resources import Resources

SLAVE_SIZES = [Resources.parse(text) for text in
               ("cpus:1;mem:256", "cpus:2;mem:1024", "cpus:4;mem:512", "cpus:8;mem:4096")]
ROLES = ["a", "b", "*"]
WEIGHTS = {"a": 1.0, "b": 3.0}


def dominant(scalars, totals):
    """
    The largest fraction of any total that C{scalars} holds.
    """
    return max([amount / totals[name] for name, amount in scalars.items()
                if totals.get(name, 0) > 0] + [0.0])


class AllocatorMachine(RuleBasedStateMachine):
    """
    A master's dealings with the allocator, and a model of the cluster.
    """

    def __init__(self):
        super().__init__()
        self.clock = Clock()
        self.allocator = HierarchicalDRFAllocator(self.clock, WEIGHTS)
        self.slaves = {}       # slave id -> total
        self.frameworks = {}   # framework id -> role
        self.inactive = set()
        self.suppressed = set()
        self.offers = []       # (framework id, slave id, resources) outstanding
        self.tasks = []        # (framework id, slave id, resources) running
        self.filters = {}      # (framework id, slave id) -> (resources, expiry or None)
        self.next_id = 0

    def _new_id(self, prefix):
        self.next_id += 1
        return f"{prefix}{self.next_id}"

    # What the master tells the allocator.

    @rule(size=st.sampled_from(SLAVE_SIZES))
    def add_slave(self, size):
        """
        A slave joins.
        """
        slave_id = self._new_id("s")
        self.slaves[slave_id] = size
        self.allocator.slave_added(slave_id, size, {})

    @precondition(lambda self: self.slaves)
    @rule(data=st.data())
    def remove_slave(self, data):
        """
        A slave goes: the master recovers its offers and what its tasks
        held, then removes it.
        """
        slave_id = data.draw(st.sampled_from(sorted(self.slaves)))
        for held in [o for o in self.offers + self.tasks if o[1] == slave_id]:
            self.allocator.resources_recovered(held[0], slave_id, held[2], 0)
        del self.slaves[slave_id]
        self.filters = {k: v for k, v in self.filters.items() if k[1] != slave_id}
        self.offers = [o for o in self.offers if o[1] != slave_id]
        self.tasks = [t for t in self.tasks if t[1] != slave_id]
        self.allocator.slave_removed(slave_id)

    @rule(role=st.sampled_from(ROLES))
    def add_framework(self, role):
        """
        A framework registers.
        """
        framework_id = self._new_id("f")
        self.frameworks[framework_id] = role
        self.allocator.framework_added(framework_id, Resources(), role=role)

    @precondition(lambda self: self.frameworks)
    @rule(data=st.data())
    def remove_framework(self, data):
        """
        A framework leaves: the master recovers its offers and tasks first.
        """
        framework_id = data.draw(st.sampled_from(sorted(self.frameworks)))
        for held in [o for o in self.offers + self.tasks if o[0] == framework_id]:
            self.allocator.resources_recovered(framework_id, held[1], held[2], 0)
        self.offers = [o for o in self.offers if o[0] != framework_id]
        self.tasks = [t for t in self.tasks if t[0] != framework_id]
        del self.frameworks[framework_id]
        self.filters = {k: v for k, v in self.filters.items() if k[0] != framework_id}
        self.inactive.discard(framework_id)
        self.suppressed.discard(framework_id)
        self.allocator.framework_removed(framework_id)

    @rule(changed_only=st.booleans())
    def allocate(self, changed_only):
        """
        An allocation cycle, full or for what changed: check its offers
        against the model, one by one.  After a changed-only cycle, a full
        one at the same moment finds nothing more to offer: nothing was
        missed.
        """
        self._check_cycle(self.allocator.allocate(changed_only))
        if changed_only:
            missed = self.allocator.allocate()
            assert missed == [], ("a changed-only cycle missed", missed)
        for slave_id in self.slaves:
            free = self._free(slave_id)
            if offerable(free):
                assert self._drf_taker(slave_id, free) is None, (
                    slave_id, "left unoffered after a full cycle")

    def _check_cycle(self, offers):
        """
        Each offer, in the order made, went to the framework DRF puts first
        for that slave given the offers made before it; then it is taken
        into the model.
        """
        for framework_id, slave_id, resources in offers:
            assert framework_id in self.wanting, (framework_id, "offered while not wanting")
            assert slave_id in self.slaves
            free = self._free(slave_id)
            assert resources == free, ("offered", resources, "of", free)
            assert not self._filtered(framework_id, slave_id, resources), "offered through a filter"
            expected = self._drf_taker(slave_id, free)
            assert framework_id == expected, (framework_id, "is not DRF-first", expected)
            self.offers.append((framework_id, slave_id, resources))

    @precondition(lambda self: self.offers)
    @rule(data=st.data(), use=st.booleans(), refuse=st.sampled_from([0, 0, 5, -1]))
    def answer_offer(self, data, use, refuse):
        """
        A framework launches a task on part of an offer (or declines it),
        with a filter of C{refuse} seconds on what it leaves.
        """
        offer = data.draw(st.sampled_from(self.offers))
        self.offers.remove(offer)
        framework_id, slave_id, resources = offer
        used = Resources.parse("cpus:0.5;mem:64") if use else Resources()
        if not resources.contains(used):
            used = Resources()
        if used:
            self.tasks.append((framework_id, slave_id, used))
        left = resources - used
        if refuse and left:
            expiry = None if refuse < 0 else self.clock.seconds() + refuse
            self.filters[(framework_id, slave_id)] = (left, expiry)
        self.allocator.resources_recovered(framework_id, slave_id, left, refuse)

    @precondition(lambda self: self.tasks)
    @rule(data=st.data())
    def finish_task(self, data):
        """
        A task ends: its resources return.
        """
        task = data.draw(st.sampled_from(self.tasks))
        self.tasks.remove(task)
        self.allocator.resources_recovered(task[0], task[1], task[2], 0)

    @precondition(lambda self: self.frameworks)
    @rule(data=st.data(), action=st.sampled_from(["deactivate", "activate", "suppress", "revive"]))
    def framework_changes(self, data, action):
        """
        A framework disconnects, comes back, suppresses or revives.
        """
        framework_id = data.draw(st.sampled_from(sorted(self.frameworks)))
        if action == "deactivate":
            self.allocator.framework_deactivated(framework_id)
            self.inactive.add(framework_id)
        elif action == "activate":
            # Coming back does not end a suppression: only reviving does.
            self.allocator.framework_activated(framework_id)
            self.inactive.discard(framework_id)
        elif action == "suppress":
            self.allocator.offers_suppressed(framework_id)
            self.suppressed.add(framework_id)
        else:
            self.allocator.offers_revived(framework_id)
            self.filters = {k: v for k, v in self.filters.items() if k[0] != framework_id}
            self.suppressed.discard(framework_id)

    @rule(seconds=st.sampled_from([1, 5, 10]))
    def time_passes(self, seconds):
        """
        Filters expire.
        """
        self.clock.advance(seconds)

    # The model.

    @property
    def wanting(self):
        """
        The frameworks that want offers: active and not suppressed.
        """
        return set(self.frameworks) - self.inactive - self.suppressed

    def _free(self, slave_id):
        held = [r for f, s, r in self.offers + self.tasks if s == slave_id]
        return self.slaves[slave_id] - Resources.sum(held)

    def _filtered(self, framework_id, slave_id, free):
        entry = self.filters.get((framework_id, slave_id))
        if entry is None:
            return False
        refused, expiry = entry
        if expiry is not None and expiry <= self.clock.seconds():
            return False
        return refused.contains(free)

    def _drf_taker(self, slave_id, free):
        """
        The framework hierarchical DRF offers C{free} on C{slave_id} to, or
        L{None}: of those that want offers and have not filtered it, the
        first of the first role, roles in order of weighted dominant share
        and frameworks of a role in order of dominant share, ties going to
        the smaller name.
        """
        takers = {f for f in self.wanting if not self._filtered(f, slave_id, free)}
        if not takers:
            return None
        totals = Resources.sum(self.slaves.values()).scalars()
        by_framework = {f: {} for f in self.frameworks}
        for framework_id, _, resources in self.offers + self.tasks:
            for name, amount in resources.scalars().items():
                held = by_framework[framework_id]
                held[name] = held.get(name, 0.0) + amount
        by_role = {}
        for framework_id, held in by_framework.items():
            role = by_role.setdefault(self.frameworks[framework_id], {})
            for name, amount in held.items():
                role[name] = role.get(name, 0.0) + amount
        role = min({self.frameworks[f] for f in takers},
                   key=lambda r: (dominant(by_role[r], totals) / WEIGHTS.get(r, 1.0), r))
        return min((f for f in takers if self.frameworks[f] == role),
                   key=lambda f: (dominant(by_framework[f], totals), f))

    @invariant()
    def within_totals(self):
        """
        Offers and tasks on a slave never exceed its total.
        """
        for slave_id, total in self.slaves.items():
            held = [r for f, s, r in self.offers + self.tasks if s == slave_id]
            assert total.contains(Resources.sum(held)), (slave_id, total, held)

    def teardown(self):
        """
        Once every framework has left, a new one is offered every slave
        whole: nothing leaked.
        """
        for framework_id in list(self.frameworks):
            for held in [o for o in self.offers + self.tasks if o[0] == framework_id]:
                self.allocator.resources_recovered(framework_id, held[1], held[2], 0)
            self.allocator.framework_removed(framework_id)
        self.allocator.framework_added("last", Resources())
        offered = {slave_id: resources for _, slave_id, resources in self.allocator.allocate()}
        expected = {s: total for s, total in self.slaves.items() if offerable(total)}
        assert offered == expected, (offered, expected)


AllocatorMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40,
                                              deadline=None)


class AllocatorProperties(AllocatorMachine.TestCase):
    """
    The allocator's invariants over random sequences of events.
    """

    def test_invariants(self):
        """
        Random runs of the machine keep every invariant (hypothesis shrinks
        a failing run to a short sequence of events).
        """
        self.runTest()
