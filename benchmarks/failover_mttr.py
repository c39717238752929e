"""
Master failover: mean time to recovery, and what is lost, on a real
3-node ZooKeeper ensemble.

Starts the ensemble, three ``twistd mesos-master --zk=...`` processes,
SLAVES ``twistd mesos-slave`` processes and, in this process, a framework
with two tasks per slave running in the echo executor.  Then, ROUNDS times:

1. SIGKILL the leading master;
2. at once, let one task finish, so that its update is sent while no
   master leads;
3. wait until a new leader has every slave and the framework
   re-registered (and the scheduler's ``reregistered`` callback ran): the
   time from the kill to this is the MTTR;
4. wait for the finished task's update, start a master in place of the
   one killed and a task in place of the one finished.

It prints each round's time to a new leader serving its state ("elected")
and to full recovery ("MTTR"), their medians and maxima, and the tasks and
updates lost (a task reported LOST or not RUNNING at the end; an update
that never reached the scheduler) and duplicates handed to the scheduler.
Most of the MTTR is the ZooKeeper session timeout: the killed leader's
znode lives until its session expires.  The figures are sampled every
50 ms (the polling interval), so they carry that much resolution.

    python benchmarks/failover_mttr.py                       # session timeouts 1, 2 and 4 s
    python benchmarks/failover_mttr.py --session_timeouts 1 --slaves 3 6 12

At scale (``--emulated 10000``) the slaves are emulated instead
(``python -m mesos_tw.testing.emulator`` processes of 5,000 slaves, each
process with one ZooKeeper session that tells its slaves who leads, as each
real slave's detector would), each running one long task of the framework.
The emulating processes run at a niceness 5 above the masters'
(``--emulator_nice``): they share the masters' machine, and when both want
a core the master, what is measured, gets it first (on a cluster each
slave has a machine of its own).
The MTTR is then the time from the kill to every slave having the new
leader's answer to its re-registration (as the emulating processes count
them) and the framework's driver having re-registered, confirmed then by
the leader's ``/metrics/snapshot`` (not polled meanwhile: at 10,000 slaves
each snapshot costs the master tens of milliseconds),
and at the end every task must still be known and running (reconciled with
the new leader): a slave or task missing is counted lost.  Each round also
prints the cores the masters and the emulating processes used while it
recovered (one emulating process near 1.0 was the limit), and ``--trace``
prints the slaves answered every half second and, after each round, the
(re-)registrations sent, connections lost, each emulating process's wait
for its answers and the machine's TCP refusals; ``--logs DIR`` keeps each
round's new leader's log, which counts the re-registrations once a second.  One row per command, unattended:

    python benchmarks/failover_mttr.py --emulated 1000 --session_timeouts 1
    python benchmarks/failover_mttr.py --emulated 3000 --session_timeouts 1
    python benchmarks/failover_mttr.py --emulated 10000 --session_timeouts 1

Needs Debian's ``zookeeper`` package (``bash scripts/test`` installs it).
"""

import argparse
import collections
import json
import os
import statistics
import sys
import tempfile
import time

import treq
from twisted.internet import defer, protocol, task

from mesos_tw.interface import Scheduler
from mesos_tw.native import MesosSchedulerDriver
from mesos_tw.protocols import mesos_pb2
from mesos_tw.testing.processes import ProcessCluster
from mesos_tw.testing.scheduler import RecordingScheduler
from mesos_tw.testing.zookeeper_server import ZooKeeperEnsemble

RECOVERY_TIMEOUT = 60.0
#: The emulating processes' own ZooKeeper session timeout: Mesos's default
#: for slaves.  A detector hears of a new leader as soon as the old one's
#: znode goes (the masters' session timeout bounds that); its own session
#: timeout only bounds how soon it notices losing its session, which a
#: process busy with thousands of connections, late with its heartbeats,
#: risks at 1 s (under load their detectors named the new leader up to
#: 17 s after the kill).
EMULATOR_SESSION_TIMEOUT = 10.0
#: How often a round's progress is looked at.
POLL_SECONDS = 0.05
EMULATED_PER_PROCESS = 5000
#: Niceness added to the emulating processes: on this machine they share
#: the masters' cores, and when both want one the master, what is
#: measured, should have it (on a cluster each slave has its own machine).
#: Measured on 2 cores (README): with 0, the slaves' connections and the
#: new leader took turns on the cores and its answers came later.
EMULATOR_NICE = 5
#: Loopback source addresses per emulating process: real slaves each have
#: their own, and a master closes an address's connections beyond 1,024
#: that have not yet sent a frame (its guard against idle connections),
#: which a reconnection storm of 5,000 from one address exceeds.
SOURCES_PER_PROCESS = 10


class EmulatorProcess(protocol.ProcessProtocol):
    """
    One emulating process of C{slaves}; C{latest} has the latest figure of
    each name it printed.
    """

    def __init__(self, slaves):
        self.slaves = slaves
        self.latest = {}
        self.ended = defer.Deferred()
        self._buffer = b""

    def outReceived(self, data):
        lines = (self._buffer + data).split(b"\n")
        self._buffer = lines.pop()
        for line in lines:
            if line.strip():
                # Some lines carry only the figures that are cheap to
                # count: keep the others from the last line that had them.
                self.latest.update(json.loads(line))

    def processEnded(self, reason):
        self.ended.callback(None)


class LongTaskScheduler(Scheduler):
    """
    Launches one long task on each offer until C{wanted} run; records
    every task's latest state and the re-registrations.  While
    C{setting_up}, a task that ends is launched again (counted in
    C{replaced}); afterwards an ended task is what the benchmark counts
    lost.
    """

    def __init__(self, wanted):
        self.wanted = wanted
        self.launched = 0
        self.replaced = 0
        self.setting_up = True
        self.states = {}
        self.reregistrations = 0
        self.framework_id = None

    def registered(self, driver, framework_id, master_info):
        self.framework_id = framework_id.value

    def reregistered(self, driver, master_info):
        self.reregistrations += 1

    def resourceOffers(self, driver, offers):
        for offer in offers:
            if self.launched >= self.wanted:
                driver.declineOffer(offer.id, mesos_pb2.Filters(refuse_seconds=3600))
                continue
            self.launched += 1
            task_id = f"task-{self.launched}"
            info = mesos_pb2.TaskInfo(
                name=task_id, task_id=mesos_pb2.TaskID(value=task_id), slave_id=offer.slave_id,
                resources=offer.resources, data=b"100000")
            info.command.value = "true"
            driver.launchTasks([offer.id], [info])

    def statusUpdate(self, driver, status):
        self.states[status.task_id.value] = mesos_pb2.TaskState.Name(status.state)
        if self.setting_up and status.state not in (mesos_pb2.TASK_STAGING,
                                                    mesos_pb2.TASK_STARTING,
                                                    mesos_pb2.TASK_RUNNING):
            del self.states[status.task_id.value]
            self.launched -= 1
            self.replaced += 1


@defer.inlineCallbacks
def metrics(port):
    """
    A master's C{/metrics/snapshot}, or L{None} if it cannot be read.
    """
    try:
        response = yield treq.get(f"http://127.0.0.1:{port}/metrics/snapshot",
                                  persistent=False, timeout=5)
        return json.loads((yield response.content()))
    except Exception:
        return None


def cpu_seconds(pid):
    """
    The CPU time (user and system) process C{pid} has used, from Linux's
    /proc; 0 if it cannot be read.
    """
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sources(index):
    """
    The loopback source addresses of emulating process C{index}, as
    C{--source} takes them: 127.0.0.2 and up, none shared.
    """
    first = 2 + index * SOURCES_PER_PROCESS
    return ",".join(f"127.0.0.{first + offset}" for offset in range(SOURCES_PER_PROCESS))


def tcp_counters():
    """
    The machine's TCP counters that show a connection storm being
    refused (Linux's /proc/net/netstat): accept queue overflows and SYN
    retransmissions; empty if they cannot be read.
    """
    try:
        with open("/proc/net/netstat") as netstat:
            lines = netstat.read().splitlines()
    except OSError:
        return {}
    counters = {}
    for names, values in zip(lines[::2], lines[1::2]):
        counters.update(zip(names.split()[1:], map(int, values.split()[1:])))
    return {name: counters.get(name, 0) for name in ("ListenOverflows", "TCPSynRetrans")}


def daemon_log(daemon):
    """
    What C{daemon} logged to its file (twistd's rotated ones first), or
    its output if it logs there.
    """
    if daemon.log_path is None:
        return bytes(daemon.output)
    directory, name = os.path.split(daemon.log_path)
    rotated = sorted((int(f.rpartition(".")[2]) for f in os.listdir(directory)
                      if f.startswith(name + ".") and f.rpartition(".")[2].isdigit()),
                     reverse=True)
    text = b""
    for path in [f"{daemon.log_path}.{n}" for n in rotated] + [daemon.log_path]:
        with open(path, "rb") as log:
            text += log.read()
    return text


def trace_round(emulators, before, tcp_before, new_leader, killed_at):
    """
    Print, for C{--trace}, what one round cost the emulated slaves and the
    new leader: (re-)registrations sent, master connections lost or
    refused, quantiles of each slave's wait from its leader change to its
    answer, the machine's TCP refusals, and the new leader's guard closing
    connections.
    """
    sent = sum(e.latest.get("attempts", 0) for e in emulators) - before[0]
    lost = sum(e.latest.get("lost_master", 0) for e in emulators) - before[1]
    quantiles = [e.latest.get("registered_after") for e in emulators]
    tcp = {name: value - tcp_before.get(name, 0) for name, value in tcp_counters().items()}
    detected = [round(e.latest["leader_at"] - killed_at, 2) if e.latest.get("leader_at")
                else None for e in emulators]
    closed = daemon_log(new_leader).count(b"Closing a connection from") if new_leader else "?"
    print(f"    the emulators' detectors named the new leader {detected} s after the kill; "
          f"the slaves sent {sent} (re-)registrations and lost or could not reach a "
          f"master {lost} times; each emulator's wait from its leader change to the answer "
          f"(p50, p90, max): {quantiles}; TCP: {tcp}; the new leader's guard closed "
          f"{closed} connections", flush=True)


def masters_cpu(cluster):
    """
    The CPU seconds the running masters have used, together.
    """
    return sum(cpu_seconds(daemon.transport.pid) for daemon in cluster.masters.values()
               if daemon.running)


@defer.inlineCallbacks
def wait_leader(reactor, cluster, predicate, what, timeout=RECOVERY_TIMEOUT):
    """
    Poll the masters' metrics until the elected one's satisfy
    C{predicate(port, metrics)}; returns its port.
    """
    started = time.monotonic()
    deadline = started + timeout
    seen = {}
    while time.monotonic() < deadline:
        for port, daemon in list(cluster.masters.items()):
            if not daemon.running:
                continue
            figures = yield metrics(port)
            if figures and figures.get("master/elected") == 1:
                seen = {name: figures.get(f"master/{name}") for name in (
                    "slaves_active", "frameworks_active", "tasks_running")}
                if predicate(port, figures):
                    return port
        yield task.deferLater(reactor, POLL_SECONDS, lambda: None)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (the leader last "
                         f"had {seen or 'no answer'})")


@defer.inlineCallbacks
def wait_answered(reactor, emulators, killed_at, framework_back, trace=False,
                  timeout=RECOVERY_TIMEOUT):
    """
    Wait until every emulating process's detector has named a leader since
    C{killed_at} (the time since the epoch), every emulated slave has been
    answered by the leader it follows and C{framework_back()} is true;
    with C{trace}, print how many are answered every half second.
    """
    started = time.monotonic()
    printed = started
    while True:
        answered = sum(e.latest.get("answered", 0) for e in emulators)
        if all((e.latest.get("leader_at") or 0) > killed_at for e in emulators) \
                and answered == sum(e.slaves for e in emulators) and framework_back():
            return
        now = time.monotonic()
        if now - started > timeout:
            raise AssertionError(f"timed out after {timeout:g} s waiting for every slave and "
                                 f"the framework to re-register: {answered} slaves answered")
        if trace and now - printed >= 0.5:
            printed = now
            print(f"    {now - started:6.2f} s after the new leader was seen: {answered} slaves "
                  f"answered", flush=True)
        yield task.deferLater(reactor, POLL_SECONDS, lambda: None)


@defer.inlineCallbacks
def measure_emulated(reactor, directory, session_timeout, slaves, rounds, trace=False,
                     logs=None, per_connection=1, emulator_nice=EMULATOR_NICE):
    """
    One configuration with C{slaves} emulated slaves: returns C{(elected,
    mttr, lost_tasks, lost_slaves)}, the first two as lists of seconds.
    With C{logs} (a directory), each round's new leader's log is written
    there, and every master's whole log at the end.  C{per_connection}
    slaves share each connection to the master; the emulating processes
    run with C{emulator_nice} added to their niceness.
    """
    ensemble = ZooKeeperEnsemble(os.path.join(directory, "zk"), size=3)
    ensemble.start()
    url = ensemble.url("/mesos")
    # The masters log to files: through their output, this process (the
    # framework's too) would read thousands of lines a second, and a
    # master would wait for it when the pipe is full.
    os.makedirs(os.path.join(directory, "logs"))
    if logs:
        os.makedirs(logs, exist_ok=True)
    cluster = ProcessCluster(reactor, os.path.join(directory, "cluster"), url,
                             f"{session_timeout}secs",
                             master_flags=["--max_slave_ping_timeouts=20"],
                             log_directory=os.path.join(directory, "logs"))
    emulators, driver = [], None
    try:
        yield ensemble.wait_serving(reactor)
        for _ in range(3):
            cluster.start_master()
        for index, first in enumerate(range(0, slaves, EMULATED_PER_PROCESS)):
            emulator = EmulatorProcess(min(EMULATED_PER_PROCESS, slaves - first))
            command = [sys.executable, "-m", "mesos_tw.testing.emulator", f"--master={url}",
                       f"--slaves={min(EMULATED_PER_PROCESS, slaves - first)}",
                       f"--first={first}", f"--source={sources(index)}",
                       f"--zk_session_timeout={EMULATOR_SESSION_TIMEOUT}",
                       f"--per_connection={per_connection}",
                       f"--report_interval={POLL_SECONDS}", f"--nice={emulator_nice}"]
            reactor.spawnProcess(emulator, command[0], command, env=os.environ)
            emulators.append(emulator)
        # Registering (a write of the registry each batch) and launching
        # take longer than a failover: up to a minute or more per 10,000
        # slaves on a loaded machine.
        setting_up = max(RECOVERY_TIMEOUT, slaves / 100)
        yield wait_leader(reactor, cluster, lambda p, m: m["master/slaves_active"] == slaves,
                          "every slave registered", timeout=setting_up)
        scheduler = LongTaskScheduler(slaves)
        driver = MesosSchedulerDriver(
            scheduler, mesos_pb2.FrameworkInfo(user="", name="mttr", failover_timeout=600),
            url, reactor=reactor)
        driver.start()
        try:
            yield wait_leader(reactor, cluster,
                              lambda p, m: m["master/tasks_running"] == slaves,
                              "a task on every slave", timeout=setting_up)
        except AssertionError as error:
            states = collections.Counter(scheduler.states.values())
            raise AssertionError(f"{error}; the scheduler launched {scheduler.launched} tasks "
                                 f"and last heard {dict(states)}") from None
        scheduler.setting_up = False
        if scheduler.replaced:
            print(f"  (while setting up, {scheduler.replaced} tasks ended and were launched "
                  f"again)", flush=True)
        elected, mttr = [], []
        for round_number in range(rounds):
            old_port = yield wait_leader(reactor, cluster, lambda p, m: True, "a leader")
            reregistrations = scheduler.reregistrations
            killed, killed_at = time.monotonic(), time.time()
            sent_before = (sum(e.latest.get("attempts", 0) for e in emulators),
                           sum(e.latest.get("lost_master", 0) for e in emulators))
            tcp_before = tcp_counters()
            yield cluster.kill_master(old_port)
            emulators_before = sum(e.latest.get("cpu", 0.0) for e in emulators)
            masters_before = masters_cpu(cluster)
            new_port = yield wait_leader(reactor, cluster, lambda p, m: p != old_port,
                                         "a new leader")
            elected.append(time.monotonic() - killed)
            # Recovered once every slave has the new leader's answer and the
            # scheduler's driver has re-registered: told by the emulators
            # and the driver, not by polling the leader's metrics (at
            # 10,000 slaves a snapshot costs it tens of milliseconds: the
            # polling would take a good part of the core it recovers with).
            yield wait_answered(reactor, emulators, killed_at,
                                lambda: scheduler.reregistrations > reregistrations, trace)
            mttr.append(time.monotonic() - killed)
            figures = yield metrics(new_port)
            if figures is None or figures.get("master/elected") != 1 or \
                    figures["master/slaves_active"] != slaves or \
                    figures["master/frameworks_active"] != 1:
                raise AssertionError(f"the slaves and the driver were answered, but the new "
                                     f"leader's metrics say {figures}")
            # Cores each side used meanwhile: near 1 per process means
            # that process was the limit.
            emulators_cpu = sum(e.latest.get("cpu", 0.0) for e in emulators) - emulators_before
            print(f"  round {round_number + 1}: elected after {elected[-1]:.2f} s, "
                  f"recovered after {mttr[-1]:.2f} s; meanwhile the masters used "
                  f"{(masters_cpu(cluster) - masters_before) / mttr[-1]:.2f} cores, the "
                  f"{len(emulators)} emulating processes "
                  f"{emulators_cpu / mttr[-1]:.2f}; load average {os.getloadavg()[0]:.1f}",
                  flush=True)
            if trace:
                trace_round(emulators, sent_before, tcp_before, cluster.masters.get(new_port),
                            killed_at)
            if logs:
                name = os.path.join(logs, f"round-{round_number + 1}-new-leader.log")
                with open(name, "wb") as log:
                    log.write(daemon_log(cluster.masters[new_port]))
            cluster.start_master()
        port = yield wait_leader(reactor, cluster, lambda p, m: True, "a leader")
        figures = yield metrics(port)
        driver.reconcileTasks([])
        yield task.deferLater(reactor, 5.0, lambda: None)
        lost_tasks = slaves - sum(1 for state in scheduler.states.values()
                                  if state == "TASK_RUNNING")
        lost_slaves = slaves - figures["master/slaves_active"]
        return elected, mttr, lost_tasks, lost_slaves
    finally:
        if driver is not None:
            driver.abort()
        for emulator in emulators:
            emulator.transport.closeStdin()
        yield defer.DeferredList([emulator.ended for emulator in emulators])
        yield cluster.stop()
        ensemble.stop()
        if logs:
            # Every master's whole log too, for a run that failed.
            for daemon in cluster.masters.values():
                name = os.path.join(logs, os.path.basename(daemon.log_path))
                with open(name, "wb") as log:
                    log.write(daemon_log(daemon))


def active_framework(state, framework_id):
    """
    Whether the master's state has C{framework_id} active.
    """
    return any(f["id"] == framework_id and f.get("active", True) for f in state["frameworks"])


@defer.inlineCallbacks
def measure(reactor, directory, session_timeout, slaves, tasks, rounds):
    """
    One configuration: returns C{(elected, mttr, lost_tasks, lost_updates,
    duplicates)}, the first two as lists of seconds.
    """
    ensemble = ZooKeeperEnsemble(os.path.join(directory, "zk"), size=3)
    ensemble.start()
    cluster = ProcessCluster(reactor, os.path.join(directory, "cluster"), ensemble.url("/mesos"),
                             f"{session_timeout}secs")
    driver = None
    try:
        yield ensemble.wait_serving(reactor)
        for _ in range(3):
            cluster.start_master()
        for _ in range(slaves):
            cluster.start_slave()
        yield cluster.wait_for(lambda p, s: len(s["slaves"]) == slaves, "the slaves",
                               RECOVERY_TIMEOUT)
        scheduler = RecordingScheduler(reactor)
        driver = MesosSchedulerDriver(
            scheduler, mesos_pb2.FrameworkInfo(user="", name="mttr", failover_timeout=600),
            ensemble.url("/mesos"), reactor=reactor)
        driver.start()
        finish_files = {}
        for number in range(tasks):
            task_id = f"task-{number}"
            finish_files[task_id] = os.path.join(directory, task_id)
            scheduler.launch(task_id, finish_files[task_id])
        yield scheduler.wait(
            lambda s: all(s.latest(t) == "TASK_RUNNING" for t in finish_files), "tasks running",
            RECOVERY_TIMEOUT)

        elected, mttr, lost_updates = [], [], 0
        for round_number in range(rounds):
            old_port, _ = yield cluster.wait_for(lambda p, s: True, "a leader", RECOVERY_TIMEOUT)
            reregistered = scheduler.count("reregistered")
            finishing = next(t for t in finish_files if scheduler.latest(t) == "TASK_RUNNING")
            killed = time.monotonic()
            yield cluster.kill_master(old_port)
            open(finish_files[finishing], "w").close()
            yield cluster.wait_for(lambda p, s: p != old_port, "a new leader", RECOVERY_TIMEOUT)
            elected.append(time.monotonic() - killed)
            yield cluster.wait_for(
                lambda p, s: p != old_port and len(s["slaves"]) == slaves
                and active_framework(s, scheduler.framework_id)
                and scheduler.count("reregistered") > reregistered,
                "every slave and the framework re-registered", RECOVERY_TIMEOUT)
            mttr.append(time.monotonic() - killed)
            try:
                yield scheduler.wait(lambda s: s.latest(finishing) == "TASK_FINISHED",
                                     f"{finishing}'s update", RECOVERY_TIMEOUT)
            except AssertionError:
                lost_updates += 1
            print(f"  round {round_number + 1}: elected after {elected[-1]:.2f} s, "
                  f"recovered after {mttr[-1]:.2f} s", flush=True)
            cluster.start_master()
            replacement = f"task-{len(finish_files)}"
            finish_files[replacement] = os.path.join(directory, replacement)
            scheduler.launch(replacement, finish_files[replacement])
            yield scheduler.wait(lambda s: s.latest(replacement) == "TASK_RUNNING",
                                 f"{replacement} running", RECOVERY_TIMEOUT)

        lost_tasks = sum(1 for t, states in scheduler.states.items()
                         if "TASK_LOST" in states
                         or states[-1] not in ("TASK_RUNNING", "TASK_FINISHED"))
        duplicates = sum(len(states) - len(set(states)) for states in scheduler.states.values())
        return elected, mttr, lost_tasks, lost_updates, duplicates
    finally:
        if driver is not None:
            driver.abort()
        yield cluster.stop()
        ensemble.stop()


@defer.inlineCallbacks
def main(reactor, argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--session_timeouts", type=float, nargs="+", default=[1.0, 2.0, 4.0],
                        help="ZooKeeper session timeouts to measure, in seconds (0.4 to 4)")
    parser.add_argument("--rounds", type=int, default=5, help="leader kills per configuration")
    parser.add_argument("--slaves", type=int, nargs="+", default=[3],
                        help="numbers of slaves to measure")
    parser.add_argument("--tasks_per_slave", type=int, default=2)
    parser.add_argument("--emulated", type=int, nargs="+", default=[],
                        help="numbers of emulated slaves to measure instead")
    parser.add_argument("--trace", action="store_true",
                        help="with --emulated: print how many slaves are answered every half "
                             "second while they come back, and after each round what the "
                             "slaves sent and lost, their waits, the machine's TCP refusals "
                             "and the new leader's guard's closes")
    parser.add_argument("--per_connection", type=int, default=1,
                        help="with --emulated: slaves sharing each connection to the master, as "
                             "the processes of one libprocess program share its sockets (1: a "
                             "connection per slave, as real slaves have)")
    parser.add_argument("--emulator_nice", type=int, default=EMULATOR_NICE,
                        help="with --emulated: niceness added to the emulating processes, so "
                             "that they do not take the master's CPU on a shared machine "
                             "(0: the same priority as the master)")
    parser.add_argument("--logs", default=None,
                        help="with --emulated: a directory to write each round's new leader's "
                             "log into")
    options = parser.parse_args(argv)
    if options.emulated:
        yield main_emulated(reactor, options)
        return
    print(f"3 masters, 3 ZooKeeper servers, {options.tasks_per_slave} running tasks per slave; "
          f"{options.rounds} leader kills per configuration", flush=True)
    rows = []
    for timeout in options.session_timeouts:
        for slaves in options.slaves:
            print(f"session timeout {timeout:g} s, {slaves} slaves:", flush=True)
            with tempfile.TemporaryDirectory(prefix="mesos-mttr-") as directory:
                result = yield measure(reactor, directory, timeout, slaves,
                                       slaves * options.tasks_per_slave, options.rounds)
            rows.append((timeout, slaves, *result))
    print()
    print("session timeout | slaves | elected median | MTTR median | MTTR max | lost tasks | "
          "lost updates | duplicates")
    for timeout, slaves, elected, mttr, lost_tasks, lost_updates, duplicates in rows:
        print(f"{timeout:>13g} s | {slaves:>6} | {statistics.median(elected):>12.2f} s | "
              f"{statistics.median(mttr):>9.2f} s | {max(mttr):>6.2f} s | {lost_tasks:>10} | "
              f"{lost_updates:>12} | {duplicates:>10}")


@defer.inlineCallbacks
def main_emulated(reactor, options):
    """
    The emulated-slave rows: one task per slave.
    """
    print(f"3 masters, 3 ZooKeeper servers, emulated slaves with one running task each, "
          f"{options.per_connection} per connection, emulating processes at niceness "
          f"+{options.emulator_nice}; "
          f"{options.rounds} leader kills per configuration; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    rows = []
    for timeout in options.session_timeouts:
        for slaves in options.emulated:
            print(f"session timeout {timeout:g} s, {slaves} emulated slaves:", flush=True)
            with tempfile.TemporaryDirectory(prefix="mesos-mttr-") as directory:
                result = yield measure_emulated(reactor, directory, timeout, slaves,
                                                options.rounds, options.trace, options.logs,
                                                options.per_connection, options.emulator_nice)
            rows.append((timeout, slaves, *result))
    print()
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    print("session timeout | slaves | elected median | MTTR median | MTTR max | lost tasks | "
          "lost slaves")
    for timeout, slaves, elected, mttr, lost_tasks, lost_slaves in rows:
        print(f"{timeout:>13g} s | {slaves:>6} | {statistics.median(elected):>12.2f} s | "
              f"{statistics.median(mttr):>9.2f} s | {max(mttr):>6.2f} s | {lost_tasks:>10} | "
              f"{lost_slaves:>11}")


if __name__ == "__main__":
    task.react(main, (sys.argv[1:],))
