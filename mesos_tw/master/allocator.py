"""
The allocator decides which framework is offered which slave's free
resources.  The master tells it what happens (frameworks and slaves come and
go, resources are used and given back) and asks it for offers.

An allocator is an L{IAllocator}; the master's C{--allocator} flag names an
L{IAllocatorFactory} plugin (C{mesos_tw.plugins}), so another policy can be
installed as a package.  The one shipped, C{hierarchical_drf}
(L{mesos_tw.master.hierarchical.HierarchicalDRFAllocator}), is Mesos's
hierarchical dominant resource fairness.
"""

from twisted.plugin import IPlugin, getPlugins
from zope.interface import Attribute, Interface

__all__ = ["DEFAULT_ALLOCATOR", "IAllocator", "IAllocatorFactory", "allocator_factory"]

#: The allocator the master uses unless C{--allocator} names another.
DEFAULT_ALLOCATOR = "hierarchical_drf"


class IAllocator(Interface):
    """
    What the master tells an allocator, and what it asks of it; and what
    an allocator tells a check from outside (L{free_resources},
    L{filter_on}, L{wants_offers}: the simulator's invariants read them to
    judge each offer against the state it was made from).

    Resources offered to a framework count as allocated to it until they are
    recovered (declined, unused, or freed when its tasks end).
    """

    def framework_added(framework_id, used, role="*"):
        """
        A framework of C{role} registered; C{used} is what it already holds
        (beyond what slaves reported for it before it registered).
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

    def slave_added(slave_id, total, used, hostname=None):
        """
        A slave with C{total} resources joined; C{used} maps framework ids to
        what they already run there.
        """

    def slave_removed(slave_id):
        """
        A slave is gone, and everything on it.
        """

    def slave_deactivated(slave_id):
        """
        The slave disconnected: offer none of it until it is activated
        again (what runs there stays allocated).
        """

    def slave_activated(slave_id):
        """
        A deactivated slave re-registered: offer it again.
        """

    def resources_recovered(framework_id, slave_id, resources, refuse_seconds):
        """
        C{framework_id} gives back C{resources} on C{slave_id}.  A positive
        C{refuse_seconds} keeps them from being offered to that framework
        again for that long; a negative one, until it revives.
        """

    def offers_revived(framework_id):
        """
        Drop every filter the framework has, and end any suppression.
        """

    def offers_suppressed(framework_id):
        """
        The framework wants no offers until it revives.
        """

    def resources_requested(framework_id, requests):
        """
        The framework asked for resources (a hint; may only be logged).
        """

    def update_whitelist(hostnames):
        """
        Offer only slaves whose hostname is in C{hostnames} (a set), or
        every slave for L{None}.
        """

    def update_weights(weights):
        """
        Roles' weights change (C{{role: weight}}); roles not named keep
        theirs.
        """

    def allocate(changed_only=False):
        """
        Decide offers now: for every slave, or with C{changed_only} for what
        changed since the last cycle (the slaves whose free resources grew,
        or every slave when something that affects them all changed, such
        as a framework asking for offers again).  After a changed-only
        cycle, a full one at the same moment would offer nothing more, so
        the master asks for one after events and a full one on its interval.

        @return: a list of C{(framework_id, slave_id, Resources)}.
        """

    def free_resources():
        """
        What each slave known to the allocator has neither offered nor in
        use: C{{slave_id: Resources}}, a new dict (later events do not
        change it), deactivated slaves included.
        """

    def filter_on(slave_id, framework_id):
        """
        The filter the framework set on the slave by recovering resources
        with a non-zero C{refuse_seconds}: C{(refused Resources, expiry)},
        the expiry a time (C{seconds()}) on the clock given to
        L{IAllocatorFactory.make_allocator} (the master's), or L{None} for
        a filter that lasts until the framework revives; L{None} for no
        filter.  A filter keeps from the framework only free resources it
        covers, and one that has run out may be reported until the next
        L{allocate}.
        """

    def wants_offers(framework_id):
        """
        Whether the framework is known, active and not suppressed: an
        allocator offers nothing to a framework that does not.
        """


class IAllocatorFactory(IPlugin):
    """
    A plugin that makes allocators; C{--allocator=<name>} picks one.
    """

    name = Attribute("The unique name C{--allocator} takes.")
    description = Attribute("One line saying what the policy is.")

    def make_allocator(clock, weights):
        """
        A new L{IAllocator} using C{clock} for filter expiry; C{weights}
        maps role names to their weights (1 for roles not named).
        """


def allocator_factory(name):
    """
    The installed L{IAllocatorFactory} called C{name}.

    @raise ValueError: naming the allocators that are installed.
    """
    import mesos_tw.plugins

    factories = {factory.name: factory
                 for factory in getPlugins(IAllocatorFactory, mesos_tw.plugins)}
    if name not in factories:
        known = ", ".join(sorted(factories)) or "none"
        raise ValueError(f"unknown allocator {name!r} (installed: {known})")
    return factories[name]
