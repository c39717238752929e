"""
End-to-end launch throughput: tasks per second through mesos-local.

Starts ``mesos-local`` (a master and N slaves in one process) as its own
process (or, with ``--topology separate``, a ``mesos-master`` process and
a ``mesos-slave`` process per slave, as a real cluster runs them; each
row says which it used), then a framework in this process launches TASKS tasks on every
offer as fast as the offers allow.  It prints tasks per second (the first
launch to the last terminal update), the median and 90th percentile
launch-to-RUNNING latency, and how many tasks did not finish (must be 0),
at several task counts so you can see how the figures grow with the work.

    python benchmarks/launch_throughput.py                    # 1000, 2000, 5000, 10000 command tasks
    python benchmarks/launch_throughput.py --tasks 2000       # one size
    python benchmarks/launch_throughput.py --in_flight 2      # latency without queueing
    python benchmarks/launch_throughput.py --isolation cgroups
    python benchmarks/launch_throughput.py --executor custom  # one long-lived executor per slave
    python benchmarks/launch_throughput.py --executor custom --topology separate
    python benchmarks/launch_throughput.py --api http         # through the v1 HTTP scheduler API
    python benchmarks/launch_throughput.py --profile out.prof # mesos-local under cProfile
    python benchmarks/launch_throughput.py --work_dir_in /dev/shm  # sandboxes on a tmpfs

Command tasks run ``true`` under the built-in command executor, which each
slave's launcher forks (no interpreter per task).  ``--executor custom``
runs every task on one ``benchmarks/instant_executor.py`` per slave, which
answers each task with TASK_RUNNING then TASK_FINISHED: no process per
task, so that measures the message path of driver, master, slave and
executor driver.  Each run first measures the floor on this machine:
``sh -c true`` started and reaped one after another.  The load average is
printed with every row: the machine may be shared.

Beside the wall-clock figures each row prints the CPU (user + system, from
``/proc``) each process used per task, which a busy machine changes far
less: ``mesos-local`` (master and slaves; with separate processes, their
sum and the master's own), the slaves' launchers, the
executors (for command tasks, with their commands: the children the
launchers reaped), this process (the scheduler), their total, and the
rate that total would allow with both cores to ourselves ("CPU bound":
a bound worked out from the CPU, not a measured rate).

The slaves' work directory (every task's sandbox: three directories, a
symbolic link and two files made per command task) is made in the
system's temporary directory, or in C{--work_dir_in} (a tmpfs, say, to see
what the file system costs), and removed after each run.
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from twisted.internet import defer, reactor, task

from mesos_tw import interface, native
from mesos_tw.interface import mesos_pb2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: Resources of a command task, and of a task on the custom executor.
COMMAND_TASK = (("cpus", 0.1), ("mem", 16))
CUSTOM_TASK = (("cpus", 0.01), ("mem", 1))

TERMINAL = (mesos_pb2.TASK_FINISHED, mesos_pb2.TASK_FAILED, mesos_pb2.TASK_LOST,
            mesos_pb2.TASK_KILLED, mesos_pb2.TASK_ERROR)


def load():
    """
    The 1-minute load average (as ``uptime`` prints it).
    """
    return os.getloadavg()[0]


class ThroughputLedger:
    """
    What a framework launched and what came back, whichever API it uses.
    """

    def __init__(self, total, clock, finished, in_flight=None, custom=False):
        self.total = total
        self.in_flight = in_flight
        self.clock = clock
        self.finished = finished
        self.custom = custom
        self.launched = 0
        self.done = 0
        self.failed = 0
        self.submitted = {}
        self.running_latency = []
        self.first_launch = None
        self.last_finish = None

    def tasks_for(self, cpus, mem):
        """
        The (task id, resources) of the tasks to launch on an offer of
        C{cpus} and C{mem}.
        """
        each = dict(CUSTOM_TASK if self.custom else COMMAND_TASK)
        tasks = []
        while (self.launched < self.total and cpus >= each["cpus"] and mem >= each["mem"]
               and (self.in_flight is None or self.launched - self.done < self.in_flight)):
            task_id = str(self.launched)
            self.launched += 1
            cpus -= each["cpus"]
            mem -= each["mem"]
            tasks.append(task_id)
            self.submitted[task_id] = self.clock.seconds()
        if self.first_launch is None and tasks:
            self.first_launch = self.clock.seconds()
        return tasks, each

    def at_limit(self):
        """
        Whether no more tasks may be launched now (all launched, or as many
        in flight as allowed).
        """
        return self.launched >= self.total or (
            self.in_flight is not None and self.launched - self.done >= self.in_flight)

    def update(self, task_id, state, message):
        """
        A status update arrived.
        """
        now = self.clock.seconds()
        if state == mesos_pb2.TASK_RUNNING:
            self.running_latency.append(now - self.submitted[task_id])
        elif state in TERMINAL:
            self.done += 1
            if state != mesos_pb2.TASK_FINISHED:
                self.failed += 1
                if self.failed <= 3:
                    print(f"task {task_id} ended {mesos_pb2.TaskState.Name(state)}: {message}",
                          flush=True)
        if self.done == self.total and not self.finished.called:
            self.last_finish = now
            self.finished.callback(None)


class ThroughputScheduler(interface.Scheduler):
    """
    Launches the ledger's tasks on every offer, through the driver.
    """

    def __init__(self, ledger):
        self.ledger = ledger
        self.suppressed = False

    def resourceOffers(self, driver, offers):
        """
        Launch what the offer holds room for; with as many tasks in flight
        as allowed, ask for no more offers until one ends (declined offers
        would otherwise come straight back, round and round).
        """
        if self.ledger.at_limit():
            self.suppressed = True
            driver.suppressOffers()
        for offer in offers:
            cpus = sum(r.scalar.value for r in offer.resources if r.name == "cpus")
            mem = sum(r.scalar.value for r in offer.resources if r.name == "mem")
            task_ids, each = self.ledger.tasks_for(cpus, mem)
            tasks = []
            for task_id in task_ids:
                info = mesos_pb2.TaskInfo(name=f"task {task_id}")
                info.task_id.value = task_id
                info.slave_id.CopyFrom(offer.slave_id)
                if self.ledger.custom:
                    info.executor.executor_id.value = "instant"
                    info.executor.command.value = (
                        f"{sys.executable} {os.path.join(ROOT, 'benchmarks', 'instant_executor.py')}")
                else:
                    info.command.value = "true"
                for name, amount in each.items():
                    resource = info.resources.add(name=name, type=mesos_pb2.Value.SCALAR)
                    resource.scalar.value = amount
                tasks.append(info)
            driver.launchTasks(offer.id, tasks, mesos_pb2.Filters(refuse_seconds=0))

    def statusUpdate(self, driver, status):
        """
        Record it; offers again once a task has ended, if they were
        suppressed.
        """
        self.ledger.update(status.task_id.value, status.state, status.message)
        if self.suppressed and not self.ledger.at_limit():
            self.suppressed = False
            driver.reviveOffers()


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid, children=False):
    """
    The CPU seconds (user + system) process C{pid} has used, with its
    reaped children's if C{children}.
    """
    with open(f"/proc/{pid}/stat", "rb") as stat:
        fields = stat.read().rsplit(b")", 1)[1].split()
    used = int(fields[11]) + int(fields[12])
    if children:
        used += int(fields[13]) + int(fields[14])
    return used / _TICKS


def descendants_of(pid):
    """
    The pids of C{pid}'s descendants (for mesos-local: its slaves'
    launchers and the executors they did not fork).
    """
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    parent = int(stat.read().rsplit(b")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry))
    found, pending = [], [pid]
    while pending:
        for child in children.get(pending.pop(), ()):
            found.append(child)
            pending.append(child)
    return found


def is_launcher(pid):
    """
    Whether C{pid} is a slave's launcher (L{mesos_tw.executors.launcher}).
    """
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return b"mesos_tw.executors.launcher" in cmdline.read()
    except OSError:
        return False


def free_port():
    """
    A free loopback TCP port.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_slaves(processes, port, slaves):
    """
    Wait until the master on C{port} has C{slaves} slaves registered; stop
    C{processes} and exit if one of them exits first or it takes too long.
    """
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/master/state", timeout=1) as r:
                if len(json.load(r)["slaves"]) >= slaves:
                    return
        except OSError:
            pass
        for process in processes:
            if process.poll() is not None:
                stop_cluster(processes)
                raise SystemExit(f"{' '.join(process.args[:5])} exited with "
                                 f"{process.returncode}")
        time.sleep(0.2)
    stop_cluster(processes)
    raise SystemExit("the cluster did not come up")


def _daemon(program, flags):
    """
    Start C{program} (mesos-local, mesos-master or mesos-slave) with
    C{flags}, its output discarded.
    """
    return subprocess.Popen(
        [sys.executable, "-m", "twisted", "--log-format=text", program, *flags],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
    )


def start_cluster(slaves, work_dir, isolation, profile=None, topology="local"):
    """
    Start the cluster and wait until its slaves have registered: one
    mesos-local process (under cProfile, writing to C{profile}, if given),
    or with C{topology} "separate" a mesos-master process and a mesos-slave
    process per slave.

    @return: C{(processes, port)}: the master's process first (mesos-local
        is master and slaves), and the master's port.
    """
    port = free_port()
    resources = "--resources=cpus:32;mem:8192;disk:1024;ports:[31000-32000]"
    slave_flags = [f"--isolation={isolation}", f"--cgroups_root=mesos_tw_bench_{os.getpid()}",
                   resources]
    if topology == "separate":
        processes = [_daemon("mesos-master", [f"--port={port}"])]
        for index in range(slaves):
            processes.append(_daemon("mesos-slave", [
                f"--master=127.0.0.1:{port}", "--port=0",
                f"--work_dir={os.path.join(work_dir, f'slave-{index}')}", *slave_flags]))
    elif profile:
        processes = [subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "benchmarks", "profiled_local.py"), profile,
             f"--num_slaves={slaves}", f"--port={port}", f"--work_dir={work_dir}", *slave_flags],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)]
    else:
        processes = [_daemon("mesos-local", [f"--num_slaves={slaves}", f"--port={port}",
                                             f"--work_dir={work_dir}", *slave_flags])]
    _wait_for_slaves(processes, port, slaves)
    return processes, port


def stop_cluster(processes):
    """
    Stop the cluster's processes (slaves first, then the master) and wait
    for them.
    """
    for process in reversed(processes):
        process.terminate()
        process.wait()


@defer.inlineCallbacks
def measure(total, master, in_flight, custom, api, cluster):
    """
    Run one framework of C{total} tasks (at most C{in_flight} unfinished at
    once, if given) on the cluster's processes C{cluster} (mesos-local, or
    a master and its slaves); return its figures, with the CPU each part
    used per task: the cluster's processes (master and slaves; with
    separate processes, the master's own too), the executors and their
    commands (reaped by the slaves' launchers, or the custom executors),
    and this process (the scheduler).
    """
    pids = [process.pid for process in cluster]
    cluster_before = [cpu_seconds(pid) for pid in pids]
    scheduler_before = time.process_time()
    finished = defer.Deferred()
    ledger = ThroughputLedger(total, reactor, finished, in_flight, custom)
    if api == "http":
        from v1_scheduler import HttpScheduler

        scheduler = HttpScheduler(reactor, master, ledger, custom)
        yield scheduler.start()
        yield finished
    else:
        info = mesos_pb2.FrameworkInfo(user="", name=f"throughput-{total}")
        scheduler = native.MesosSchedulerDriver(ThroughputScheduler(ledger), info, master,
                                                reactor=reactor)
        scheduler.start()
        yield finished
    # Measured while the executors still run (a custom executor's CPU is
    # its own; the command executors' is their launcher's reaped children's).
    used = [cpu_seconds(pid) - before for pid, before in zip(pids, cluster_before)]
    cluster_cpu, master_cpu = sum(used), used[0]
    scheduler_cpu = time.process_time() - scheduler_before
    # mesos-local's descendants: the slaves' launchers (whose reaped
    # children are the command executors, with their commands) and the
    # custom executors (alive: their own CPU).
    launchers_cpu = executors_cpu = 0.0
    for pid in [child for pid in pids for child in descendants_of(pid)]:
        own = cpu_seconds(pid)
        if is_launcher(pid):
            launchers_cpu += own
            executors_cpu += cpu_seconds(pid, children=True) - own
        else:
            executors_cpu += cpu_seconds(pid, children=True)
    scheduler.stop()
    yield task.deferLater(reactor, 0.5, lambda: None)
    elapsed = ledger.last_finish - ledger.first_launch
    latencies = sorted(ledger.running_latency)
    return {
        "tasks": total,
        "seconds": elapsed,
        "tasks_per_second": total / elapsed,
        "median_running_ms": 1000 * statistics.median(latencies),
        "p90_running_ms": 1000 * latencies[int(0.9 * (len(latencies) - 1))],
        "failed": ledger.failed,
        "cluster_ms": 1000 * cluster_cpu / total,
        "master_ms": 1000 * master_cpu / total,
        "launchers_ms": 1000 * launchers_cpu / total,
        "executors_ms": 1000 * executors_cpu / total,
        "scheduler_ms": 1000 * scheduler_cpu / total,
        "total_ms": 1000 * (cluster_cpu + launchers_cpu + executors_cpu + scheduler_cpu) / total,
    }


def floor(count=300):
    """
    Processes of ``sh -c true`` started and reaped per second, one after
    another (the floor a command task cannot go under on this machine).
    """
    start = time.monotonic()
    for _ in range(count):
        subprocess.run(["sh", "-c", "true"], check=True)
    return count / (time.monotonic() - start)


@defer.inlineCallbacks
def run(sizes, options):
    """
    Measure each size on a fresh cluster and print a table.
    """
    custom = options.executor == "custom"
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print(f"floor: sh -c true started and reaped one after another: {floor():.0f} per second "
          f"(load {load():.2f})", flush=True)
    print("| isolation | api | executor | cluster | tasks | in flight | seconds | tasks/s "
          "| median launch->RUNNING | p90 | failed | CPU/task: master and slaves | master "
          "| launchers | executors | scheduler | total | CPU bound on 2 cores | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    separate = options.topology == "separate"
    cluster = f"master + {options.slaves} slaves" if separate else "mesos-local"
    for total in sizes:
        work_dir = tempfile.mkdtemp(prefix="mesos-tw-bench-", dir=options.work_dir_in)
        try:
            processes, port = start_cluster(options.slaves, work_dir, options.isolation,
                                            options.profile, options.topology)
            try:
                figures = yield measure(total, f"127.0.0.1:{port}", options.in_flight, custom,
                                        options.api, processes)
            finally:
                stop_cluster(processes)
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)
        # mesos-local's master shares its process with the slaves.
        master = f"{figures['master_ms']:.2f} ms" if separate else ""
        print(
            f"| {options.isolation} | {options.api} | {options.executor} | {cluster} "
            f"| {figures['tasks']} | {options.in_flight or 'any'} | {figures['seconds']:.1f} "
            f"| {figures['tasks_per_second']:.1f} | {figures['median_running_ms']:.0f} ms "
            f"| {figures['p90_running_ms']:.0f} ms | {figures['failed']} "
            f"| {figures['cluster_ms']:.2f} ms | {master} | {figures['launchers_ms']:.2f} ms "
            f"| {figures['executors_ms']:.2f} ms | {figures['scheduler_ms']:.2f} ms "
            f"| {figures['total_ms']:.2f} ms | {2000 / figures['total_ms']:.0f}/s "
            f"| {load():.2f} |",
            flush=True,
        )


def main():
    """
    Parse arguments and run the benchmark on the global reactor.
    """
    parser = argparse.ArgumentParser(description="Tasks per second through mesos-local.")
    parser.add_argument("--tasks", type=int, action="append", help="task count (repeatable)")
    parser.add_argument("--slaves", type=int, default=2)
    parser.add_argument("--in_flight", type=int, default=None,
                        help="at most this many unfinished tasks at once (default: no limit)")
    parser.add_argument("--isolation", default="process")
    parser.add_argument("--executor", choices=("command", "custom"), default="command")
    parser.add_argument("--api", choices=("driver", "http"), default="driver")
    parser.add_argument("--profile", help="write mesos-local's cProfile statistics here")
    parser.add_argument("--work_dir_in", default=None,
                        help="make the slaves' work directory here (default: the system's "
                             "temporary directory)")
    parser.add_argument("--topology", choices=("local", "separate"), default="local",
                        help="local: master and slaves in one mesos-local process (default); "
                             "separate: a mesos-master process and a mesos-slave process "
                             "per slave")
    options = parser.parse_args()
    if options.profile and options.topology != "local":
        parser.error("--profile profiles mesos-local: use it with --topology local")
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    sizes = options.tasks or [1000, 2000, 5000, 10000]
    outcome = []

    def start():
        # Once the reactor runs, so that a failure to start the cluster
        # stops it too.
        d = run(sizes, options)
        d.addErrback(outcome.append)
        d.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(start)
    reactor.run()
    if outcome:
        outcome[0].printTraceback()
        sys.exit(1)


if __name__ == "__main__":
    main()
