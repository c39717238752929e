"""
The isolator interface, after Mesos 0.12's isolation module.
"""

from twisted.plugin import IPlugin
from zope.interface import Attribute, Interface

__all__ = ["IIsolator", "IIsolatorFactory", "LaunchError"]


class LaunchError(Exception):
    """
    An executor could not be started; the message says why.
    """


class IIsolator(Interface):
    """
    Runs executors in isolation and reports when they exit.
    """

    def initialize(on_exit):
        """
        Prepare to run executors.

        @param on_exit: called as C{on_exit(framework_id, executor_id,
            status)} when a launched executor's process ends; C{status} is
            its wait status (as from C{os.waitpid}).
        @return: a Deferred that fires when ready.
        """

    def launch_executor(framework_id, framework_info, executor_info, directory, environment, resources):
        """
        Start C{executor_info.command} in the sandbox C{directory} with the
        environment C{environment} (a dict), its output going to the files
        C{stdout} and C{stderr} there, limited to C{resources}.

        @return: a Deferred firing with the executor's process id, or failing
            with L{LaunchError}.
        """

    def kill_executor(framework_id, executor_id):
        """
        Kill the executor and everything it started.

        @return: a Deferred that fires once it is gone (after C{on_exit}).
        """

    def resources_changed(framework_id, executor_id, resources):
        """
        The executor's tasks now hold C{resources}: adjust its limits.

        @return: a Deferred.
        """

    def usage(framework_id, executor_id):
        """
        @return: a Deferred firing with a C{mesos.ResourceStatistics} for the
            executor.
        """


class IIsolatorFactory(IPlugin):
    """
    A plugin that makes an isolator; C{--isolation=<name>} picks it.
    """

    name = Attribute("The unique name operators give to --isolation.")
    description = Attribute("One line about what it isolates.")

    def make_isolator(reactor, options):
        """
        @param options: the slave's parsed options (a dict-like).
        @return: an L{IIsolator} provider.
        """
