"""
Unit tests of the MPI framework: gang scheduling (offers held until every
rank fits, given back on timeout, all proxies launched at once), failure
handling (a proxy that fails kills the rest), and hydra's launch lines;
on a Clock with a recording driver and a fake hydra.
"""

import inspect

from twisted.internet.task import Clock
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.interface import mesos_pb2
from mesos_tw.mpi.gang import Gang
from mesos_tw.mpi.hydra import Hydra, HydraError, host_labels, parse_launch
from mesos_tw.mpi.scheduler import GANG_FAILED, MPIScheduler
from mesos_tw.mpi.script import Options
from mesos_tw.testing.drivers import RecordingSchedulerDriver, SchedulerCalls, offer
from mesos_tw.testing.mpi import FakeHydra


class GangTests(SynchronousTestCase):
    """
    L{Gang} counts ranks in held offers and places them.
    """

    def test_placement_fills_roomiest_first(self):
        """
        With room for 5 ranks held, 4 go to the two roomiest slaves (the
        first held first among equals); the rest is unused.  Two offers of
        one slave count together.
        """
        gang = Gang(4, cpus=1, mem=64)
        self.assertTrue(gang.hold(offer("o1", "h1", cpus=1)))
        self.assertIsNone(gang.placement())
        self.assertTrue(gang.hold(offer("o2", "h2", cpus=2)))
        self.assertTrue(gang.hold(offer("o3", "h1", cpus=1)))
        self.assertTrue(gang.hold(offer("o4", "h3", cpus=1)))
        placement = gang.placement()
        self.assertEqual([([o.id.value for o in offers], count)
                          for offers, count in placement.hosts],
                         [(["o1", "o3"], 2), (["o2"], 2)])
        self.assertEqual([o.id.value for o in placement.unused], ["o4"])

    def test_too_small_not_held(self):
        """
        An offer without room for a rank is not held; memory counts too.
        """
        gang = Gang(2, cpus=1, mem=512)
        self.assertFalse(gang.hold(offer("o1", "h1", cpus=4, mem=256)))
        self.assertEqual(gang.held, [])
        self.assertRaises(ValueError, Gang, 0, 1, 1)


class GangSchedulingTests(SchedulerCalls, SynchronousTestCase):
    """
    L{MPIScheduler} gathering 4 ranks of 1 cpu with a 30 s gang timeout.
    """

    def setUp(self):
        FakeHydra.instances = []
        self.clock = Clock()
        self.driver = RecordingSchedulerDriver()
        self.output = []
        self.scheduler = MPIScheduler(self.clock, 4, ["./prog", "arg"], self.output.append,
                                      self.output.append, cpus=1, mem=64, gang_timeout=30,
                                      hydra_factory=FakeHydra)
        self.register()

    def test_fake_matches_hydra(self):
        """
        The fake hydra is made and driven as the real one is.
        """
        for name in ("__init__", "start", "kill"):
            self.assertEqual(inspect.signature(getattr(FakeHydra, name)),
                             inspect.signature(getattr(Hydra, name)), name)

    def test_partial_offers_held_then_given_back(self):
        """
        Offers for 3 of 4 ranks are held (neither launched nor declined);
        at the gang timeout every one is declined and the job fails saying
        how far it got.
        """
        self.offers(offer("o1", "h1", cpus=2), offer("o2", "h2", cpus=1))
        self.clock.advance(29)
        self.assertEqual((self.driver.launched, self.driver.declined), ([], []))
        self.assertNoResult(self.scheduler.result)
        self.clock.advance(1)
        self.assertEqual([offer_id for offer_id, _ in self.driver.declined], ["o1", "o2"])
        self.assertEqual(self.driver.launched, [])
        self.assertEqual(FakeHydra.instances, [])
        status, message = self.successResultOf(self.scheduler.result)
        self.assertEqual(status, GANG_FAILED)
        self.assertEqual(message, "only 3 of 4 ranks could be placed within 30 s; "
                                  "every held offer was given back")

    def test_all_launched_at_once(self):
        """
        Once the held offers fit every rank, mpiexec starts for those hosts;
        when it prints the proxies, each host's proxy is launched on that
        host's offers with its ranks' resources, and nothing earlier.
        """
        self.offers(offer("o1", "h1", cpus=2))
        self.offers(offer("o2", "h2", cpus=3), offer("o3", "h3", cpus=1))
        [hydra] = FakeHydra.instances
        self.assertEqual((hydra.started, hydra.hosts, hydra.argv),
                         (True, [("h2", 3), ("h1", 1)], ["./prog", "arg"]))
        self.assertEqual([offer_id for offer_id, _ in self.driver.declined], ["o3"])
        self.assertEqual(self.driver.launched, [])
        hydra.print_launches()
        self.assertEqual(self.driver.launched_tasks(), [("o2", "proxy-0"), ("o1", "proxy-1")])
        _, [task], _ = self.driver.launched[0]
        self.assertEqual(task.command.value,
                         "hydra_pmi_proxy --control-port here:1 --proxy-id 0")
        self.assertEqual(sorted((r.name, r.scalar.value) for r in task.resources),
                         [("cpus", 3.0), ("mem", 192.0)])
        self.assertEqual(task.name, "MPI ranks 0-2 on h2")
        self.clock.advance(60)
        self.assertNoResult(self.scheduler.result)
        self.offers(offer("o4", "h4"))
        self.assertEqual(self.driver.declined[-1][0], "o4")

    def test_success(self):
        """
        The job ends 0 once mpiexec exited 0 and every proxy finished.
        """
        self.offers(offer("o1", "h1", cpus=4))
        FakeHydra.instances[0].print_launches()
        self.status("proxy-0", "TASK_RUNNING")
        FakeHydra.instances[0].exited.callback(0)
        self.assertNoResult(self.scheduler.result)
        self.status("proxy-0", "TASK_FINISHED")
        self.assertEqual(self.successResultOf(self.scheduler.result), (0, "4 ranks finished"))

    def test_failed_proxy_kills_the_rest(self):
        """
        A proxy task that is killed fails the job: the other proxy is
        killed and mpiexec stopped; the job ends with mpiexec's status once
        everything has ended, naming the task that failed.
        """
        self.offers(offer("o1", "h1", cpus=2), offer("o2", "h2", cpus=2))
        hydra = FakeHydra.instances[0]
        hydra.print_launches()
        self.status("proxy-0", "TASK_RUNNING")
        self.status("proxy-1", "TASK_RUNNING")
        self.status("proxy-1", "TASK_KILLED", "Killed by the operator")
        self.assertEqual((self.driver.killed, hydra.killed), (["proxy-0"], True))
        hydra.exited.callback(143)
        self.assertNoResult(self.scheduler.result)
        self.status("proxy-0", "TASK_KILLED")
        self.assertEqual(self.driver.killed, ["proxy-0"])
        self.assertEqual(self.successResultOf(self.scheduler.result), (
            143, "proxy-1 (ranks 2-3 on h2) ended TASK_KILLED: Killed by the operator"))

    def test_mpiexec_failing_fails_the_job(self):
        """
        mpiexec exiting non-zero (a rank died) kills the proxies left.
        """
        self.offers(offer("o1", "h1", cpus=4))
        FakeHydra.instances[0].print_launches()
        FakeHydra.instances[0].exited.callback(9)
        self.assertEqual(self.driver.killed, ["proxy-0"])
        self.status("proxy-0", "TASK_KILLED")
        self.assertEqual(self.successResultOf(self.scheduler.result),
                         (9, "mpiexec exited with status 9"))

    def test_mpiexec_not_starting_gives_back(self):
        """
        When mpiexec fails before printing its proxies, the held offers are
        declined and the job fails with its reason.
        """
        self.offers(offer("o1", "h1", cpus=4))
        FakeHydra.instances[0].launches.errback(HydraError("no mpiexec"))
        self.assertEqual([offer_id for offer_id, _ in self.driver.declined], ["o1"])
        self.assertEqual(self.successResultOf(self.scheduler.result), (GANG_FAILED, "no mpiexec"))

    def test_mpiexec_silent_gives_back(self):
        """
        When mpiexec prints no proxy commands within the gang timeout, it
        is killed, the held offers are declined and the job fails; a
        timely launch leaves no timer behind.
        """
        self.offers(offer("o1", "h1", cpus=4))
        hydra = FakeHydra.instances[0]
        self.clock.advance(30)
        self.assertTrue(hydra.killed)
        self.assertEqual([offer_id for offer_id, _ in self.driver.declined], ["o1"])
        self.assertEqual(self.successResultOf(self.scheduler.result),
                         (GANG_FAILED, "mpiexec printed no proxy commands within 30 s"))
        hydra.print_launches()
        self.assertEqual(self.driver.launched, [])

    def test_launch_cancels_the_timeout(self):
        """
        Once the proxies are launched no timeout is pending.
        """
        self.offers(offer("o1", "h1", cpus=4))
        FakeHydra.instances[0].print_launches()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_rescinded_offer_not_counted(self):
        """
        A held offer the master rescinds no longer counts toward the gang.
        """
        self.offers(offer("o1", "h1", cpus=3))
        self.scheduler.offerRescinded(self.driver, mesos_pb2.OfferID(value="o1"))
        self.offers(offer("o2", "h2", cpus=1))
        self.assertEqual(FakeHydra.instances, [])
        self.assertEqual(self.scheduler.gang.held_ranks(), 1)


class HydraLineTests(SynchronousTestCase):
    """
    Reading mpiexec's launch lines.
    """

    def test_parse_launch(self):
        """
        A launch line gives the proxy id and the command.
        """
        self.assertEqual(parse_launch(
            b"HYDRA_LAUNCH: /usr/bin/hydra_pmi_proxy --control-port vm:35591 --proxy-id 1 "),
            (1, ["/usr/bin/hydra_pmi_proxy", "--control-port", "vm:35591", "--proxy-id", "1"]))
        self.assertRaises(HydraError, parse_launch, b"HYDRA_LAUNCH: /usr/bin/x --proxy-id")

    def test_labels_distinct(self):
        """
        Hosts sharing a name get distinct labels (mpiexec would merge them).
        """
        self.assertEqual(host_labels(["a", "b", "a"]), ["a-0", "b", "a-2"])

    def test_command(self):
        """
        mpiexec runs with the manual launcher, one proxy per host label.
        """
        hydra = Hydra(Clock(), [("h1", 2), ("h2", 1)], ["./p", "x"], None, None)
        self.assertEqual(hydra.command(), [
            "mpiexec", "-launcher", "manual", "-disable-hostname-propagation", "-n", "3",
            "-hosts", "h1:2,h2:1", "./p", "x"])

    def test_launch_lines_then_output(self):
        """
        Launch lines are collected until the end marker; what follows is
        the ranks' output.
        """
        output = []
        hydra = Hydra(Clock(), [("h1", 1)], ["./p"], output.append, output.append)
        hydra.outReceived(b"HYDRA_LAUNCH: proxy --proxy-id 0\nHYDRA_LAU")
        self.assertNoResult(hydra.launches)
        hydra.outReceived(b"NCH_END\nrank 0 says hi\n")
        self.assertEqual(self.successResultOf(hydra.launches), {0: ["proxy", "--proxy-id", "0"]})
        hydra.outReceived(b"more\n")
        self.assertEqual(output, [b"rank 0 says hi\n", b"more\n"])


class CommandLineTests(SynchronousTestCase):
    """
    C{mesos-mpirun}'s flags.
    """

    def parse(self, *argv):
        """
        Parsed options of C{argv} (no environment).
        """
        options = Options(environ={})
        options.parseOptions(list(argv))
        return options

    def test_program_keeps_its_flags(self):
        """
        Everything from the program on is the program's, flags included.
        """
        options = self.parse("--master=h:5050", "-n", "4", "--cpus=0.5", "./prog", "-v", "--x=1")
        self.assertEqual((options["n"], options["cpus"], options["argv"]),
                         (4, 0.5, ["./prog", "-v", "--x=1"]))

    def test_errors(self):
        """
        A missing rank count or program, or a bad number, is one clear line.
        """
        for argv, words in [(["--master=h:1", "./p"], "-n (how many ranks) is required"),
                            (["--master=h:1", "-n", "2"], "give the program"),
                            (["--master=h:1", "-n", "0", "./p"], "invalid value for --n"),
                            (["--master=h:1", "-n", "2", "--mem=-1", "./p"], "--mem"),
                            (["-n", "2", "./p"], "--master is required")]:
            error = self.assertRaises(usage.UsageError, self.parse, *argv)
            self.assertIn(words, str(error))
