"""
Finding isolators by name among the installed plugins.
"""

from twisted.plugin import getPlugins

from mesos_tw import plugins
from mesos_tw.isolation.interface import IIsolatorFactory

__all__ = ["isolator_factories", "isolator_factory"]


def isolator_factories():
    """
    C{{name: factory}} of every installed isolator plugin.
    """
    return {factory.name: factory for factory in getPlugins(IIsolatorFactory, plugins)}


def isolator_factory(name):
    """
    The isolator plugin called C{name}.

    @raise ValueError: naming the known isolators, if there is none.
    """
    factories = isolator_factories()
    try:
        return factories[name]
    except KeyError:
        known = ", ".join(sorted(factories)) or "none"
        raise ValueError(f"unknown isolator {name!r} (known: {known})") from None
