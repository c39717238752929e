"""
A fake isolator: records launches and kills, and lets a test decide when an
executor "exits".
"""

from twisted.internet.defer import fail, succeed
from zope.interface import implementer

from mesos_tw.isolation.interface import IIsolator, LaunchError
from mesos_tw.protocols import mesos_pb2

__all__ = ["FakeIsolator", "make_isolator_tests"]


@implementer(IIsolator)
class FakeIsolator:
    """
    Runs nothing.

    @ivar launched: C{{(framework_id, executor_id): (info, directory,
        environment)}} of executors running now.
    @ivar killed: C{(framework_id, executor_id)} pairs asked to be killed.
    @ivar fail_launches: when set, launches fail with this message.
    """

    def __init__(self):
        self.on_exit = None
        self.launched = {}
        self.killed = []
        self.resources = {}
        self.fail_launches = None
        self._next_pid = 1000

    def initialize(self, on_exit):
        self.on_exit = on_exit
        return succeed(None)

    def launch_executor(self, framework_id, framework_info, executor_info, directory,
                        environment, resources):
        if self.fail_launches is not None:
            return fail(LaunchError(self.fail_launches))
        key = (framework_id, executor_info.executor_id.value)
        self.launched[key] = (executor_info, directory, environment)
        self.resources[key] = resources
        self._next_pid += 1
        return succeed(self._next_pid)

    def exit(self, framework_id, executor_id, status=0):
        """
        Make a launched executor exit with wait status C{status}.
        """
        del self.launched[(framework_id, executor_id)]
        self.on_exit(framework_id, executor_id, status)

    def kill_executor(self, framework_id, executor_id):
        self.killed.append((framework_id, executor_id))
        if (framework_id, executor_id) in self.launched:
            self.exit(framework_id, executor_id, 9)
        return succeed(None)

    def resources_changed(self, framework_id, executor_id, resources):
        self.resources[(framework_id, executor_id)] = resources
        return succeed(None)

    def usage(self, framework_id, executor_id):
        if (framework_id, executor_id) not in self.launched:
            return fail(LaunchError(f"executor {executor_id} is not running"))
        return succeed(mesos_pb2.ResourceStatistics(timestamp=0.0))




def make_isolator_tests(fixture):
    """
    A TestCase class checking what every isolator must do.

    @param fixture: C{fixture(test)} returns a fresh, uninitialized
        L{IIsolator}; real isolators run real processes, so the tests return
        Deferreds (trial's asynchronous C{TestCase}).
    """
    import os

    from twisted.trial.unittest import TestCase
    from zope.interface.verify import verifyObject

    def executor(executor_id, command):
        return mesos_pb2.ExecutorInfo(
            executor_id=mesos_pb2.ExecutorID(value=executor_id),
            command=mesos_pb2.CommandInfo(value=command))

    class IsolatorTests(TestCase):
        """
        The behaviour a slave relies on, for any isolator.
        """

        def setUp(self):
            self.isolator = fixture(self)
            self.exits = []
            return self.isolator.initialize(
                lambda framework_id, executor_id, status: self.exits.append(
                    (framework_id, executor_id, status)))

        def launch(self, executor_id, command):
            directory = self.mktemp()
            os.makedirs(directory)
            environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
            return self.isolator.launch_executor(
                "f1", mesos_pb2.FrameworkInfo(user="u", name="n"),
                executor(executor_id, command), directory, environment, None)

        def test_interface(self):
            """
            It provides L{IIsolator}.
            """
            self.assertTrue(verifyObject(IIsolator, self.isolator))

        def test_launch_gives_pid(self):
            """
            Launching fires with a process id.
            """
            d = self.launch("e1", "sleep 100")
            d.addCallback(lambda pid: self.assertIsInstance(pid, int))
            d.addCallback(lambda _: self.isolator.kill_executor("f1", "e1"))
            return d

        def test_kill_reports_exit_first(self):
            """
            Killing an executor reports its exit, then fires.
            """
            d = self.launch("e1", "sleep 100")
            d.addCallback(lambda _: self.isolator.kill_executor("f1", "e1"))
            d.addCallback(lambda _: self.assertEqual([e[:2] for e in self.exits], [("f1", "e1")]))
            return d

        def test_kill_unknown(self):
            """
            Killing an executor that is not running fires at once, harmlessly.
            """
            return self.isolator.kill_executor("f1", "nobody")

        def test_usage(self):
            """
            A running executor has usage statistics; an unknown one fails.
            """
            d = self.launch("e1", "sleep 100")
            d.addCallback(lambda _: self.isolator.usage("f1", "e1"))
            d.addCallback(lambda stats: self.assertIsInstance(stats, mesos_pb2.ResourceStatistics))
            d.addCallback(lambda _: self.isolator.kill_executor("f1", "e1"))
            d.addCallback(lambda _: self.assertFailure(self.isolator.usage("f1", "e1"), LaunchError))
            return d

        def test_resources_changed(self):
            """
            Changing a running executor's resources fires.
            """
            d = self.launch("e1", "sleep 100")
            d.addCallback(lambda _: self.isolator.resources_changed("f1", "e1", None))
            d.addCallback(lambda _: self.isolator.kill_executor("f1", "e1"))
            return d

    return IsolatorTests
