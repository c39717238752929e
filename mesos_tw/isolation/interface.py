"""
The isolator interface, after Mesos 0.12's isolation module, and the suite
of tests every isolator (fakes included) must pass.

An isolator is given the slave's exit callback once, at L{IIsolator.initialize};
everything else is per executor, named by C{(framework_id, executor_id)}.
A cgroups or LXC isolator applies limits in C{launch_executor} and
C{resources_changed}; the process isolator applies none.
"""

import os

from twisted.plugin import IPlugin
from zope.interface import Attribute, Interface

from mesos_tw.protocols import mesos_pb2

__all__ = ["IIsolator", "IIsolatorFactory", "LaunchError", "make_isolator_tests"]


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
        Fetch C{executor_info.command}'s URIs into the sandbox C{directory}
        and start the command there with the environment C{environment} (a
        dict), its output appended to the files C{stdout} and C{stderr} in
        the sandbox, limited to C{resources} (a L{mesos_tw.resources.Resources}).

        @return: a Deferred firing with the executor's process id once it
            has started, or failing with L{LaunchError} saying why not.
        """

    def kill_executor(framework_id, executor_id):
        """
        Kill the executor and everything it started.

        @return: a Deferred that fires once it is gone (after C{on_exit}
            reported it); at once for an executor that is not running.
        """

    def resources_changed(framework_id, executor_id, resources):
        """
        The executor's tasks now hold C{resources}: adjust its limits.

        @return: a Deferred.
        """

    def usage(framework_id, executor_id):
        """
        @return: a Deferred firing with a C{mesos.ResourceStatistics} for a
            running executor, or failing with L{LaunchError} for one that is not.
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


#: The commands the shared suite launches; a fake isolator must emulate them.
SLEEP_COMMAND = "sleep 100"
ECHO_AND_EXIT_COMMAND = "echo hi; exit 3"


def make_isolator_tests(fixture):
    """
    A TestCase class checking what every isolator must do.

    @param fixture: C{fixture(test)} returns a fresh, uninitialized
        L{IIsolator}.  Real isolators run real processes, so the tests return
        Deferreds (trial's asynchronous C{TestCase}); the commands they run
        are L{SLEEP_COMMAND} (runs until killed) and L{ECHO_AND_EXIT_COMMAND}
        (prints C{hi}, exits with 3).
    """
    from twisted.internet.defer import Deferred
    from twisted.trial.unittest import TestCase
    from zope.interface.verify import verifyObject

    class IsolatorTests(TestCase):
        """
        The behaviour a slave relies on, for any isolator.
        """

        def setUp(self):
            self.isolator = fixture(self)
            self.exits = []
            self._exit_waiters = []
            return self.isolator.initialize(self._exited)

        def _exited(self, framework_id, executor_id, status):
            self.exits.append((framework_id, executor_id, status))
            waiters, self._exit_waiters = self._exit_waiters, []
            for waiter in waiters:
                waiter.callback(status)

        def next_exit(self):
            """
            A Deferred firing with the wait status of the next exit reported.
            """
            waiter = Deferred()
            self._exit_waiters.append(waiter)
            return waiter

        def launch(self, executor_id, command):
            """
            Launch C{command} as executor C{executor_id} of framework f1.

            @return: C{(directory, Deferred of the launch)}.
            """
            directory = os.path.abspath(self.mktemp())
            os.makedirs(directory)
            environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
            info = mesos_pb2.ExecutorInfo(
                executor_id=mesos_pb2.ExecutorID(value=executor_id),
                command=mesos_pb2.CommandInfo(value=command))
            return directory, self.isolator.launch_executor(
                "f1", mesos_pb2.FrameworkInfo(user="u", name="n"), info, directory,
                environment, None)

        def test_interface(self):
            """
            It provides L{IIsolator}.
            """
            self.assertTrue(verifyObject(IIsolator, self.isolator))

        def test_launch_gives_pid(self):
            """
            Launching fires with a process id.
            """
            _, d = self.launch("e1", SLEEP_COMMAND)
            d.addCallback(lambda pid: self.assertIsInstance(pid, int))
            d.addCallback(lambda _: self.isolator.kill_executor("f1", "e1"))
            return d

        def test_exit_status_and_output(self):
            """
            An executor that ends on its own is reported with its wait status,
            and what it printed is in the sandbox's C{stdout} file.
            """
            directory, d = self.launch("e1", ECHO_AND_EXIT_COMMAND)
            d.addCallback(lambda _: self.next_exit())

            def exited(status):
                self.assertEqual(os.WEXITSTATUS(status), 3)
                self.assertEqual([e[:2] for e in self.exits], [("f1", "e1")])
                with open(os.path.join(directory, "stdout")) as stdout:
                    self.assertEqual(stdout.read(), "hi\n")

            return d.addCallback(exited)

        def test_kill_reports_exit_first(self):
            """
            Killing an executor reports its exit (by SIGKILL), then fires.
            """
            _, d = self.launch("e1", SLEEP_COMMAND)
            d.addCallback(lambda _: self.isolator.kill_executor("f1", "e1"))

            def killed(_):
                [(framework_id, executor_id, status)] = self.exits
                self.assertEqual((framework_id, executor_id), ("f1", "e1"))
                self.assertTrue(os.WIFSIGNALED(status))
                self.assertEqual(os.WTERMSIG(status), 9)

            return d.addCallback(killed)

        def test_kill_unknown(self):
            """
            Killing an executor that is not running fires at once, harmlessly.
            """
            d = self.isolator.kill_executor("f1", "nobody")
            return d.addCallback(lambda _: self.assertEqual(self.exits, []))

        def test_usage(self):
            """
            A running executor has usage statistics; a killed one fails.
            """
            _, d = self.launch("e1", SLEEP_COMMAND)
            d.addCallback(lambda _: self.isolator.usage("f1", "e1"))
            d.addCallback(lambda stats: self.assertIsInstance(stats, mesos_pb2.ResourceStatistics))
            d.addCallback(lambda _: self.isolator.kill_executor("f1", "e1"))
            d.addCallback(lambda _: self.assertFailure(self.isolator.usage("f1", "e1"), LaunchError))
            return d

        def test_resources_changed(self):
            """
            Changing a running executor's resources fires.
            """
            _, d = self.launch("e1", SLEEP_COMMAND)
            d.addCallback(lambda _: self.isolator.resources_changed("f1", "e1", None))
            d.addCallback(lambda _: self.isolator.kill_executor("f1", "e1"))
            return d

    return IsolatorTests
