"""
Tests for the allocator: a shared suite for every L{IAllocator}, and
hierarchical DRF ordering for L{HierarchicalDRFAllocator}.
"""

import os

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

import mesos_tw.plugins
from mesos_tw.master.allocator import IAllocator, IAllocatorFactory, allocator_factory
from mesos_tw.master.hierarchical import HierarchicalDRFAllocator
from mesos_tw.resources import Resources

R = Resources.parse


def make_allocator_tests(fixture):
    """
    A TestCase class checking what every allocator must do.

    @param fixture: C{fixture(test, clock)} returns a fresh allocator.
    """

    class AllocatorTests(SynchronousTestCase):
        """
        The behaviour the master relies on, for any allocator.
        """

        def setUp(self):
            self.clock = Clock()
            self.allocator = fixture(self, self.clock)

        def test_interface(self):
            """
            It provides L{IAllocator}.
            """
            self.assertTrue(verifyObject(IAllocator, self.allocator))

        def test_offers_free_slave(self):
            """
            A slave's free resources are offered to an active framework.
            """
            self.allocator.slave_added("s1", R("cpus:2;mem:1024"), {})
            self.allocator.framework_added("f1", Resources())
            self.assertEqual(self.allocator.allocate(), [("f1", "s1", R("cpus:2;mem:1024"))])

        def test_never_offered_twice(self):
            """
            Offered resources are not offered again until recovered.
            """
            self.allocator.slave_added("s1", R("cpus:2;mem:1024"), {})
            self.allocator.framework_added("f1", Resources())
            self.allocator.framework_added("f2", Resources())
            self.assertEqual(len(self.allocator.allocate()), 1)
            self.assertEqual(self.allocator.allocate(), [])

        def test_recovered_reoffered_after_filter(self):
            """
            Recovered resources come back after their refuse filter expires.
            """
            self.allocator.slave_added("s1", R("cpus:2;mem:1024"), {})
            self.allocator.framework_added("f1", Resources())
            (_, _, offered), = self.allocator.allocate()
            self.allocator.resources_recovered("f1", "s1", offered, 5.0)
            self.assertEqual(self.allocator.allocate(), [])
            self.clock.advance(5)
            self.assertEqual(self.allocator.allocate(), [("f1", "s1", offered)])

        def test_negative_filter_until_revive(self):
            """
            A negative refuse_seconds filters until the framework revives.
            """
            self.allocator.slave_added("s1", R("cpus:2;mem:1024"), {})
            self.allocator.framework_added("f1", Resources())
            (_, _, offered), = self.allocator.allocate()
            self.allocator.resources_recovered("f1", "s1", offered, -1)
            self.clock.advance(10 ** 6)
            self.assertEqual(self.allocator.allocate(), [])
            self.allocator.offers_revived("f1")
            self.assertEqual(len(self.allocator.allocate()), 1)

        def test_inactive_framework_gets_nothing(self):
            """
            A deactivated framework is offered nothing until reactivated.
            """
            self.allocator.slave_added("s1", R("cpus:2;mem:1024"), {})
            self.allocator.framework_added("f1", Resources())
            self.allocator.framework_deactivated("f1")
            self.assertEqual(self.allocator.allocate(), [])
            self.allocator.framework_activated("f1")
            self.assertEqual(len(self.allocator.allocate()), 1)

        def test_too_little_not_offered(self):
            """
            A slave with less than the minimum cpus or memory free is not
            offered.
            """
            self.allocator.slave_added("s1", R("cpus:2;mem:16"), {})
            self.allocator.framework_added("f1", Resources())
            self.assertEqual(self.allocator.allocate(), [])

        def test_removed_slave_not_offered(self):
            """
            Resources of a removed slave are never offered.
            """
            self.allocator.slave_added("s1", R("cpus:2;mem:1024"), {})
            self.allocator.framework_added("f1", Resources())
            self.allocator.slave_removed("s1")
            self.assertEqual(self.allocator.allocate(), [])

        def test_slave_added_with_used_resources(self):
            """
            Resources a re-registering slave reports in use are not offered.
            """
            self.allocator.framework_added("f1", Resources())
            self.allocator.slave_added("s1", R("cpus:4;mem:1024"), {"f1": R("cpus:1;mem:128")})
            self.assertEqual(self.allocator.allocate(), [("f1", "s1", R("cpus:3;mem:896"))])

        def test_slave_added_with_more_used_than_its_total(self):
            """
            A slave added with more in use than its total (a master that
            accepted a stale report) is offered nothing until what is over
            its total has been recovered too: its offers never exceed its
            total (simulation seed 80043, commit 06d0e77's world: 1.25 of
            1 cpu offered after the stale task was reported lost).
            """
            self.allocator.framework_added("f1", Resources())
            self.allocator.slave_added("s1", R("cpus:1;mem:512"),
                                       {"f1": R("cpus:1.25;mem:320")})
            self.assertEqual(self.allocator.allocate(), [])
            self.allocator.resources_recovered("f1", "s1", R("cpus:0.25;mem:64"), 0)
            self.assertEqual(self.allocator.allocate(), [])
            self.allocator.resources_recovered("f1", "s1", R("cpus:1;mem:256"), 0)
            self.assertEqual(self.allocator.allocate(), [("f1", "s1", R("cpus:1;mem:512"))])

        def test_suppressed_gets_nothing_until_revive(self):
            """
            A framework that suppressed offers is offered nothing, even with
            no filter, until it revives.
            """
            self.allocator.slave_added("s1", R("cpus:2;mem:1024"), {})
            self.allocator.framework_added("f1", Resources())
            self.allocator.offers_suppressed("f1")
            self.assertEqual(self.allocator.allocate(), [])
            self.allocator.offers_revived("f1")
            self.assertEqual(len(self.allocator.allocate()), 1)

        def test_whitelist(self):
            """
            Only whitelisted hostnames are offered; L{None} lifts the list.
            """
            self.allocator.slave_added("s1", R("cpus:2;mem:1024"), {}, hostname="a")
            self.allocator.slave_added("s2", R("cpus:2;mem:1024"), {}, hostname="b")
            self.allocator.framework_added("f1", Resources())
            self.allocator.update_whitelist({"b"})
            self.assertEqual([o[1] for o in self.allocator.allocate()], ["s2"])
            self.allocator.update_whitelist(None)
            self.assertEqual([o[1] for o in self.allocator.allocate()], ["s1"])

        def test_changed_only_visits_changed_slaves(self):
            """
            A changed-only cycle offers a slave whose resources came back,
            and does not offer again a slave whose filter still holds.
            """
            self.allocator.framework_added("f1", Resources())
            self.allocator.slave_added("s1", R("cpus:2;mem:1024"), {})
            self.allocator.slave_added("s2", R("cpus:2;mem:1024"), {})
            offers = {slave_id: offered for _, slave_id, offered in self.allocator.allocate()}
            self.allocator.resources_recovered("f1", "s1", offers["s1"], 0)
            self.allocator.resources_recovered("f1", "s2", offers["s2"], 60)
            self.assertEqual(self.allocator.allocate(changed_only=True),
                             [("f1", "s1", R("cpus:2;mem:1024"))])

        def test_changed_only_after_filter_expiry(self):
            """
            A filter running out counts as a change: the next changed-only
            cycle offers the slave it held back, as a full cycle would.
            """
            self.allocator.framework_added("f1", Resources())
            self.allocator.slave_added("s1", R("cpus:2;mem:1024"), {})
            (_, _, offered), = self.allocator.allocate()
            self.allocator.resources_recovered("f1", "s1", offered, 5)
            self.assertEqual(self.allocator.allocate(changed_only=True), [])
            self.clock.advance(5)
            self.assertEqual(self.allocator.allocate(changed_only=True), [("f1", "s1", offered)])

        def test_changed_only_after_new_framework(self):
            """
            A framework that starts wanting offers makes the next
            changed-only cycle consider every slave, unchanged ones too.
            """
            self.allocator.framework_added("f1", Resources())
            self.allocator.slave_added("s1", R("cpus:2;mem:1024"), {})
            (_, _, offered), = self.allocator.allocate()
            self.allocator.resources_recovered("f1", "s1", offered, -1)
            self.assertEqual(self.allocator.allocate(changed_only=True), [])
            self.allocator.framework_added("f2", Resources())
            self.assertEqual(self.allocator.allocate(changed_only=True), [("f2", "s1", offered)])

        def _declined_for_good(self):
            """
            f1 has declined s1's offer with a filter that never runs out,
            and a changed-only cycle has seen it: nothing is left to offer.
            """
            self.allocator.framework_added("f1", Resources())
            self.allocator.slave_added("s1", R("cpus:2;mem:1024"), {})
            (_, _, offered), = self.allocator.allocate()
            self.allocator.resources_recovered("f1", "s1", offered, -1)
            self.assertEqual(self.allocator.allocate(changed_only=True), [])
            return offered

        def test_changed_only_after_revive(self):
            """
            Reviving drops a framework's filters, so the next changed-only
            cycle considers every slave again.
            """
            offered = self._declined_for_good()
            self.allocator.offers_revived("f1")
            self.assertEqual(self.allocator.allocate(changed_only=True), [("f1", "s1", offered)])

        def test_changed_only_after_activation(self):
            """
            A framework that comes back (or stops suppressing) makes the
            next changed-only cycle consider every slave again.
            """
            self.allocator.framework_added("f2", Resources())
            self.allocator.framework_deactivated("f2")
            offered = self._declined_for_good()
            self.allocator.framework_activated("f2")
            self.assertEqual(self.allocator.allocate(changed_only=True), [("f2", "s1", offered)])

        def test_changed_only_after_reactivation(self):
            """
            A slave activated again is offered by the next changed-only
            cycle.
            """
            self.allocator.framework_added("f1", Resources())
            self.allocator.slave_added("s1", R("cpus:2;mem:1024"), {})
            self.allocator.slave_deactivated("s1")
            self.assertEqual(self.allocator.allocate(), [])
            self.allocator.slave_activated("s1")
            self.assertEqual(self.allocator.allocate(changed_only=True),
                             [("f1", "s1", R("cpus:2;mem:1024"))])

        def test_changed_only_after_whitelist(self):
            """
            A new whitelist makes the next changed-only cycle consider
            every slave again.
            """
            self.allocator.update_whitelist({"nowhere"})
            self.allocator.framework_added("f1", Resources())
            self.allocator.slave_added("s1", R("cpus:2;mem:1024"), {}, hostname="h1")
            self.assertEqual(self.allocator.allocate(), [])
            self.allocator.update_whitelist({"h1"})
            self.assertEqual(self.allocator.allocate(changed_only=True),
                             [("f1", "s1", R("cpus:2;mem:1024"))])

        def test_recovered_from_removed_slave_ignored(self):
            """
            Resources recovered for a slave that is gone are not offered.
            """
            self.allocator.slave_added("s1", R("cpus:2;mem:1024"), {})
            self.allocator.framework_added("f1", Resources())
            (_, _, offered), = self.allocator.allocate()
            self.allocator.slave_removed("s1")
            self.allocator.resources_recovered("f1", "s1", offered, 0)
            self.assertEqual(self.allocator.allocate(), [])

        def test_free_resources(self):
            """
            C{free_resources} tells each slave's resources neither offered
            nor in use, deactivated slaves included, in a dict that later
            events leave alone.
            """
            self.allocator.slave_added("s1", R("cpus:4;mem:1000"), {"f": R("cpus:1;mem:100")})
            self.allocator.slave_added("s2", R("cpus:2;mem:500"), {})
            self.allocator.slave_deactivated("s2")
            self.allocator.framework_added("f", Resources())
            before = self.allocator.free_resources()
            self.assertEqual(before, {"s1": R("cpus:3;mem:900"), "s2": R("cpus:2;mem:500")})
            (_, _, offered), = self.allocator.allocate()
            self.assertEqual(self.allocator.free_resources(),
                             {"s1": Resources(), "s2": R("cpus:2;mem:500")})
            self.assertEqual(before["s1"], R("cpus:3;mem:900"))
            self.allocator.resources_recovered("f", "s1", offered, 0)
            self.allocator.slave_removed("s2")
            self.assertEqual(self.allocator.free_resources(), {"s1": R("cpus:3;mem:900")})

        def test_filter_on(self):
            """
            C{filter_on} tells the filter a framework set on a slave: the
            resources refused and when the filter runs out on the
            allocator's clock, or L{None} for one lasting until the
            framework revives; reviving drops them all.
            """
            self.allocator.slave_added("s1", R("cpus:4;mem:1000"), {})
            self.allocator.slave_added("s2", R("cpus:2;mem:500"), {})
            self.allocator.framework_added("f", Resources())
            offers = {slave_id: resources for _, slave_id, resources in self.allocator.allocate()}
            self.assertIsNone(self.allocator.filter_on("s1", "f"))
            self.clock.advance(10)
            self.allocator.resources_recovered("f", "s1", offers["s1"], 5)
            self.allocator.resources_recovered("f", "s2", offers["s2"], -1)
            self.assertEqual(self.allocator.filter_on("s1", "f"), (R("cpus:4;mem:1000"), 15))
            self.assertEqual(self.allocator.filter_on("s2", "f"), (R("cpus:2;mem:500"), None))
            self.assertIsNone(self.allocator.filter_on("s1", "g"))
            self.assertIsNone(self.allocator.filter_on("s3", "f"))
            self.allocator.offers_revived("f")
            self.assertIsNone(self.allocator.filter_on("s1", "f"))
            self.assertIsNone(self.allocator.filter_on("s2", "f"))

        def test_no_filter_for_zero_seconds(self):
            """
            Resources recovered with C{refuse_seconds} 0 set no filter.
            """
            self.allocator.slave_added("s1", R("cpus:4;mem:1000"), {})
            self.allocator.framework_added("f", Resources())
            (_, _, offered), = self.allocator.allocate()
            self.allocator.resources_recovered("f", "s1", offered, 0)
            self.assertIsNone(self.allocator.filter_on("s1", "f"))

        def test_wants_offers(self):
            """
            C{wants_offers} is true of a framework known, active and not
            suppressed, and only of such a one.
            """
            self.assertFalse(self.allocator.wants_offers("f"))
            self.allocator.framework_added("f", Resources())
            self.assertTrue(self.allocator.wants_offers("f"))
            self.allocator.offers_suppressed("f")
            self.assertFalse(self.allocator.wants_offers("f"))
            self.allocator.offers_revived("f")
            self.assertTrue(self.allocator.wants_offers("f"))
            self.allocator.framework_deactivated("f")
            self.assertFalse(self.allocator.wants_offers("f"))
            self.allocator.framework_activated("f")
            self.assertTrue(self.allocator.wants_offers("f"))
            self.allocator.framework_removed("f")
            self.assertFalse(self.allocator.wants_offers("f"))

    return AllocatorTests


class HierarchicalDRFInterfaceTests(
        make_allocator_tests(lambda test, clock: HierarchicalDRFAllocator(clock))):
    """
    L{HierarchicalDRFAllocator} passes the shared allocator suite.
    """


class DRFOrderTests(SynchronousTestCase):
    """
    Dominant resource fairness.
    """

    def setUp(self):
        self.clock = Clock()
        self.allocator = HierarchicalDRFAllocator(self.clock)

    def test_lowest_dominant_share_first(self):
        """
        The framework with the smaller dominant share gets the next slave,
        whichever resource dominates.
        """
        self.allocator.slave_added("s1", R("cpus:10;mem:1000"), {"cpu-heavy": R("cpus:5;mem:10")})
        self.allocator.slave_added("s2", R("cpus:10;mem:1000"), {"mem-heavy": R("cpus:1;mem:300")})
        self.allocator.framework_added("cpu-heavy", Resources())
        self.allocator.framework_added("mem-heavy", Resources())
        # Dominant shares: cpu-heavy 5/20 = 0.25, mem-heavy 300/2000 = 0.15.
        offers = self.allocator.allocate()
        self.assertEqual(offers[0][:2], ("mem-heavy", "s1"))

    def test_share_survives_late_registration(self):
        """
        What re-registered slaves reported for a framework before the
        framework itself re-registered (a master failover) still counts
        towards its share once it does.
        """
        self.allocator.slave_added("s1", R("cpus:4;mem:1000"), {"a": R("cpus:2;mem:100")})
        self.allocator.framework_added("a", Resources())
        self.allocator.framework_added("b", Resources())
        self.assertEqual(self.allocator.dominant_share("a"), 0.5)
        self.assertEqual([o[:2] for o in self.allocator.allocate()], [("b", "s1")])

    def test_ties_by_framework_id(self):
        """
        Equal shares go in framework id order, and each offer updates the
        order, so two slaves go to two frameworks.
        """
        for slave in ("s1", "s2"):
            self.allocator.slave_added(slave, R("cpus:1;mem:100"), {})
        for framework in ("b", "a"):
            self.allocator.framework_added(framework, Resources())
        self.assertEqual([o[:2] for o in self.allocator.allocate()], [("a", "s1"), ("b", "s2")])

    def test_role_weights(self):
        """
        Under contention, two frameworks in roles weighted 1 and 3 get the
        cluster's slaves in the ratio 1:3.
        """
        allocator = HierarchicalDRFAllocator(self.clock, weights={"heavy": 3.0})
        for number in range(8):
            allocator.slave_added(f"s{number}", R("cpus:1;mem:256"), {})
        allocator.framework_added("light-f", Resources(), role="light")
        allocator.framework_added("heavy-f", Resources(), role="heavy")
        offers = allocator.allocate()
        counts = {f: sum(1 for o in offers if o[0] == f) for f in ("light-f", "heavy-f")}
        self.assertEqual(counts, {"light-f": 2, "heavy-f": 6})
        self.assertEqual((allocator.role_share("light"), allocator.role_share("heavy")),
                         (0.25, 0.75))

    def test_roles_before_frameworks(self):
        """
        The role with the smaller share goes first, whatever the shares of
        the frameworks inside the other role.
        """
        self.allocator.slave_added("s1", R("cpus:4;mem:1000"), {"a1": R("cpus:1;mem:100")})
        self.allocator.slave_added("s2", R("cpus:4;mem:1000"), {})
        # Role "a" holds 1/8 of the cpus through a1; a2 (also in "a") holds
        # nothing, and b1 alone in "b" holds nothing: "b" goes first.
        for framework, role in (("a1", "a"), ("a2", "a"), ("b1", "b")):
            self.allocator.framework_added(framework, Resources(), role=role)
        self.assertEqual(self.allocator.allocate()[0][0], "b1")

    def test_dominant_share(self):
        """
        The dominant share is the largest fraction of any scalar resource.
        """
        self.allocator.slave_added("s1", R("cpus:4;mem:1000"), {"f": R("cpus:1;mem:500")})
        self.assertEqual(self.allocator.dominant_share("f"), 0.5)

    def test_filter_replaced_by_one_for_ever(self):
        """
        A filter for ever that replaces one running out is not dropped when
        the first would have run out.
        """
        self.allocator.slave_added("s1", R("cpus:4;mem:1000"), {})
        self.allocator.framework_added("f", Resources())
        self.allocator.allocate()
        self.allocator.resources_recovered("f", "s1", R("cpus:2;mem:500"), 5)
        self.allocator.resources_recovered("f", "s1", R("cpus:2;mem:500"), -1)
        self.clock.advance(6)
        self.allocator.allocate()
        self.assertEqual(self.allocator.filter_on("s1", "f"), (R("cpus:2;mem:500"), None))

    def test_filter_for_ever_replaced_by_one_running_out(self):
        """
        A filter running out that replaces one for ever runs out.
        """
        self.allocator.slave_added("s1", R("cpus:4;mem:1000"), {})
        self.allocator.framework_added("f", Resources())
        self.allocator.allocate()
        self.allocator.resources_recovered("f", "s1", R("cpus:2;mem:500"), -1)
        self.allocator.resources_recovered("f", "s1", R("cpus:2;mem:500"), 5)
        self.assertEqual(self.allocator.filter_on("s1", "f"), (R("cpus:2;mem:500"), 5))
        self.clock.advance(6)
        self.allocator.allocate()
        self.assertIsNone(self.allocator.filter_on("s1", "f"))

    def test_repeated_filters_bounded(self):
        """
        A framework that revives and declines the same slaves again and
        again, each time with a long filter, leaves the allocator's
        bookkeeping of expiries bounded by the filters alive, and the last
        filters still run out when they say.
        """
        for number in range(3):
            self.allocator.slave_added(f"s{number}", R("cpus:1;mem:100"), {})
        self.allocator.framework_added("f", Resources())
        for decline in range(2000):
            self.allocator.offers_revived("f")
            offers = self.allocator.allocate()
            self.assertEqual(len(offers), 3)
            for _, slave_id, resources in offers:
                self.allocator.resources_recovered("f", slave_id, resources, 3600)
        self.assertLessEqual(len(self.allocator._expiries), 2048)
        self.assertEqual(self.allocator.filter_on("s0", "f"), (R("cpus:1;mem:100"), 3600))
        self.clock.advance(3599)
        self.assertEqual(self.allocator.allocate(), [])
        self.clock.advance(1)
        self.assertEqual(len(self.allocator.allocate()), 3)


THIRD_PARTY_PLUGIN = '''
"""A third party's allocator: first come, first served."""
from zope.interface import implementer
from mesos_tw.master.allocator import IAllocatorFactory
from mesos_tw.master.hierarchical import HierarchicalDRFAllocator


@implementer(IAllocatorFactory)
class FirstComeFactory:
    name = "first_come"
    description = "A test allocator."

    def make_allocator(self, clock, weights):
        return HierarchicalDRFAllocator(clock, weights)


first_come = FirstComeFactory()
'''


class AllocatorPluginTests(SynchronousTestCase):
    """
    Allocators are found as Twisted plugins.
    """

    def test_shipped_plugin(self):
        """
        C{hierarchical_drf} is installed and makes a hierarchical DRF
        allocator with the given weights.
        """
        factory = allocator_factory("hierarchical_drf")
        self.assertTrue(verifyObject(IAllocatorFactory, factory))
        allocator = factory.make_allocator(Clock(), {"a": 2.0})
        self.assertIsInstance(allocator, HierarchicalDRFAllocator)

    def test_third_party_plugin(self):
        """
        A module dropped into a C{mesos_tw/plugins} directory on the plugin
        path (as a third party's package installs it) is found by name.
        """
        root = self.mktemp()
        directory = os.path.join(root, "mesos_tw", "plugins")
        os.makedirs(directory)
        with open(os.path.join(directory, "third_party_allocator.py"), "w",
                  encoding="utf-8") as module:
            module.write(THIRD_PARTY_PLUGIN)
        self.patch(mesos_tw.plugins, "__path__", list(mesos_tw.plugins.__path__) + [directory])
        self.assertEqual(allocator_factory("first_come").name, "first_come")

    def test_unknown_names_installed(self):
        """
        An unknown name is an error listing the installed allocators.
        """
        with self.assertRaises(ValueError) as raised:
            allocator_factory("nope")
        self.assertIn("hierarchical_drf", str(raised.exception))
