"""
Tests for isolators: the shared suite against the fake and the process
isolator, the process isolator's sandbox behaviour with real processes, and
plugin lookup.
"""

import os
from dataclasses import replace

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface.verify import verifyClass, verifyObject

from mesos_tw.isolation.factories import isolator_factories, isolator_factory
from mesos_tw.isolation.interface import (
    IIsolator,
    IIsolatorFactory,
    LaunchError,
    UnknownContainer,
)
from mesos_tw.isolation.monitor import ResourceMonitor
from mesos_tw.isolation.process import ProcessIsolator
from mesos_tw.plugins.mesos_tw_isolators import ProcessIsolatorFactory
from mesos_tw.testing.isolation import (
    SUITE_PROGRAMS,
    FakeIsolator,
    make_container,
    make_iisolator_tests,
    nobody,
)
from mesos_tw.testing.local_cluster import until
from mesos_tw.testing.processes import is_alive


class FakeIsolatorTests(make_iisolator_tests(lambda test: FakeIsolator(reactor, SUITE_PROGRAMS))):
    """
    The fake isolator behaves like a real one, as far as a slave can tell.
    """

    def test_class_implements(self):
        """
        L{FakeIsolator} declares and implements every method of L{IIsolator}.
        """
        self.assertTrue(verifyClass(IIsolator, FakeIsolator))


class ProcessIsolatorSuiteTests(make_iisolator_tests(lambda test: ProcessIsolator(reactor))):
    """
    The process isolator passes the shared suite with real processes.
    """


class ProcessIsolatorTests(TestCase):
    """
    What the process isolator does with real processes.
    """

    def setUp(self):
        """
        A process isolator on the real reactor.
        """
        self.isolator = ProcessIsolator(reactor)
        self.addCleanup(lambda: self.isolator.destroy("f1", "e1"))
        return self.isolator.recover([])

    def exit_of(self, executor_id):
        """
        A Deferred firing with the executor's wait status when it exits.
        """
        return self.isolator.wait("f1", executor_id).addCallback(lambda t: t.status)

    def launch(self, command, environment=None):
        """
        Prepare and launch C{command} as executor e1.

        @return: C{(directory, Deferred of the launch)}.
        """
        container = make_container(self, "e1", command)
        self.run_id = container.run_id
        env = {"PATH": os.environ["PATH"], **(environment or {})}
        d = self.isolator.prepare(container)
        d.addCallback(lambda _: self.isolator.launch("f1", "e1", env))
        return container.directory, d

    def test_exit_status_and_output(self):
        """
        The command runs in its sandbox with the given environment, its
        output lands in the sandbox's stdout and stderr files, and its exit
        status is reported.
        """
        directory, d = self.launch("echo out $GREETING; pwd; echo err >&2; exit 3",
                                   environment={"GREETING": "hello"})
        d.addCallback(lambda _: self.exit_of("e1"))

        def exited(status):
            self.assertEqual(os.WEXITSTATUS(status), 3)
            with open(os.path.join(directory, "stdout")) as stdout:
                self.assertEqual(stdout.read().split(), ["out", "hello", os.path.realpath(directory)])
            with open(os.path.join(directory, "stderr")) as stderr:
                self.assertEqual(stderr.read(), "err\n")

        return d.addCallback(exited)

    def test_own_session(self):
        """
        The executor leads its own session and process group, and is the
        very process whose pid the launch reported (C{setsid} did not fork).
        """
        directory, d = self.launch(
            "read -r pid comm state ppid pgrp session rest < /proc/$$/stat; "
            "echo $pid $pgrp $session > ids")
        launched = []
        d.addCallback(launched.append)
        d.addCallback(lambda _: self.exit_of("e1"))

        def exited(_):
            with open(os.path.join(directory, "ids")) as ids:
                pid, pgrp, session = ids.read().split()
            self.assertEqual((pgrp, session), (pid, pid))
            self.assertEqual(launched, [int(pid)])

        return d.addCallback(exited)

    def destroy_when_written(self, directory, d, name):
        """
        Once the executor has written a pid into the sandbox file C{name},
        destroy it; fire with that pid once the destroy has fired.
        """
        path = os.path.join(directory, name)
        d.addCallback(lambda _: until(reactor, lambda: _complete_line(path), "a complete line of output"))
        d.addCallback(lambda _: self.isolator.destroy("f1", "e1"))

        def destroyed(_):
            with open(path) as written:
                return int(written.read())

        return d.addCallback(destroyed)

    def test_destroy_kills_the_group(self):
        """
        Destroying an executor kills its children too: none is alive when
        the destroy fires.
        """
        directory, d = self.launch("sleep 100 & echo $! > child; wait")
        d = self.destroy_when_written(directory, d, "child")
        return d.addCallback(lambda child: self.assertFalse(is_alive(child)))

    def test_destroy_kills_escaped_processes(self):
        """
        A process that made a session of its own and was reparented away
        from the executor still dies when the executor is destroyed.
        """
        directory, d = self.launch(
            "setsid sh -c 'sleep 100 & echo $! > escaped.tmp; mv escaped.tmp escaped'; "
            "exec sleep 100")
        path = os.path.join(directory, "escaped")
        escaped = []

        def check_escaped(_):
            pid = int(open(path).read())
            escaped.append(pid)
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            self.assertNotEqual(int(fields[3]), self.leader)

        d.addCallback(lambda pid: setattr(self, "leader", pid))
        d.addCallback(lambda _: until(reactor, lambda: os.path.exists(path), f"{path} to exist"))
        d.addCallback(check_escaped)
        d.addCallback(lambda _: self.isolator.destroy("f1", "e1"))
        return d.addCallback(lambda _: self.assertFalse(is_alive(escaped[0])))

    def test_usage_counts_the_session(self):
        """
        Usage sums the resident memory of the executor's session.
        """
        # The shell stays (no exec): a process that has just exec'd may
        # show no resident pages until it touches its new ones.
        directory, d = self.launch("touch started; sleep 100")
        started = os.path.join(directory, "started")
        d.addCallback(lambda _: until(reactor, lambda: os.path.exists(started), "the command to start"))
        d.addCallback(lambda _: self.isolator.usage("f1", "e1"))

        def measured(statistics):
            self.assertGreater(statistics.mem_rss_bytes, 0)
            self.assertGreaterEqual(statistics.cpus_user_time_secs, 0)
            return self.isolator.destroy("f1", "e1")

        return d.addCallback(measured)

    def test_recover_kills_what_is_left(self):
        """
        A container a new isolator is told of at recovery (the slave
        restarted) is ended, and the processes it left, found by their
        mark, are dead by then, even those in a session of their own.
        """
        directory, d = self.launch(
            "setsid sh -c 'sleep 100 & echo $! > escaped.tmp; mv escaped.tmp escaped'; "
            "exec sleep 100")
        path = os.path.join(directory, "escaped")
        d.addCallback(lambda _: until(reactor, lambda: os.path.exists(path), f"{path} to exist"))
        successor = ProcessIsolator(reactor)

        def recover(_):
            container = make_container(self, "e1", "sleep 100", run_id=self.run_id)
            return successor.recover([container])

        d.addCallback(recover)
        d.addCallback(lambda _: successor.wait("f1", "e1"))

        def ended(termination):
            self.assertIn("could not be recovered", termination.message)
            with open(path) as escaped:
                self.assertFalse(is_alive(int(escaped.read())))
            return self.exit_of("e1")

        return d.addCallback(ended)

    def test_leftover_children_killed(self):
        """
        Processes an executor leaves behind in its group are dead by the
        time its end is reported.
        """
        directory, d = self.launch("sleep 100 & echo $! > child")
        d.addCallback(lambda _: self.exit_of("e1"))

        def exited(_):
            with open(os.path.join(directory, "child")) as child:
                self.assertFalse(is_alive(int(child.read())))

        return d.addCallback(exited)

    def launch_on_tty(self, command):
        """
        Prepare and launch C{command} as executor e1 on a pseudo-terminal.

        @return: C{(directory, Deferred of the launch)}.
        """
        container = replace(make_container(self, "e1", command), tty=True)
        d = self.isolator.prepare(container)
        d.addCallback(lambda _: self.isolator.launch("f1", "e1", {"PATH": os.environ["PATH"]}))
        return container.directory, d

    def test_tty(self):
        """
        An executor whose container asks for a TTY has a terminal on its
        standard input and output, controls it, and what it writes to it
        lands in the sandbox's stdout; its exit status is reported.
        """
        directory, d = self.launch_on_tty(
            "[ -t 0 ] && [ -t 1 ] && echo on a terminal; tty > /dev/null && echo controlling; "
            "exit 4")
        d.addCallback(lambda _: self.exit_of("e1"))

        def exited(status):
            self.assertEqual(os.WEXITSTATUS(status), 4)
            with open(os.path.join(directory, "stdout")) as stdout:
                self.assertEqual(stdout.read().splitlines(), ["on a terminal", "controlling"])

        return d.addCallback(exited)

    def test_tty_destroyed(self):
        """
        An executor on a terminal is destroyed with its children.
        """
        directory, d = self.launch_on_tty("sleep 100 & echo $! > child; wait")
        d = self.destroy_when_written(directory, d, "child")
        return d.addCallback(lambda child: self.assertFalse(is_alive(child)))

    def test_runs_as_the_containers_user(self):
        """
        A container naming a user runs as that user, with that user's
        groups only, in a sandbox it owns.
        """
        entry = nobody()
        container = replace(make_container(self, "e1", "id -u > ids; id -G >> ids"), user="nobody")
        d = self.isolator.prepare(container)
        d.addCallback(lambda _: self.isolator.launch("f1", "e1", {"PATH": os.environ["PATH"]}))
        d.addCallback(lambda _: self.exit_of("e1"))

        def exited(status):
            self.assertEqual(os.WEXITSTATUS(status), 0)
            with open(os.path.join(container.directory, "ids")) as ids:
                self.assertEqual(ids.read().split(), [str(entry.pw_uid), str(entry.pw_gid)])

        return d.addCallback(exited)

    def test_unknown_user(self):
        """
        A container naming a user that does not exist fails to launch,
        saying so.
        """
        container = replace(make_container(self, "e1", "true"), user="no-such-user-here")
        d = self.isolator.prepare(container)
        d.addCallback(lambda _: self.isolator.launch("f1", "e1", {}))
        d = self.assertFailure(d, LaunchError)
        return d.addCallback(lambda error: self.assertIn("no such user", str(error)))


def _fired(value):
    d = Deferred()
    d.callback(value)
    return d



def _complete_line(path):
    """
    Whether the file at C{path} holds a whole line.
    """
    try:
        with open(path) as written:
            return written.read().endswith("\n")
    except OSError:
        return False




class FactoryTests(SynchronousTestCase):
    """
    Isolator plugins by name.
    """

    def test_process_plugin(self):
        """
        The process isolator is installed as the plugin "process".
        """
        factory = isolator_factory("process")
        self.assertIsInstance(factory.make_isolator(reactor, {}), ProcessIsolator)
        self.assertIn("process", isolator_factories())

    def test_factory_provides_plugin_interface(self):
        """
        The shipped isolators' factories are verified L{IIsolatorFactory}
        providers, found by their names.
        """
        self.assertTrue(verifyClass(IIsolatorFactory, ProcessIsolatorFactory))
        for name in ("process", "cgroups", "lxc"):
            factory = isolator_factory(name)
            self.assertTrue(verifyObject(IIsolatorFactory, factory))
            self.assertEqual(factory.name, name)

    def test_unknown_names_known(self):
        """
        An unknown name is an error listing the known ones.
        """
        with self.assertRaises(ValueError) as raised:
            isolator_factory("vm")
        self.assertRegex(str(raised.exception), r"known: .*\bprocess\b")


class _InstantExitReactor(Clock):
    """
    A reactor whose processes exit and are reaped inside spawnProcess, as
    Twisted does for a child that is already gone by then.
    """

    def spawnProcess(self, protocol, executable, args, env=None, path=None, childFDs=None,
                     uid=None, gid=None):
        from twisted.internet.error import ProcessDone
        from twisted.python.failure import Failure

        class Transport:
            pid = 2 ** 30  # beyond pid_max: no real process group is signalled

        transport = Transport()
        protocol.makeConnection(transport)
        transport.pid = None
        protocol.processEnded(Failure(ProcessDone(0)))
        return transport


class InstantExitTests(SynchronousTestCase):
    """
    An executor that is gone before spawnProcess returns.
    """

    def test_pid_and_exit_still_reported(self):
        """
        The launch still reports the pid, the end is reported on the next
        turn, and the ended container can be neither killed nor measured.
        """
        clock = _InstantExitReactor()
        isolator = ProcessIsolator(clock)
        container = make_container(self, "e1", "true")
        self.successResultOf(isolator.prepare(container))
        pid = self.successResultOf(isolator.launch("f1", "e1", {}))
        self.assertEqual(pid, 2 ** 30)
        waited = isolator.wait("f1", "e1")
        self.assertNoResult(waited)
        clock.advance(0)
        self.assertEqual(self.successResultOf(waited).status, 0)
        self.successResultOf(isolator.destroy("f1", "e1"))
        self.failureResultOf(isolator.usage("f1", "e1"), UnknownContainer)


class ResourceMonitorTests(SynchronousTestCase):
    """
    Sampling the usage of running executors on a clock.
    """

    def setUp(self):
        """
        A monitor of the fake isolator's executors, on a clock.
        """
        self.clock = Clock()
        self.isolator = FakeIsolator(self.clock)
        self.running = []
        self.monitor = ResourceMonitor(self.clock, self.isolator, lambda: self.running, 2.0)
        self.addCleanup(self.monitor.stop)

    def launch(self, executor_id):
        """
        Prepare and launch a fake executor and list it as running.
        """
        container = make_container(self, executor_id, "sleep 100")
        self.successResultOf(self.isolator.prepare(container))
        self.successResultOf(self.isolator.launch("f1", executor_id, {}))
        self.running.append(("f1", executor_id, container.executor_info))

    def test_samples_every_interval(self):
        """
        A sample is taken at start and then every interval; each holds the
        isolator's statistics of its time.
        """
        self.launch("e1")
        self.clock.advance(5)
        self.monitor.start()
        [sample] = self.monitor.samples()
        self.assertEqual((sample.framework_id, sample.executor_id), ("f1", "e1"))
        self.assertEqual(sample.statistics.timestamp, 5)
        self.clock.advance(2)
        [sample] = self.monitor.samples()
        self.assertEqual(sample.statistics.timestamp, 7)

    def test_ended_executors_forgotten(self):
        """
        An executor that is no longer running has no sample after the next
        round, and one whose usage fails has none either.
        """
        self.launch("e1")
        self.launch("e2")
        self.monitor.start()
        self.assertEqual(len(self.monitor.samples()), 2)
        self.running.pop(0)
        self.isolator.exit("f1", "e2")
        self.clock.advance(2)
        self.assertEqual(self.monitor.samples(), [])

    def test_stop(self):
        """
        Stopping leaves nothing scheduled.
        """
        self.monitor.start()
        self.monitor.stop()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_interval_must_be_positive(self):
        """
        A zero interval is refused.
        """
        self.assertRaises(ValueError, ResourceMonitor, self.clock, self.isolator, list, 0)
