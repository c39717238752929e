"""
Tests for L{mesos_tw.master.sorter.DRFSorter}.
"""

from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.master.sorter import DRFSorter


class DRFSorterTests(SynchronousTestCase):
    """
    Clients in order of weighted dominant share.
    """

    def setUp(self):
        self.sorter = DRFSorter()
        self.sorter.set_totals({"cpus": 10.0, "mem": 1000.0})
        for name in ("a", "b", "c"):
            self.sorter.add(name)

    def test_ties_by_name(self):
        """
        Equal shares go in name order.
        """
        self.assertEqual(self.sorter.order(), ["a", "b", "c"])

    def test_dominant_share_orders(self):
        """
        Each client's largest fraction of any resource decides its place.
        """
        self.sorter.allocated("a", {"cpus": 5.0})          # 0.5
        self.sorter.allocated("b", {"mem": 300.0})         # 0.3
        self.sorter.allocated("c", {"cpus": 1.0, "mem": 400.0})  # 0.4
        self.assertEqual(self.sorter.order(), ["b", "c", "a"])
        self.assertEqual(self.sorter.share("a"), 0.5)

    def test_taking_back_moves_forward(self):
        """
        Resources given back move a client forward again.
        """
        self.sorter.allocated("a", {"cpus": 5.0})
        self.sorter.allocated("a", {"cpus": 5.0}, -1)
        self.assertEqual(self.sorter.order(), ["a", "b", "c"])
        self.assertEqual(self.sorter.allocation("a"), {})

    def test_weights(self):
        """
        A client weighing 3 goes ahead of one holding a third as much.
        """
        self.sorter.set_weight("a", 3.0)
        self.sorter.allocated("a", {"cpus": 6.0})   # 0.6 / 3 = 0.2
        self.sorter.allocated("b", {"cpus": 3.0})   # 0.3
        self.sorter.remove("c")
        self.assertEqual(self.sorter.order(), ["a", "b"])

    def test_totals_change_resorts(self):
        """
        New totals change every share, and the order follows.
        """
        self.sorter.allocated("a", {"cpus": 5.0})    # 0.5 of cpus
        self.sorter.allocated("b", {"mem": 400.0})   # 0.4 of mem
        self.assertEqual(self.sorter.order()[1:], ["b", "a"])
        self.sorter.set_totals({"cpus": 100.0, "mem": 1000.0})
        self.assertEqual(self.sorter.order()[1:], ["a", "b"])

    def test_first_matching(self):
        """
        The first client in line that a predicate accepts.
        """
        self.sorter.allocated("a", {"cpus": 1.0})
        self.assertEqual(self.sorter.first_matching(lambda name: name != "b"), "c")
        self.assertIsNone(self.sorter.first_matching(lambda name: False))

    def test_grow_is_allocated(self):
        """
        L{DRFSorter.grow} is L{DRFSorter.allocated} with sign 1: the same
        allocation, share and place in line, told the client's place or
        not, and also while new totals wait for a re-sort.
        """
        reference = DRFSorter()
        reference.set_totals({"cpus": 10.0, "mem": 1000.0})
        for name in ("a", "b", "c"):
            reference.add(name)
        steps = [("b", {"cpus": 2.0}), ("a", {"mem": 300.0, "disk": 5.0}),
                 ("b", {"mem": 100.0}), ("c", {"cpus": 1.0})]
        for name, scalars in steps:
            index = [key[1] for key in self.sorter.line()].index(name)
            self.sorter.grow(name, scalars, index if name != "c" else None)
            reference.allocated(name, scalars)
            self.assertEqual(self.sorter.order(), reference.order())
            self.assertEqual(self.sorter.allocation(name), reference.allocation(name))
            self.assertEqual(self.sorter.share(name), reference.share(name))
        self.sorter.set_totals({"cpus": 4.0, "mem": 1000.0})
        reference.set_totals({"cpus": 4.0, "mem": 1000.0})
        self.sorter.grow("a", {"cpus": 1.0})
        reference.allocated("a", {"cpus": 1.0})
        self.assertEqual(self.sorter.order(), reference.order())

    def test_line(self):
        """
        The line holds C{(weighted share, name)} keys, first in line first.
        """
        self.sorter.allocated("a", {"cpus": 5.0})
        self.assertEqual(self.sorter.line(), [(0.0, "b"), (0.0, "c"), (0.5, "a")])
