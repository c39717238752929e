"""
The NSDI 2011 paper's isolation experiment: a small web server task
(Python's ``http.server``) answers requests while a CPU hog task (many
busy processes) shares its slave; the figure is how much the hog slows
the server's answers, with ``--isolation=process`` (no limits: every
busy process competes with the server alike) and with ``cgroups`` (each
task's executor in its own cgroup with cpu shares for its cpus).

One ``mesos-local`` process with one slave (``cpus:2;mem:2048``) per
isolator; the server task and the hog task each ask for 1 cpu.  Requests
are sent one at a time from this process, with a short pause between
them; latency is from sending the request to reading the whole answer.

    python benchmarks/isolation_latency.py                 # process, then cgroups (root)
    python benchmarks/isolation_latency.py --hogs 16 --requests 400

The paper: latency up 30% with containers, 550% without.  cgroups cpu
shares divide the CPU between sibling cgroups: the tasks' cgroups share
their parent's (the slave's ``--cgroups_root``), and that parent competes
with everything else on the machine as one process would.  On a dedicated
slave that is nothing much; on a machine other work is loading, the two
tasks together get little.  So further runs give the slave's cgroup
``--root_shares`` first (32,768: 32 processes' worth; 262,144, the
kernel's most), standing in for a dedicated machine, with this process
(the client) moved into a cgroup of its own inside it; the load average is
printed beside the figures.

Where the kernel's ``sched_autogroup`` is on (the output says), every
session is a scheduling group of its own, and the process isolator starts
each executor in a new session: then even ``--isolation=process`` divides
the CPU between the server's and the hog's executors, not between their
processes, unlike the paper's setting.
"""

import argparse
import glob
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from mesos_tw.interface import Scheduler, mesos_pb2
from mesos_tw.native import MesosSchedulerDriver
from mesos_tw.resources import Resources
from mesos_tw.testing.machine import load_average, sched_autogroup

MESOS_LOCAL = os.path.join(os.path.dirname(sys.executable), "mesos-local")


def free_port():
    """
    A TCP port free on the loopback interface now.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TaskLauncher(Scheduler):
    """
    Launches the command tasks queued with L{launch} on the next offers
    and records their states.
    """

    def __init__(self):
        self.queue = []
        self.states = {}
        self.changed = threading.Condition()

    def launch(self, task_id, command, cpus, mem):
        """
        Queue a command task; it runs on the next offer it fits.
        """
        with self.changed:
            self.queue.append((task_id, command, cpus, mem))

    def resourceOffers(self, driver, offers):
        for offer in offers:
            with self.changed:
                queued, self.queue = self.queue, []
            tasks = [mesos_pb2.TaskInfo(
                name=task_id, task_id=mesos_pb2.TaskID(value=task_id), slave_id=offer.slave_id,
                command=mesos_pb2.CommandInfo(value=command),
                resources=Resources({"cpus": cpus, "mem": mem}).to_protobuf())
                for task_id, command, cpus, mem in queued]
            driver.launchTasks([offer.id], tasks, mesos_pb2.Filters(refuse_seconds=0.1))

    def statusUpdate(self, driver, status):
        with self.changed:
            self.states[status.task_id.value] = mesos_pb2.TaskState.Name(status.state)
            self.changed.notify_all()

    def wait_for(self, task_id, state, timeout=60.0):
        """
        Block until C{task_id} is in C{state}.
        """
        with self.changed:
            if not self.changed.wait_for(lambda: self.states.get(task_id) == state, timeout):
                raise RuntimeError(f"{task_id} did not reach {state}: {self.states}")


def latencies(port, count, pause=0.01):
    """
    Seconds taken by C{count} GET requests, one at a time.
    """
    result = []
    for _ in range(count):
        start = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/")
        connection.getresponse().read()
        connection.close()
        result.append(time.perf_counter() - start)
        time.sleep(pause)
    return result


def wait_for_server(port, deadline=60.0):
    """
    Block until something answers HTTP on C{port}.
    """
    end = time.monotonic() + deadline
    while True:
        try:
            latencies(port, 1)
            return
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


def our_cpu_cgroup():
    """
    This process's cgroup in the v1 cpu hierarchy, relative to its root.
    """
    with open("/proc/self/cgroup", encoding="ascii") as handle:
        return next(line.split(":", 2)[2].strip() for line in handle
                    if "cpu" in line.split(":", 2)[1].split(",")).lstrip("/")


def join_cpu_cgroup(relative):
    """
    Move this process (every thread) into the cpu cgroup C{relative},
    making it if need be; return the one it was in.
    """
    before = our_cpu_cgroup()
    os.makedirs(os.path.join("/sys/fs/cgroup/cpu", relative), exist_ok=True)
    with open(os.path.join("/sys/fs/cgroup/cpu", relative, "cgroup.procs"), "w",
              encoding="ascii") as handle:
        handle.write(str(os.getpid()))
    return before


def weighted_root(shares):
    """
    Make a cgroup for the slave's containers (under ours, in the v1 cpu
    hierarchy) with C{shares}; its name and its path below a hierarchy.
    """
    name = f"mesos_tw_isolation_latency_{os.getpid()}"
    relative = os.path.join(our_cpu_cgroup(), name)
    os.makedirs(os.path.join("/sys/fs/cgroup/cpu", relative), exist_ok=True)
    with open(os.path.join("/sys/fs/cgroup/cpu", relative, "cpu.shares"), "w",
              encoding="ascii") as handle:
        handle.write(str(shares))
    return name, relative


def run(isolation, hogs, requests, root_shares=None):
    """
    C{(latencies alone, latencies beside the hog)} with C{isolation}.
    """
    master_port, web_port = free_port(), free_port()
    work_dir = tempfile.mkdtemp(prefix="isolation-latency-")
    flags, root, home = [], None, None
    if root_shares is not None:
        name, root = weighted_root(root_shares)
        flags.append(f"--cgroups_root={name}")
        # The client is part of the machine the weighted cgroup stands for:
        # outside it, it would wait behind it like any other process.
        home = join_cpu_cgroup(os.path.join(root, "client"))
    cluster = subprocess.Popen(
        [MESOS_LOCAL, f"--port={master_port}", "--num_slaves=1", f"--isolation={isolation}",
         "--resources=cpus:2;mem:2048", f"--work_dir={work_dir}", *flags],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        launcher = TaskLauncher()
        driver = MesosSchedulerDriver(
            launcher, mesos_pb2.FrameworkInfo(user="", name="isolation latency"),
            f"127.0.0.1:{master_port}")
        driver.start()
        try:
            launcher.launch("web", f"exec {sys.executable} -m http.server {web_port} "
                                   "--bind 127.0.0.1", 1.0, 128.0)
            launcher.wait_for("web", "TASK_RUNNING")
            wait_for_server(web_port)
            latencies(web_port, 20)
            alone = latencies(web_port, requests)
            busy_loop = "while :; do :; done"
            launcher.launch("hog", f"for i in $(seq {hogs}); do sh -c '{busy_loop}' & done; wait",
                            1.0, 64.0)
            launcher.wait_for("hog", "TASK_RUNNING")
            time.sleep(1.0)
            beside = latencies(web_port, requests)
        finally:
            driver.stop()
            driver.join()
    finally:
        cluster.terminate()
        cluster.wait(timeout=30)
        shutil.rmtree(work_dir, ignore_errors=True)
        if home is not None:
            join_cpu_cgroup(home)
        if root is not None:
            # The slave made the cgroup in its other hierarchies too.
            for path in glob.glob(os.path.join("/sys/fs/cgroup", "*", root)):
                for directory, _, _ in sorted(os.walk(path), reverse=True):
                    os.rmdir(directory)
    return alone, beside


def quantile(values, q):
    """
    The C{q} quantile of C{values} (nearest rank).
    """
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hogs", type=int, default=8, help="busy processes in the hog task")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--root_shares", type=int, action="append",
                        help="cpu.shares of the slave's cgroup in a weighted run (default: "
                             "32768 and 262144, the most the kernel allows)")
    parser.add_argument("--isolation", action="append",
                        help="only these runs: process, cgroups, weighted")
    args = parser.parse_args(argv)
    runs = [("process", "process", None), ("cgroups", "cgroups", None)] + [
        (f"cgroups, root weighted {shares}", "cgroups", shares)
        for shares in args.root_shares or [32768, 262144]]
    if args.isolation:
        runs = [run for run in runs if run[0].split(",")[0] in args.isolation
                or ("weighted" in args.isolation and run[2] is not None)]
    print(f"web server task (1 cpu) and a hog task of {args.hogs} busy processes (1 cpu) on one "
          f"slave of cpus:2; {args.requests} requests each way; "
          f"sched_autogroup {sched_autogroup()}")
    print("| isolation | alone median | alone p90 | beside the hog median | p90 "
          "| increase (median) | increase (p90) | load before | load after |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, isolation, shares in runs:
        before = load_average()
        alone, beside = run(isolation, args.hogs, args.requests, shares)
        a50, a90 = statistics.median(alone), quantile(alone, 0.9)
        b50, b90 = statistics.median(beside), quantile(beside, 0.9)
        print(f"| {name} | {a50 * 1000:.1f} ms | {a90 * 1000:.1f} ms | {b50 * 1000:.1f} ms "
              f"| {b90 * 1000:.1f} ms | {(b50 / a50 - 1):+.0%} | {(b90 / a90 - 1):+.0%} "
              f"| {before:.1f} | {load_average():.1f} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
