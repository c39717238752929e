"""
Tests for the allocator: a shared suite for every L{IAllocator}, and DRF
ordering for L{DRFAllocator}.
"""

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from mesos_tw.master.allocator import DRFAllocator, IAllocator
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

    return AllocatorTests


class DRFAllocatorInterfaceTests(make_allocator_tests(lambda test, clock: DRFAllocator(clock))):
    """
    L{DRFAllocator} passes the shared allocator suite.
    """


class DRFOrderTests(SynchronousTestCase):
    """
    Dominant resource fairness.
    """

    def setUp(self):
        self.clock = Clock()
        self.allocator = DRFAllocator(self.clock)

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

    def test_dominant_share(self):
        """
        The dominant share is the largest fraction of any scalar resource.
        """
        self.allocator.slave_added("s1", R("cpus:4;mem:1000"), {"f": R("cpus:1;mem:500")})
        self.assertEqual(self.allocator.dominant_share("f"), 0.5)
