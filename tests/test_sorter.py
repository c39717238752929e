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

    def test_name_among_others(self):
        """
        A client whose name sorts among the others' takes its place among
        them on ties, and the others keep their order.
        """
        self.sorter.allocated("a", {"cpus": 1.0})
        self.sorter.add("bb")
        self.sorter.add("0")
        self.assertEqual(self.sorter.order(), ["0", "b", "bb", "c", "a"])
        self.assertEqual([key[1] for key in self.sorter.line()], [0, 2, 3, 4, 1])
        self.sorter.add("d")
        self.sorter.allocated("b", {"cpus": 1.0})
        self.assertEqual(self.sorter.order(), ["0", "bb", "c", "d", "a", "b"])

    def test_line(self):
        """
        The line holds C{(weighted share, rank, name)} keys, first in line
        first, the ranks in name order.
        """
        self.sorter.allocated("a", {"cpus": 5.0})
        self.assertEqual(self.sorter.line(), [(0.0, 1, "b"), (0.0, 2, "c"), (0.5, 0, "a")])

    def test_grow_with_is_grow_on_both(self):
        """
        L{DRFSorter.grow_with} is L{DRFSorter.allocated} on a client and on
        its group in a parent sorter with the same totals: the same
        allocations, shares and lines.
        """
        totals = {"cpus": 10.0, "mem": 1000.0}
        parent, reference_parent = DRFSorter(), DRFSorter()
        reference = DRFSorter()
        for sorter in (parent, reference_parent, reference):
            sorter.set_totals(totals)
        for name in ("a", "b", "c"):
            reference.add(name)
        for group, weight in (("x", 1.0), ("y", 2.0)):
            parent.add(group, weight)
            reference_parent.add(group, weight)
        steps = [("b", "x", {"cpus": 2.0}), ("a", "y", {"mem": 300.0, "disk": 5.0}),
                 ("b", "x", {"mem": 100.0}), ("c", "y", {"cpus": 1.0, "mem": 10.0})]
        for name, group, scalars in steps:
            index = self.sorter.order().index(name)
            group_index = parent.order().index(group)
            self.sorter.grow_with(name, index, parent, group, group_index, scalars)
            reference.allocated(name, scalars)
            reference_parent.allocated(group, scalars)
            self.assertEqual(self.sorter.line(), reference.line())
            self.assertEqual(parent.line(), reference_parent.line())
            self.assertEqual(self.sorter.allocation(name), reference.allocation(name))
            self.assertEqual(parent.allocation(group), reference_parent.allocation(group))
