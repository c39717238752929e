"""
A fake isolator, and the suite of tests every isolator (the fake included)
must pass: L{make_iisolator_tests}.
"""

import os
import signal

from twisted.internet.defer import fail, succeed
from twisted.trial.unittest import TestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from mesos_tw.isolation._containers import ContainerTable
from mesos_tw.isolation.interface import (
    Container,
    IIsolator,
    LaunchError,
    Termination,
    UnknownContainer,
)
from mesos_tw.protocols import mesos_pb2
from mesos_tw.resources import Resources

__all__ = ["ECHO_AND_EXIT_COMMAND", "FakeIsolator", "SLEEP_COMMAND", "SUITE_PROGRAMS", "make_container", "make_iisolator_tests", "nobody"]

#: Wait status of a process killed by SIGKILL.
KILLED_STATUS = signal.SIGKILL

#: The commands the shared suite launches; a fake isolator emulates them.
SLEEP_COMMAND = "sleep 100"
ECHO_AND_EXIT_COMMAND = "echo hi; exit 3"


def _echo_and_exit(directory, environment):
    """
    Emulates L{ECHO_AND_EXIT_COMMAND}: prints C{hi}, exits with 3.
    """
    with open(os.path.join(directory, "stdout"), "a") as stdout:
        stdout.write("hi\n")
    return 3 << 8


#: Programs emulating the commands of the shared isolator suite.
SUITE_PROGRAMS = {ECHO_AND_EXIT_COMMAND: _echo_and_exit}


@implementer(IIsolator)
class FakeIsolator:
    """
    Runs nothing: an executor "runs" until the test calls L{exit} or
    L{limit}, or the slave destroys it, unless its command is one of
    C{programs}.

    @param clock: schedules the exits of C{programs} (on the next turn,
        after the launch has fired, as a real process would).
    @param programs: C{{command: program}}; C{program(directory,
        environment)} runs at launch and returns the wait status its
        executor then exits with.

    @ivar launched: C{{(framework_id, executor_id): (info, directory,
        environment)}} of executors running now.
    @ivar killed: C{(framework_id, executor_id)} pairs asked to be destroyed.
    @ivar resources: the latest resources of each executor.
    @ivar cleaned: C{(framework_id, executor_id)} pairs cleaned up.
    @ivar containers: the latest L{Container} prepared for each executor.
    @ivar fail_launches: when set, launches fail with this message.
    @ivar dead_pids: pids of executors that are gone: their containers
        cannot be recovered.
    @ivar recovered: C{(framework_id, executor_id)} pairs resumed by
        L{recover}.
    """

    def __init__(self, clock=None, programs=None):
        self.clock = clock
        self.programs = dict(programs or {})
        self.launched = {}
        self.killed = []
        self.cleaned = []
        self.containers = {}
        self.resources = {}
        self.fail_launches = None
        self.dead_pids = set()
        self.recovered = []
        self._containers = ContainerTable()
        self._next_pid = 1000

    def recover(self, containers):
        """
        Resume every container named with a pid not in C{dead_pids}: it
        "runs" again (in C{launched}, with an empty environment, and in
        C{recovered}); end the others.
        """
        for container in containers:
            run = self._containers.add(container)
            if container.pid is None or container.pid in self.dead_pids:
                run.terminated(Termination(None, None, "The executor could not be recovered"))
                continue
            run.pid = container.pid
            self.recovered.append(container.key)
            self.containers[container.key] = container
            self.resources[container.key] = container.resources
            self.launched[container.key] = (container.executor_info, container.directory, {})
        return succeed(None)

    def prepare(self, container):
        """
        Record the container and its resources.
        """
        try:
            self._containers.add(container)
        except LaunchError as error:
            return fail(error)
        self.resources[container.key] = container.resources
        self.containers[container.key] = container
        return succeed(None)

    def launch(self, framework_id, executor_id, environment):
        """
        Record the launch and fire with a made-up pid, or fail if
        C{fail_launches} is set.
        """
        try:
            run = self._containers.get(framework_id, executor_id)
        except LaunchError as error:
            return fail(error)
        if self.fail_launches is not None:
            return fail(LaunchError(self.fail_launches))
        if run.pid is not None or run.termination is not None:
            return fail(LaunchError(f"executor {executor_id} was already launched or destroyed"))
        key = (framework_id, executor_id)
        info, directory = run.container.executor_info, run.container.directory
        self.launched[key] = (info, directory, environment)
        self._next_pid += 1
        run.pid = self._next_pid
        program = self.programs.get(info.command.value)
        if program is not None:
            self.clock.callLater(0, self.exit, *key, program(directory, environment))
        return succeed(run.pid)

    def exit(self, framework_id, executor_id, status=0):
        """
        Make a launched executor exit with wait status C{status}.
        """
        self.end(framework_id, executor_id, Termination(status))

    def limit(self, framework_id, executor_id, reason, message):
        """
        Make a launched executor end as killed by its isolator for C{reason}.
        """
        self.end(framework_id, executor_id, Termination(KILLED_STATUS, reason, message))

    def end(self, framework_id, executor_id, termination):
        """
        End a launched executor with C{termination}.
        """
        del self.launched[(framework_id, executor_id)]
        self._containers.get(framework_id, executor_id).terminated(termination)

    def wait(self, framework_id, executor_id):
        """
        Fires with the termination of the executor.
        """
        try:
            return self._containers.get(framework_id, executor_id).wait()
        except LaunchError as error:
            return fail(error)

    def update(self, framework_id, executor_id, resources):
        """
        Record the executor's new resources.
        """
        if self._containers.find(framework_id, executor_id) is None:
            return fail(UnknownContainer(f"executor {executor_id} has no container"))
        self.resources[(framework_id, executor_id)] = resources
        return succeed(None)

    def usage(self, framework_id, executor_id):
        """
        Empty statistics for a running executor.
        """
        run = self._containers.find(framework_id, executor_id)
        if run is None or not run.running:
            return fail(UnknownContainer(f"executor {executor_id} is not running"))
        now = self.clock.seconds() if self.clock is not None else 0.0
        return succeed(mesos_pb2.ResourceStatistics(timestamp=now))

    def destroy(self, framework_id, executor_id):
        """
        Record the kill; a running executor ends as if by SIGKILL.
        """
        self.killed.append((framework_id, executor_id))
        run = self._containers.find(framework_id, executor_id)
        if run is None:
            return succeed(None)
        if run.running:
            self.exit(framework_id, executor_id, KILLED_STATUS)
        elif run.pid is None:
            run.terminated(Termination(None, None, "Destroyed before it was launched"))
        return run.wait().addCallback(lambda _: None)

    def cleanup(self, framework_id, executor_id):
        """
        Forget the container.
        """
        if self._containers.remove(framework_id, executor_id) is not None:
            self.cleaned.append((framework_id, executor_id))
        return succeed(None)


def make_container(test, executor_id, command, resources="cpus:0.5;mem:64", run_id=None):
    """
    A L{Container} of framework C{f1} running C{command}, with a fresh
    sandbox under C{test}'s temporary directory.
    """
    directory = os.path.abspath(test.mktemp())
    os.makedirs(directory)
    info = mesos_pb2.ExecutorInfo(
        executor_id=mesos_pb2.ExecutorID(value=executor_id),
        command=mesos_pb2.CommandInfo(value=command))
    return Container(
        framework_id="f1", executor_id=executor_id,
        run_id=run_id or f"{executor_id}-{os.getpid()}-{id(test):x}",
        executor_info=info, directory=directory, resources=Resources.parse(resources))


def make_iisolator_tests(fixture, restart=None):
    """
    A TestCase class checking what every isolator must do.

    @param fixture: C{fixture(test)} returns a fresh L{IIsolator} (and
        raises C{SkipTest} saying why where it cannot work).  Real
        isolators run real processes, so the tests return Deferreds; the
        commands they run are L{SLEEP_COMMAND} (runs until killed) and
        L{ECHO_AND_EXIT_COMMAND} (prints C{hi}, exits with 3).
    @param restart: C{restart(test, isolator)} returns a fresh isolator
        working where C{isolator} does (its cgroup root, say), as a
        restarted slave's would; by default C{fixture(test)}.
    """

    if restart is None:
        def restart(test, isolator):
            return fixture(test)

    class IsolatorTests(TestCase):
        """
        The behaviour a slave relies on, for any isolator.
        """

        def setUp(self):
            self.isolator = fixture(self)
            self.addCleanup(self._destroy_all)
            return self.isolator.recover([])

        def _destroy_all(self):
            from twisted.internet.defer import gatherResults

            return gatherResults([
                self.isolator.destroy("f1", e).addCallback(
                    lambda _, e=e: self.isolator.cleanup("f1", e))
                for e in ("e1", "e2")])

        def start(self, executor_id, command):
            """
            Prepare and launch C{command} as executor C{executor_id} of f1.

            @return: C{(container, Deferred of the launch)}.
            """
            container = make_container(self, executor_id, command)
            environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
            d = self.isolator.prepare(container)
            d.addCallback(lambda _: self.isolator.launch("f1", executor_id, environment))
            return container, d

        def test_interface(self):
            """
            It provides L{IIsolator}.
            """
            self.assertTrue(verifyObject(IIsolator, self.isolator))

        def test_launch_gives_pid(self):
            """
            Launching fires with a process id.
            """
            _, d = self.start("e1", SLEEP_COMMAND)
            return d.addCallback(lambda pid: self.assertIsInstance(pid, int))

        def test_exit_status_and_output(self):
            """
            An executor that ends on its own is reported by C{wait} with its
            wait status and no reason, and what it printed is in the
            sandbox's C{stdout} file.
            """
            container, d = self.start("e1", ECHO_AND_EXIT_COMMAND)
            d.addCallback(lambda _: self.isolator.wait("f1", "e1"))

            def ended(termination):
                self.assertIsInstance(termination, Termination)
                self.assertEqual(os.WEXITSTATUS(termination.status), 3)
                self.assertIsNone(termination.reason)
                with open(os.path.join(container.directory, "stdout")) as stdout:
                    self.assertEqual(stdout.read(), "hi\n")

            return d.addCallback(ended)

        def test_destroy_after_wait(self):
            """
            Destroying an executor ends it by SIGKILL; C{wait} has fired by
            the time C{destroy} fires.
            """
            _, d = self.start("e1", SLEEP_COMMAND)
            waited = []

            def launched(_):
                self.isolator.wait("f1", "e1").addCallback(waited.append)
                return self.isolator.destroy("f1", "e1")

            d.addCallback(launched)

            def destroyed(_):
                [termination] = waited
                self.assertTrue(os.WIFSIGNALED(termination.status))
                self.assertEqual(os.WTERMSIG(termination.status), signal.SIGKILL)

            return d.addCallback(destroyed)

        def test_destroy_before_launch(self):
            """
            A container destroyed before its launch ends without a wait
            status, and cannot be launched any more.
            """
            container = make_container(self, "e1", SLEEP_COMMAND)
            d = self.isolator.prepare(container)
            d.addCallback(lambda _: self.isolator.destroy("f1", "e1"))
            d.addCallback(lambda _: self.isolator.wait("f1", "e1"))
            d.addCallback(lambda termination: self.assertIsNone(termination.status))
            d.addCallback(lambda _: self.assertFailure(
                self.isolator.launch("f1", "e1", {}), LaunchError))
            return d

        def test_destroy_unknown(self):
            """
            Destroying an executor that has no container fires at once.
            """
            return self.isolator.destroy("f1", "nobody")

        def test_unknown_container(self):
            """
            Launching, waiting for, updating or measuring an executor that
            was never prepared fails with L{UnknownContainer}.
            """
            return self.assertFailure(self.isolator.launch("f1", "e9", {}), UnknownContainer
                ).addCallback(lambda _: self.assertFailure(
                    self.isolator.wait("f1", "e9"), UnknownContainer)
                ).addCallback(lambda _: self.assertFailure(
                    self.isolator.update("f1", "e9", Resources()), UnknownContainer)
                ).addCallback(lambda _: self.assertFailure(
                    self.isolator.usage("f1", "e9"), UnknownContainer))

        def test_prepare_twice(self):
            """
            A second container for an executor that has one is refused.
            """
            d = self.isolator.prepare(make_container(self, "e1", SLEEP_COMMAND))
            d.addCallback(lambda _: self.assertFailure(
                self.isolator.prepare(make_container(self, "e1", SLEEP_COMMAND, run_id="other")),
                LaunchError))
            return d

        def test_usage(self):
            """
            A running executor has usage statistics; an ended one has none.
            """
            _, d = self.start("e1", SLEEP_COMMAND)
            d.addCallback(lambda _: self.isolator.usage("f1", "e1"))
            d.addCallback(lambda stats: self.assertIsInstance(stats, mesos_pb2.ResourceStatistics))
            d.addCallback(lambda _: self.isolator.destroy("f1", "e1"))
            d.addCallback(lambda _: self.assertFailure(
                self.isolator.usage("f1", "e1"), UnknownContainer))
            return d

        def test_update(self):
            """
            Changing a running executor's resources fires.
            """
            _, d = self.start("e1", SLEEP_COMMAND)
            return d.addCallback(
                lambda _: self.isolator.update("f1", "e1", Resources.parse("cpus:1;mem:128")))

        def test_cleanup_allows_a_new_run(self):
            """
            Once an ended container is cleaned up, the executor can have a
            new one.
            """
            _, d = self.start("e1", ECHO_AND_EXIT_COMMAND)
            d.addCallback(lambda _: self.isolator.wait("f1", "e1"))
            d.addCallback(lambda _: self.isolator.cleanup("f1", "e1"))
            d.addCallback(lambda _: self.assertFailure(
                self.isolator.wait("f1", "e1"), UnknownContainer))
            d.addCallback(lambda _: self.start("e1", ECHO_AND_EXIT_COMMAND)[1])
            d.addCallback(lambda _: self.isolator.wait("f1", "e1"))
            return d.addCallback(lambda t: self.assertEqual(os.WEXITSTATUS(t.status), 3))

        def test_recover_resumes_running(self):
            """
            A container named at recovery whose executor still runs (its
            pid and start time) is resumed: it can be destroyed, and its
            wait then fires.
            """
            from dataclasses import replace

            from mesos_tw.isolation._containers import process_start_time

            other = restart(self, self.isolator)
            container, d = self.start("e2", SLEEP_COMMAND)

            def recover(pid):
                recovered = replace(container, pid=pid, start_time=process_start_time(pid))
                return other.recover([recovered])

            d.addCallback(recover)
            d.addCallback(lambda _: other.usage("f1", "e2"))
            d.addCallback(lambda _: other.destroy("f1", "e2"))
            d.addCallback(lambda _: other.wait("f1", "e2"))
            d.addCallback(lambda termination: self.assertIsNone(termination.reason))
            return d.addCallback(lambda _: other.cleanup("f1", "e2"))

        def test_recover_ends_unknown_runs(self):
            """
            A container named at recovery that cannot be resumed ends, and
            its wait says so.
            """
            other = fixture(self)
            container = make_container(self, "e2", SLEEP_COMMAND)
            d = other.recover([container])
            d.addCallback(lambda _: other.wait("f1", "e2"))
            d.addCallback(lambda termination: self.assertTrue(termination.message))
            return d.addCallback(lambda _: other.cleanup("f1", "e2"))

    return IsolatorTests


def nobody():
    """
    The password entry of C{nobody}, to switch to; skips the test, saying
    why, where the test cannot switch users.
    """
    import pwd

    from twisted.trial.unittest import SkipTest

    if os.geteuid() != 0:
        raise SkipTest("switching users needs root")
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        raise SkipTest("there is no user 'nobody' here") from None
