"""
The isolator interface, after Mesos's isolator life cycle.

A slave runs each executor in a I{container}: the isolator's record of one
run of one executor, named by C{(framework_id, executor_id)} (a slave runs
at most one container per executor at a time; the run id in L{Container}
tells runs apart where an isolator keeps something outside itself, such as
a cgroup).  The life cycle, in the order the slave calls it::

    recover(containers)      once, at start-up
    prepare(container)       limits set up, nothing running yet
    launch(..., environment) the executor process, in its sandbox
    wait(...)                fires with a Termination when it has ended
    update(..., resources)   as its tasks come and go
    usage(...)               ResourceStatistics, while it runs
    destroy(...)             kill everything it started
    cleanup(...)             forget it, release what it held

The suite every isolator passes is L{mesos_tw.testing.isolation.make_iisolator_tests}.
"""

from dataclasses import dataclass

from twisted.plugin import IPlugin
from zope.interface import Attribute, Interface

__all__ = [
    "Container",
    "IIsolator",
    "IIsolatorFactory",
    "IsolatorUnavailable",
    "LaunchError",
    "TTY_VARIABLE",
    "Termination",
    "UnknownContainer",
    "wants_tty",
]


#: A task asks for a TTY with this variable set to C{1} (or C{true}) in its
#: command's environment (the protocol has no C{ContainerInfo.tty_info}).
TTY_VARIABLE = "MESOS_TTY"


def wants_tty(*commands):
    """
    Whether any of C{commands} (C{CommandInfo}s) asks for a TTY.
    """
    for command in commands:
        for variable in command.environment.variables:
            if variable.name == TTY_VARIABLE and variable.value.lower() in ("1", "true", "yes"):
                return True
    return False


class LaunchError(Exception):
    """
    An executor could not be started; the message says why.
    """


class UnknownContainer(LaunchError):
    """
    No container of that executor is prepared (never was, or cleaned up).
    """


class IsolatorUnavailable(Exception):
    """
    An isolator cannot work on this machine; the message names what is
    missing (root, a mounted cgroup hierarchy, a tool).
    """


@dataclass(frozen=True)
class Container:
    """
    What an isolator is told about an executor run when it prepares it.

    @ivar resources: a L{mesos_tw.resources.Resources}: the executor's and
        its tasks' resources when it starts.
    @ivar user: the user to run the executor as (the framework's, where
        C{--switch_user} allows), or C{None} for the slave's own.
    @ivar tty: whether the executor runs on a pseudo-terminal (a task
        asked for one); an isolator that cannot give it one fails the launch.
    @ivar builtin: C{"command"} when the executor is the slave's built-in
        command executor, which an isolator with a launcher
        (L{mesos_tw.isolation.launcher}) may fork from it rather than run
        C{executor_info.command}; L{None} for any other executor.
    @ivar pid: for L{IIsolator.recover}: the executor's process id, as
        checkpointed when it was launched (L{None} if it never was).
    @ivar start_time: for L{IIsolator.recover}: when that process started
        (clock ticks since boot), to tell it from a later one with its pid.
    """

    framework_id: str
    executor_id: str
    run_id: str
    executor_info: object
    directory: str
    resources: object
    user: str = None
    tty: bool = False
    builtin: str = None
    pid: int = None
    start_time: int = None

    @property
    def key(self):
        """
        C{(framework_id, executor_id)}, which names it to the isolator.
        """
        return (self.framework_id, self.executor_id)


@dataclass(frozen=True)
class Termination:
    """
    How a container ended.

    @ivar status: the executor's wait status (as from C{os.waitpid}), or
        C{None} when there was no process to wait for.
    @ivar reason: a C{TaskStatus.Reason} when the isolator ended it (for
        C{REASON_CONTAINER_LIMITATION_MEMORY}, say), else C{None}.
    @ivar message: why, in words, when the isolator knows more than the
        wait status says; empty otherwise.
    """

    status: int = None
    reason: int = None
    message: str = ""


class IIsolator(Interface):
    """
    Runs executors in containers, limits their resources, measures their
    use, and reports how they end.  Every method returns a Deferred.
    """

    def recover(containers):
        """
        Called once at start-up with the L{Container}s a restarting slave
        checkpointed as running (each with its executor's C{pid} and
        C{start_time}).  A container whose executor still runs is resumed:
        it is then as if launched by this isolator (C{wait}, C{usage},
        C{update}, C{destroy} work), though its wait status cannot be known
        (its executor is not our child), so its L{Termination} has
        C{status} L{None}.  A container that cannot be resumed is
        destroyed: nothing of it is left running, and its C{wait} fires
        with a L{Termination} saying so.  Containers of this slave's that
        are not listed (orphans) are destroyed, where the isolator can
        find them.

        @return: a Deferred that fires when recovery is over.
        """

    def prepare(container):
        """
        Set up a L{Container}: its limits and whatever the launch needs.

        @return: a Deferred; it fails with L{LaunchError} if the container
            cannot be set up, or one of that executor is already prepared.
        """

    def launch(framework_id, executor_id, environment):
        """
        Start the prepared container's C{executor_info.command} in its
        sandbox with the environment C{environment} (a dict), its output
        appended to the sandbox's C{stdout} and C{stderr} files, after
        fetching the command's URIs into the sandbox.

        @return: a Deferred firing with the executor's process id, or
            failing with L{LaunchError} saying why it could not start (or
            L{UnknownContainer} when it was not prepared).
        """

    def wait(framework_id, executor_id):
        """
        @return: a Deferred firing with the container's L{Termination} once
            its executor has ended and nothing it started is left running
            (at once when that has already happened), or failing with
            L{UnknownContainer} for a container that is not prepared.
        """

    def update(framework_id, executor_id, resources):
        """
        The executor's tasks now hold C{resources}: adjust its limits.

        @return: a Deferred; it fails with L{UnknownContainer} for a
            container that is not prepared.
        """

    def usage(framework_id, executor_id):
        """
        @return: a Deferred firing with a C{mesos.ResourceStatistics} of a
            running container (its C{timestamp} from the reactor), or
            failing with L{UnknownContainer} for one that is not running.
        """

    def destroy(framework_id, executor_id):
        """
        Kill everything the container started, leaving no process behind.

        @return: a Deferred that fires after the container's C{wait} has
            fired; at once for a container that is not running.
        """

    def cleanup(framework_id, executor_id):
        """
        Forget a container that has ended (or never launched), releasing
        what it held.  Harmless for an unknown container.

        @return: a Deferred.
        """


class IIsolatorFactory(IPlugin):
    """
    A plugin that makes an isolator; C{--isolation=<name>} picks it.
    """

    name = Attribute("The unique name operators give to --isolation.")
    description = Attribute("One line about what it isolates.")

    def check(options):
        """
        Whether the isolator can work here with the slave's C{options}.

        @raise IsolatorUnavailable: naming what is missing.
        """

    def make_isolator(reactor, options):
        """
        @param options: the slave's parsed options (a dict-like).
        @return: an L{IIsolator} provider.
        """
