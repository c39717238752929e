"""
Slave recovery: how long a restarted slave takes to be back with every
executor reconnected, for 10, 50 and 200 running tasks.

Starts ``twistd mesos-master`` and ``twistd mesos-slave`` (process
isolation) as processes, and in this process a checkpointing framework
that launches N command tasks (``sleep``) and waits until each runs.  Then,
ROUNDS times: SIGKILL the slave, start it again on the same work
directory, and time

- "listening": from the spawn until the slave says it is recovering (the
  interpreter's and Twisted's start-up, the same for any slave);
- "recovered": from the spawn until the slave has re-registered with the
  master and every executor has subscribed again (what the operator
  waits for), and the part of it after "listening";
- "slave CPU": the CPU time (user and system) the new slave process used
  from its start to "recovered", and the part of it after "listening",
  which a loaded machine does not inflate as it does wall time;
- "executors CPU": the CPU time the executors (and their tasks) used
  between "listening" and "recovered", reconnecting.

Every task must still run at the end of each round (else the round says
how many did not).  The slave's own log lines tell when it recovers,
re-registers and hears each executor subscribe again; the slave writes them
to a file (``twistd --logfile``: through a pipe, a benchmark slow to read
it under load would hold the slave up), polled every 5 ms, so the figures
carry that resolution.

    python benchmarks/slave_recovery.py                 # 10, 50 and 200 tasks, 3 rounds
    python benchmarks/slave_recovery.py --tasks 10 --rounds 5
    python benchmarks/slave_recovery.py --tasks 200 --rounds 1 --profile out.prof
        # the last restarted slave runs under cProfile; its top functions

The goal (issue 14) is under 1 s at 200 tasks.
"""

import argparse
import json
import os
import pstats
import signal
import statistics
import sys
import tempfile
import time

import treq
from twisted.internet import defer, task

from mesos_tw.isolation._containers import CONTAINER_VARIABLE, kill_and_wait
from mesos_tw.isolation.usage import marked_processes
from mesos_tw.native import MesosSchedulerDriver
from mesos_tw.protocols import mesos_pb2
from mesos_tw.resources import Resources
from mesos_tw.testing.processes import ProcessCluster
from mesos_tw.testing.scheduler import RecordingScheduler
from mesos_tw.testing.zookeeper_server import free_port

POLL = 0.005


class SleepScheduler(RecordingScheduler):
    """
    Launches C{count} command tasks that sleep, on the offers it gets.
    """

    def __init__(self, clock, count):
        RecordingScheduler.__init__(self, clock)
        self.to_launch = [f"sleep-{index}" for index in range(count)]

    def resourceOffers(self, driver, offers):
        for offer in offers:
            tasks = []
            while self.to_launch and len(tasks) < 50:
                task_id = self.to_launch.pop()
                tasks.append(mesos_pb2.TaskInfo(
                    name=task_id, task_id=mesos_pb2.TaskID(value=task_id),
                    slave_id=offer.slave_id,
                    resources=Resources.parse("cpus:0.01;mem:1").to_protobuf(),
                    command=mesos_pb2.CommandInfo(value="sleep 3600")))
            if tasks:
                driver.launchTasks([offer.id], tasks, mesos_pb2.Filters(refuse_seconds=0))
            else:
                driver.declineOffer(offer.id, mesos_pb2.Filters(refuse_seconds=1))
        self._record("resourceOffers", len(offers))


@defer.inlineCallbacks
def wait_until(reactor, predicate, what, timeout):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        yield task.deferLater(reactor, POLL, lambda: None)


class LogTail:
    """
    What a log file has had written to it so far, read as it grows.
    """

    def __init__(self, path):
        self.path = path
        self.text = b""

    def read(self):
        """
        Read what was added since the last call; all of it so far.
        """
        try:
            with open(self.path, "rb") as log:
                log.seek(len(self.text))
                self.text += log.read()
        except FileNotFoundError:
            pass
        return self.text


def cpu_seconds(pid):
    """
    The CPU time process C{pid} has used so far: the scheduler's exact
    count (C{/proc/<pid>/sched}) where the kernel has it, else user and
    system time in clock ticks (each process's rounded down to 10 ms,
    too coarse for 200 executors that each use a few milliseconds).
    """
    try:
        with open(f"/proc/{pid}/sched") as sched:
            for line in sched:
                if line.startswith("se.sum_exec_runtime"):
                    return float(line.split(":")[1]) / 1000.0
    except FileNotFoundError:
        pass
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def executor_pids(work_dir, parents=True):
    """
    The tasks of a slave on C{work_dir} (marked with their run), and (with
    C{parents}) their parents, the command executors: forked by the
    launcher without an C{exec}, an executor's C{/proc/<pid>/environ} is
    the launcher's, so it does not carry the mark itself.
    """
    sandboxes = os.path.join(work_dir, "slaves") + os.sep
    marked = {pid for pid, environment in marked_processes(CONTAINER_VARIABLE).items()
              if environment.get("MESOS_DIRECTORY", "").startswith(sandboxes)}
    if not parents:
        return sorted(marked)
    parents = set()
    for pid in marked:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                parents.add(int(stat.read().rsplit(")", 1)[1].split()[1]))
        except OSError:
            pass
    # Listed while every executor runs: no task has init for parent.
    return sorted(marked | {pid for pid in parents if pid > 1})


def executors_cpu(pids):
    """
    The CPU time the processes C{pids} have used so far (those gone are
    left out).
    """
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except OSError:
            pass
    return total


@defer.inlineCallbacks
def measure(reactor, count, rounds, directory, profile=None):
    """
    The rounds' C{(listening, recovered, slave CPU)} seconds, and the
    tasks not running after each; with C{profile}, the last round's slave
    runs under cProfile, its statistics saved there.
    """
    master_port, slave_port = free_port(), free_port()
    cluster = ProcessCluster(reactor, directory, "unused")
    master = cluster.spawn("master", "mesos-master", "--ip=127.0.0.1", f"--port={master_port}")
    cluster.masters[master_port] = master
    work_dir = os.path.join(directory, f"slave-{count}")
    argv = ["mesos-slave", f"--master=127.0.0.1:{master_port}", "--ip=127.0.0.1",
            f"--port={slave_port}", f"--work_dir={work_dir}", "--isolation=process",
            f"--resources=cpus:{count};mem:{count * 2 + 100};disk:100",
            "--executor_reregistration_timeout=30secs", "--recovery_timeout=5mins"]
    logs = iter(range(10 ** 6))

    def spawn_slave(*twistd_options):
        log = LogTail(os.path.join(directory, f"slave-{count}-{next(logs)}.log"))
        return cluster.spawn("slave", f"--logfile={log.path}", *twistd_options, *argv), log

    slave, log = spawn_slave()
    scheduler = SleepScheduler(reactor, count)
    info = mesos_pb2.FrameworkInfo(user="", name="recovery benchmark", checkpoint=True)
    driver = MesosSchedulerDriver(scheduler, info, f"127.0.0.1:{master_port}", reactor=reactor)
    driver.start()
    results = []
    try:
        yield scheduler.wait(lambda s: sum(1 for t in s.states if s.latest(t) == "TASK_RUNNING")
                             == count, f"{count} tasks to run", timeout=600)
        executors = executor_pids(work_dir)
        for index in range(rounds):
            yield slave.kill()
            started = time.monotonic()
            profiling = [] if profile is None or index < rounds - 1 else [
                f"--profile={profile}", "--profiler=cprofile", "--savestats"]
            slave, log = spawn_slave(*profiling)
            yield wait_until(reactor, lambda: b"Recovering slave" in log.read(),
                             "the slave to recover", 120)
            listening = time.monotonic() - started
            cpu_listening = cpu_seconds(slave.transport.pid)
            executors_listening = executors_cpu(executors)
            yield wait_until(
                reactor, lambda: log.read().count(b"subscribed again from") >= count
                and b"Registered with master" in log.text,
                "every executor to subscribe again", 120)
            recovered = time.monotonic() - started
            cpu = cpu_seconds(slave.transport.pid)
            executors_used = executors_cpu(executors) - executors_listening
            response = yield treq.get(f"http://127.0.0.1:{slave_port}/slave(1)/state",
                                      persistent=False)
            state = json.loads((yield response.content()))
            running = sum(1 for framework in state["frameworks"]
                          for executor in framework["executors"] for t in executor["tasks"]
                          if t["state"] == "TASK_RUNNING")
            results.append((listening, recovered, cpu, cpu - cpu_listening, executors_used,
                            count - running))
        if profile is not None:
            # SIGTERM: the profile is saved, the executors left running.
            slave.signal(15)
            yield slave.ended
            slave, log = spawn_slave()
            yield wait_until(reactor, lambda: b"Registered with master" in log.read(),
                             "the slave to recover after profiling", 120)
    finally:
        driver.abort()
        if slave.running:
            # SIGUSR1 shuts the slave down with every executor (SIGTERM
            # would leave them running).
            slave.signal(signal.SIGUSR1)
            yield slave.ended
        # Whatever a slave that died left behind.
        yield kill_and_wait(reactor, lambda: executor_pids(work_dir, parents=False))
        yield cluster.stop()
    return results


def table(rows):
    print("| tasks | rounds | listening median s | recovered median s | recovered max s "
          "| after listening median s | slave CPU median s | slave CPU after listening median s "
          "| executors CPU after listening median s | tasks not running |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for count, results in rows:
        listening = [r[0] for r in results]
        recovered = [r[1] for r in results]
        after = [r[1] - r[0] for r in results]
        print(f"| {count} | {len(results)} | {statistics.median(listening):.3f} "
              f"| {statistics.median(recovered):.3f} | {max(recovered):.3f} "
              f"| {statistics.median(after):.3f} | {statistics.median(r[2] for r in results):.3f} "
              f"| {statistics.median(r[3] for r in results):.3f} "
              f"| {statistics.median(r[4] for r in results):.3f} "
              f"| {sum(r[5] for r in results)} |")


@defer.inlineCallbacks
def main(reactor, argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", help="run the last restarted slave of the last count "
                        "under cProfile, saving its statistics in this file")
    options = parser.parse_args(argv)
    with open("/proc/loadavg") as load:
        print(f"load average before: {' '.join(load.read().split()[:3])} "
              f"({os.cpu_count()} cpus)")
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        for count in options.tasks:
            profile = options.profile if count == options.tasks[-1] else None
            if profile is not None:
                profile = os.path.abspath(profile)
            results = yield measure(reactor, count, options.rounds, directory, profile)
            rows.append((count, results))
    table(rows)
    if options.profile:
        stats = pstats.Stats(os.path.abspath(options.profile))
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(25)
    with open("/proc/loadavg") as load:
        print(f"load average after: {' '.join(load.read().split()[:3])}")


if __name__ == "__main__":
    task.react(main, [sys.argv[1:]])
