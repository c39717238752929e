"""
The allocators that ship with mesos_tw.
"""

from zope.interface import implementer

from mesos_tw.master.allocator import IAllocatorFactory


@implementer(IAllocatorFactory)
class HierarchicalDRFFactory:
    """
    C{--allocator=hierarchical_drf}: Mesos's hierarchical dominant resource
    fairness (roles by weighted share, then frameworks).
    """

    name = "hierarchical_drf"
    description = "Roles by weighted dominant share, then their frameworks by dominant share."

    def make_allocator(self, clock, weights):
        from mesos_tw.master.hierarchical import HierarchicalDRFAllocator

        return HierarchicalDRFAllocator(clock, weights)


hierarchical_drf = HierarchicalDRFFactory()
