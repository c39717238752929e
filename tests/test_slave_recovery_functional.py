"""
Slave recovery with real processes: ``twistd -n mesos-slave`` runs tasks of
a checkpointing framework on every kind of executor (a classic driver
executor, command tasks, a task group on the default executor, a pymesos
v1 executor) under the process isolator, and is killed with SIGKILL while
one task of each of the first two kinds finishes; it starts again (also
from a second code tree with another version string: an upgrade), and
every task is still running or has finished, with no TASK_LOST and the
finishing tasks' updates reaching the scheduler once.  The same with the
leading master killed while the slave is down, and with every connection
between the slave and the master cut for a few seconds by TCP proxies.

The masters elect through a real ZooKeeper ensemble; the scheduler is a
real driver in this process.  Each test waits for what it expects with a
deadline, never for a fixed time.
"""

import json
import os
import shutil
import signal
import sys

import treq
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import deferLater
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import SkipTest, TestCase

import mesos_tw
from mesos_tw.native import MesosSchedulerDriver
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.resources import Resources
from mesos_tw.isolation._containers import CONTAINER_VARIABLE, kill_and_wait
from mesos_tw.isolation.interface import IsolatorUnavailable
from mesos_tw.isolation.lxc import check_lxc
from mesos_tw.isolation.usage import marked_processes
from mesos_tw.testing.cgroups import cgroups_root
from mesos_tw.slave import paths
from mesos_tw.slave.checkpoint import write_atomically
from mesos_tw.testing.processes import ClusterUnavailable, ProcessCluster, twistd_path
from mesos_tw.testing.proxy import PortForwarder
from mesos_tw.testing.scheduler import RecordingScheduler, echo_executor_info
from mesos_tw.testing.zookeeper_server import free_port, start_ensemble

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(mesos_tw.__file__)))
PYMESOS_EXECUTOR = os.path.join(ROOT, "frameworks", "pymesos_executor.py")

#: Every task's resources: small, so that all fit on one slave.
# A Python executor (the classic driver with Mesos's full protos) passes
# 32 MB of resident memory: under cgroups and lxc a 32 MB limit killed it.
TASK_RESOURCES = "cpus:0.1;mem:128"

#: Tasks that run until the end of the test, and those that finish (once
#: their file exists) while the slave is down.
RUNNING = ("echo-runs", "command-runs", "group-runs", "pymesos-runs")
FINISHING = ("echo-finishes", "command-finishes")

#: The addresses the master and the slave connect from, behind the proxies.
MASTER_SOURCE, SLAVE_SOURCE = "127.0.0.2", "127.0.0.3"

#: How long the proxies cut the slave off its master.
CUT_SECONDS = 3.0


def _task(task_id, **fields):
    return mesos_pb2.TaskInfo(
        name=task_id, task_id=mesos_pb2.TaskID(value=task_id),
        resources=Resources.parse(TASK_RESOURCES).to_protobuf(), **fields)


class MixedScheduler(RecordingScheduler):
    """
    Launches one task of each executor kind on the first offer, from a
    checkpointing framework.

    @param files: where the finishing tasks' files go.
    """

    def __init__(self, clock, files):
        RecordingScheduler.__init__(self, clock)
        self.files = files
        self.launched = False

    def resourceOffers(self, driver, offers):
        """
        Launch everything on the first offer; decline the others.
        """
        for offer in offers:
            if self.launched:
                driver.declineOffer(offer.id, mesos_pb2.Filters(refuse_seconds=1))
                continue
            self.launched = True
            driver.node.send(driver.master, self.launch_message(driver, offer))
        self._record("resourceOffers", len(offers))

    def launch_message(self, driver, offer):
        """
        The LaunchTasksMessage of every task (the group as the v1 API's
        LAUNCH_GROUP, which the classic driver cannot say).
        """
        wait = "while [ ! -e {0} ]; do sleep 0.05; done"
        echo = echo_executor_info()
        pymesos = mesos_pb2.ExecutorInfo(
            executor_id=mesos_pb2.ExecutorID(value="pymesos"),
            command=mesos_pb2.CommandInfo(value=f"{sys.executable} {PYMESOS_EXECUTOR}"))
        tasks = [
            _task("echo-runs", slave_id=offer.slave_id, executor=echo),
            _task("echo-finishes", slave_id=offer.slave_id, executor=echo,
                  data=self.file("echo-finishes").encode()),
            _task("command-runs", slave_id=offer.slave_id,
                  command=mesos_pb2.CommandInfo(value="sleep 600")),
            _task("command-finishes", slave_id=offer.slave_id,
                  command=mesos_pb2.CommandInfo(value=wait.format(self.file("command-finishes")))),
            _task("pymesos-runs", slave_id=offer.slave_id, executor=pymesos),
        ]
        group = internal.LaunchGroup(
            executor=mesos_pb2.ExecutorInfo(
                executor_id=mesos_pb2.ExecutorID(value="default"),
                type=mesos_pb2.ExecutorInfo.DEFAULT,
                resources=Resources.parse(TASK_RESOURCES).to_protobuf()),
            task_group=mesos_pb2.TaskGroupInfo(tasks=[_task(
                "group-runs", slave_id=offer.slave_id,
                command=mesos_pb2.CommandInfo(value="sleep 600"))]))
        for task in tasks + list(group.task_group.tasks):
            self.slaves[task.task_id.value] = offer.slave_id.value
        return internal.LaunchTasksMessage(
            framework_id=mesos_pb2.FrameworkID(value=self.framework_id), tasks=tasks,
            groups=[group], filters=mesos_pb2.Filters(refuse_seconds=1),
            offer_ids=[offer.id], offer_id=offer.id)

    def file(self, task_id):
        """
        The file whose appearance finishes C{task_id}.
        """
        return os.path.join(self.files, task_id)

    def frameworkMessage(self, driver, executorId, slaveId, message):
        """
        Record the pymesos executor's messages, and never answer them (its
        task then runs on).
        """
        RecordingScheduler.frameworkMessage(self, driver, executorId, slaveId, message)


def executor_processes(work_dir, cgroups_root=None):
    """
    The pids of every process an executor of a slave on C{work_dir}
    started, and of every process in a cgroup under C{cgroups_root} (the
    launcher that forked command executors may be there).
    """
    sandboxes = os.path.join(work_dir, "slaves") + os.sep

    def in_root(pid):
        try:
            with open(f"/proc/{pid}/cgroup") as cgroups:
                return f"/{cgroups_root}/" in cgroups.read()
        except OSError:
            return False

    marked = [pid for pid, environment in marked_processes(CONTAINER_VARIABLE).items()
              if environment.get("MESOS_DIRECTORY", "").startswith(sandboxes)]
    if cgroups_root is None:
        return marked
    return marked + [int(entry) for entry in os.listdir("/proc")
                     if entry.isdigit() and in_root(entry)]


def kill_executors(work_dir, cgroups_root=None):
    """
    SIGKILL every L{executor_processes} (the executors outlive a killed
    slave: that is the point).

    @return: a Deferred firing once they have all exited.
    """
    return kill_and_wait(reactor, lambda: executor_processes(work_dir, cgroups_root))


class RecoveryTestCase(TestCase):
    """
    A real slave killed and restarted under running tasks, with the
    isolator L{isolation_flags} picks.
    """

    timeout = 240

    #: The cgroups root the isolator uses, if any.
    cgroups_root = None

    def isolation_flags(self):
        """
        The slave's isolation flags (skipping the test, saying why, where
        that isolator cannot work).
        """
        return ["--isolation=process"]

    @inlineCallbacks
    def setUp(self):
        if shutil.which("zkServer.sh") is None and not os.path.isdir("/usr/share/zookeeper"):
            raise SkipTest("ZooKeeper is not installed (Debian: apt-get install zookeeper)")
        try:
            __import__("pymesos")
        except ImportError:
            raise SkipTest("pymesos is not installed (bash scripts/install-pymesos)") from None
        self.ensemble = yield start_ensemble(self, reactor, size=1)
        self.url = self.ensemble.url("/mesos")
        self.directory = os.path.abspath(self.mktemp())
        os.makedirs(self.directory)
        try:
            self.cluster = ProcessCluster(reactor, self.directory, self.url, "2secs")
        except ClusterUnavailable as error:
            raise SkipTest(str(error)) from None
        self.addCleanup(self.cluster.stop)
        self.slave_port = free_port()
        self.work_dir = os.path.join(self.directory, "slave")
        self.flags = self.isolation_flags()
        self.addCleanup(self.end_everything)

    @inlineCallbacks
    def end_everything(self):
        """
        Shut the slave down (SIGUSR1: it destroys its containers), then
        kill whatever is left (of a slave the test killed), and wait for
        them.
        """
        slave = getattr(self, "slave", None)
        if slave is not None and slave.running:
            slave.signal(signal.SIGUSR1)
            yield slave.ended
        yield kill_executors(self.work_dir, self.cgroups_root)

    def start_slave(self, master=None, pythonpath=None, *flags):
        """
        Start the slave (again) on its port and work directory, finding the
        master through ZooKeeper unless C{master} is given; with
        C{pythonpath}, from the code tree there.
        """
        argv = ["mesos-slave", f"--master={master or self.url}", "--ip=127.0.0.1",
                f"--port={self.slave_port}", f"--work_dir={self.work_dir}",
                "--resources=cpus:4;mem:2048;disk:100", "--zk_session_timeout=2secs",
                "--executor_reregistration_timeout=20secs", "--recovery_timeout=2mins",
                *self.flags, *flags]
        if pythonpath is None:
            self.slave = self.cluster.spawn("slave", *argv)
        else:
            previous = os.environ.get("PYTHONPATH")
            os.environ["PYTHONPATH"] = pythonpath
            try:
                self.slave = self.cluster.spawn("upgraded slave", *argv)
            finally:
                if previous is None:
                    del os.environ["PYTHONPATH"]
                else:
                    os.environ["PYTHONPATH"] = previous
        self.cluster.slaves.append(self.slave)
        return self.slave

    def start_framework(self):
        """
        A checkpointing framework launching every kind of task.
        """
        self.scheduler = MixedScheduler(reactor, self.directory)
        info = mesos_pb2.FrameworkInfo(user="", name="recovery test", checkpoint=True,
                                       failover_timeout=300)
        driver = MesosSchedulerDriver(self.scheduler, info, self.url, reactor=reactor)
        driver.start()
        self.addCleanup(driver.abort)
        return driver

    @inlineCallbacks
    def slave_state(self):
        """
        The slave's own state JSON.
        """
        response = yield treq.get(f"http://127.0.0.1:{self.slave_port}/slave(1)/state",
                                  persistent=False, timeout=30)
        return json.loads((yield response.content()))

    @inlineCallbacks
    def run_everything(self, master=None):
        """
        A master (or C{master}, an address), the slave and the framework;
        fire once every task runs, noting the executors' pids.
        """
        if master is None:
            self.cluster.start_master()
        self.start_slave(master)
        self.start_framework()
        everything = RUNNING + FINISHING
        yield self.with_daemons_output(self.scheduler.wait(
            lambda s: all(s.latest(t) == "TASK_RUNNING" for t in everything),
            "every task to run", timeout=120))

    def with_daemons_output(self, d):
        """
        C{d}, whose failure, if it fails, also shows what the master and
        slave processes said.
        """
        def add_output(failure):
            failure.trap(AssertionError)
            raise AssertionError(f"{failure.value}\n{self.cluster.logs()}")

        return d.addErrback(add_output)

    @inlineCallbacks
    def kill_slave_while_tasks_finish(self, number=signal.SIGKILL):
        """
        SIGKILL the slave (or send it signal C{number}, and wait for it to
        end); while it is down, let the finishing tasks end.
        """
        if number == signal.SIGKILL:
            yield self.slave.kill()
        else:
            self.slave.signal(number)
            yield self.slave.ended
        for task_id in FINISHING:
            with open(self.scheduler.file(task_id), "w"):
                pass

    @inlineCallbacks
    def check_nothing_lost(self, expected_version=None):
        """
        The finishing tasks' TASK_FINISHED arrive once each; nothing is
        lost; the running tasks still run on the restarted slave, which
        re-registered under its old id.
        """
        yield self.with_daemons_output(self.scheduler.wait(
            lambda s: all(s.latest(t) == "TASK_FINISHED" for t in FINISHING),
            "the finishing tasks' TASK_FINISHED", timeout=120))
        state = yield self.slave_state()
        running = {task["id"] for framework in state["frameworks"]
                   for executor in framework["executors"] for task in executor["tasks"]
                   if task["state"] == "TASK_RUNNING"}
        self.assertEqual(running, set(RUNNING))
        if expected_version is not None:
            self.assertEqual(state["version"], expected_version)
        for task_id in FINISHING:
            self.assertEqual(self.scheduler.states[task_id].count("TASK_FINISHED"), 1,
                             self.scheduler.states[task_id])
        lost = {task_id: states for task_id, states in self.scheduler.states.items()
                if "TASK_LOST" in states or "TASK_FAILED" in states}
        self.assertEqual(lost, {}, [event for event in self.scheduler.events
                                    if event[0] == "statusUpdate"])
        self.assertEqual(self.scheduler.count("slaveLost"), 0)
        found = yield self.cluster.wait_for(
            lambda port, s: any(t["state"] == "TASK_RUNNING" for f in s["frameworks"]
                                for t in f["tasks"]) and all(
                slave["connected"] for slave in s["slaves"]),
            "the slave to be connected with its tasks")
        tasks = {t["id"]: t["state"] for f in found[1]["frameworks"] for t in f["tasks"]}
        self.assertEqual({t: tasks.get(t) for t in RUNNING},
                         {t: "TASK_RUNNING" for t in RUNNING})

    @inlineCallbacks
    def test_kill_and_restart(self):
        """
        A slave killed with SIGKILL and started again: every task keeps
        running or finishes, once, and none is lost.
        """
        yield self.run_everything()
        yield self.kill_slave_while_tasks_finish()
        self.start_slave()
        yield self.check_nothing_lost()


class ProcessIsolatorRecoveryTests(RecoveryTestCase):
    """
    Under the process isolator: restarts, an upgrade, a failover, a cut.
    """

    @inlineCallbacks
    def test_upgrade(self):
        """
        The slave stopped with SIGTERM (leaving its executors running, as
        Mesos's agent does) and started from a second code tree (a copy of
        this one whose version string says it is newer): stop, replace,
        start recovers every task.
        """
        tree = os.path.join(self.directory, "upgrade")
        shutil.copytree(os.path.join(ROOT, "mesos_tw"), os.path.join(tree, "mesos_tw"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        version_file = os.path.join(tree, "mesos_tw", "__init__.py")
        with open(version_file) as file:
            text = file.read()
        upgraded = mesos_tw.__version__ + "+upgrade"
        with open(version_file, "w") as file:
            file.write(text.replace(f'"{mesos_tw.__version__}"', f'"{upgraded}"'))
        yield self.run_everything()
        yield self.kill_slave_while_tasks_finish(signal.SIGTERM)
        self.start_slave(None, tree)
        yield self.check_nothing_lost(expected_version=upgraded)
        # An explicit shutdown (SIGUSR1) leaves nothing running.
        self.assertNotEqual(executor_processes(self.work_dir), [])
        self.slave.signal(signal.SIGUSR1)
        yield self.slave.ended
        self.assertEqual(executor_processes(self.work_dir), [])

    @inlineCallbacks
    def test_master_failover_while_slave_down(self):
        """
        The leading master is killed while the slave is down; the new
        leader learns every task from the slave's re-registration.
        """
        self.cluster.start_master()
        self.cluster.start_master()
        yield self.run_everything(master=None)
        port, _ = yield self.cluster.wait_for(lambda p, s: True, "a leader")
        yield self.kill_slave_while_tasks_finish()
        yield self.cluster.kill_master(port)
        self.start_slave()
        yield self.check_nothing_lost()

    @inlineCallbacks
    def test_connection_cut_by_proxy(self):
        """
        The slave and the master reach each other only through two TCP
        proxies (the master advertises one, the slave the other, and each
        connects from an address of its own); both cut every connection
        between them for a few seconds while the finishing tasks end.  The
        master keeps the slave, disconnected, meanwhile; then it
        re-registers, every task goes on, and each update arrives once.
        """
        master_port = free_port()
        to_master = PortForwarder(reactor, master_port)
        self.addCleanup(to_master.stop)
        to_slave = PortForwarder(reactor, self.slave_port)
        self.addCleanup(to_slave.stop)
        proxied_master_port = yield to_master.listen()
        proxied_slave_port = yield to_slave.listen()
        connect = "--connect=tcp:host={{host}}:port={{port}}:timeout=10:bindAddress={0}"
        self.cluster.masters[master_port] = self.cluster.spawn(
            f"master :{master_port}", "mesos-master", "--ip=127.0.0.1", f"--port={master_port}",
            f"--zk={self.url}", "--zk_session_timeout=2secs",
            f"--advertise_port={proxied_master_port}", connect.format(MASTER_SOURCE))
        self.start_slave(None, None, f"--advertise_port={proxied_slave_port}",
                         connect.format(SLAVE_SOURCE))
        self.start_framework()
        yield self.scheduler.wait(
            lambda s: all(s.latest(t) == "TASK_RUNNING" for t in RUNNING + FINISHING),
            "every task to run", timeout=120)
        to_master.cut([SLAVE_SOURCE])
        to_slave.cut([MASTER_SOURCE])
        self.assertGreater(to_master.aborted, 0)
        yield self.cluster.wait_for(
            lambda port, s: s["slaves"] and not s["slaves"][0]["connected"],
            "the master to see the slave disconnected")
        for task_id in FINISHING:
            with open(self.scheduler.file(task_id), "w"):
                pass
        # The cut itself lasts a few seconds (what is tested, not a wait
        # for anything).
        yield deferLater(reactor, CUT_SECONDS, lambda: None)
        to_master.restore()
        to_slave.restore()
        yield self.check_nothing_lost()
        self.assertEqual(self.scheduler.count("disconnected"), 0)
        # It came back through the proxy.
        self.assertIn(SLAVE_SOURCE, {c.host for c in to_master.connections})


class CgroupsIsolatorRecoveryTests(RecoveryTestCase):
    """
    Under the cgroups isolator (root, cgroup v1 or a delegated v2).
    """

    def isolation_flags(self):
        """
        A cgroups root of the test's own (skips where cgroups cannot work).
        """
        self.cgroups_root = cgroups_root(self)
        return ["--isolation=cgroups", f"--cgroups_root={self.cgroups_root}"]


class LXCIsolatorRecoveryTests(RecoveryTestCase):
    """
    Under the lxc isolator (root, LXC's tools, cgroup v1).
    """

    def isolation_flags(self):
        """
        The host's network (executors reach the slave over TCP), and a
        cgroups root of the test's own.
        """
        try:
            check_lxc()
        except IsolatorUnavailable as error:
            raise SkipTest(str(error)) from None
        self.cgroups_root = f"mesos_tw_lxc_recovery_{os.getpid()}_{id(self):x}"
        return ["--isolation=lxc", "--lxc_network=host", f"--cgroups_root={self.cgroups_root}"]


class StrictRecoveryTests(TestCase):
    """
    A real slave refusing to start on a corrupt checkpoint.
    """

    @inlineCallbacks
    def test_corrupt_state_refused_in_one_line(self):
        """
        ``twistd -n mesos-slave`` on a work directory whose checkpointed
        SlaveInfo is garbage exits with status 1 and one line (in its log)
        naming the file and what is wrong; with --strict=false it starts
        (as a new slave) and says why in its log.
        """
        work_dir = os.path.abspath(self.mktemp())
        info = paths.slave_info_path(work_dir, "S1")
        write_atomically(info, b"\x03\x00\x00\x00\xff\xff\xff")
        paths.point_latest(paths.slaves_meta_directory(work_dir), "S1")
        try:
            twistd = twistd_path()
        except ClusterUnavailable as error:
            raise SkipTest(str(error)) from None
        argv = ["--nodaemon", "--pidfile=", "mesos-slave", "--master=127.0.0.1:1",
                f"--port={free_port()}", f"--work_dir={work_dir}", "--resources=cpus:1;mem:64"]
        out, err, code = yield getProcessOutputAndValue(twistd, argv, env=os.environ.copy())
        self.assertEqual(code, 1, out + err)
        # twistd logs what goes to standard error once it runs: one line.
        lines = [line for line in (out + err).decode().splitlines()
                 if "cannot recover" in line]
        self.assertEqual(len(lines), 1, out + err)
        self.assertIn(f"(--strict): {info}: not a mesos.SlaveInfo", lines[0])
        lenient = ProcessCluster(reactor, work_dir, "unused").spawn(
            "lenient slave", *argv[2:], "--strict=false")
        self.addCleanup(lambda: lenient.kill() if lenient.running else None)
        yield lenient.wait_for_output(reactor, b"starting as a new slave (--strict=false)")
