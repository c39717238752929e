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

Needs Debian's ``zookeeper`` package (``bash scripts/test`` installs it).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

from twisted.internet import defer, task

from mesos_tw.native import MesosSchedulerDriver
from mesos_tw.protocols import mesos_pb2
from mesos_tw.testing.processes import ProcessCluster
from mesos_tw.testing.scheduler import RecordingScheduler
from mesos_tw.testing.zookeeper_server import ZooKeeperEnsemble

RECOVERY_TIMEOUT = 60.0


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
    options = parser.parse_args(argv)
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


if __name__ == "__main__":
    task.react(main, (sys.argv[1:],))
