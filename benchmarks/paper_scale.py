"""
The NSDI 2011 paper's scalability experiment, on one machine: a real
``mesos-master`` process, N emulated slaves connected to it over
real TCP (``mesos_tw.testing.emulated_slave``: the slave's protocol, no
processes), and 200 frameworks that launch a task of about 30 s (normal,
standard deviation 10 s) on every offer they get.  Once the cluster is
busy, a probe framework launches one 10 s task at a time; the figure is
the probe's launch overhead, from its ``launchTasks`` call to the task's
TASK_RUNNING.

    python benchmarks/paper_scale.py                      # 10,000 to 50,000 slaves
    python benchmarks/paper_scale.py --slaves 1000 5000 --probes 10

So that the master is what is measured, the rest runs in processes of its
own: the slaves are split over emulating processes of at most
``--per_process`` slaves (``python -m mesos_tw.testing.emulator``), each
connecting from its own loopback address (127.0.0.2, 127.0.0.3, ...: one
address has only about 28,000 ephemeral ports), and the 200 frameworks and
the probe run in one more process (this script with ``--frameworks``).
Each slave has a connection of its own while the master's open-file limit
allows; past it (a process that may not raise its hard limit, say 20,000
files), several slaves share each connection, each with its own UPID, as
the processes of one libprocess program share its sockets; the last column
says how many.  Each row gives every process's CPU over the second half of the warm-up, so
a reader sees which one is the limit.  While the probes run, this process
fetches ``/master/state-summary`` every 2 s and reports its latency (a
fetch that fails or takes over 60 s counts as the time it took); the
master pings every slave every 15 s throughout (its default).

Memory: the master's resident size growth per registered slave (from
before the first slave to all registered), and per running task (from
then to the busy cluster, which also holds the frameworks' records).

Goals (issue 20): at 50,000 slaves all registered in under 60 s, probe
overhead median under 1 s and p90 under 2 s, the master under one core and
2 GB (the paper: under 1 s of overhead with 50,000 emulated slaves on 99
EC2 machines).
"""

import argparse
import json
import os
import random
import resource
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

SLAVE_RESOURCES = "cpus:2;mem:4096"
TASK_RESOURCES = "cpus:2;mem:2048"
BUSY_FRAMEWORKS = 200
WARM_UP_SECONDS = 20.0
REGISTRATION_DEADLINE = 120.0
SUMMARY_TIMEOUT = 60.0
# Open files the master keeps for itself and the frameworks' connections.
FILES_HELD_BACK = 2000


# The frameworks' process (``--frameworks``).

def task_for(offer, task_id, seconds):
    """
    A task using C{TASK_RESOURCES} of C{offer} that runs C{seconds}.
    """
    from mesos_tw.interface import mesos_pb2
    from mesos_tw.resources import Resources

    info = mesos_pb2.TaskInfo(
        name=task_id, task_id=mesos_pb2.TaskID(value=task_id), slave_id=offer.slave_id,
        resources=Resources.parse(TASK_RESOURCES).to_protobuf(),
        data=f"{seconds:.1f}".encode("ascii"))
    info.command.value = "true"
    return info


def run_frameworks(master, probes):
    """
    Start the busy frameworks, warm up, then probe; prints JSON lines: the
    warm-up's measuring window (C{"window": "start"/"end"}) and at the end
    C{{"overheads": [seconds...]}}.
    """
    from twisted.internet import defer, task

    from mesos_tw.interface import Scheduler, mesos_pb2
    from mesos_tw.native import MesosSchedulerDriver
    from mesos_tw.testing.emulator import until_stdin_closes

    class BusyScheduler(Scheduler):
        """
        Launches one task of about 30 s on every offer.
        """

        def __init__(self, name, rng):
            self.name = name
            self.rng = rng
            self.launched = 0

        def resourceOffers(self, driver, offers):
            for offer in offers:
                seconds = max(1.0, self.rng.normalvariate(30.0, 10.0))
                self.launched += 1
                driver.launchTasks(
                    [offer.id], [task_for(offer, f"{self.name}-{self.launched}", seconds)],
                    mesos_pb2.Filters(refuse_seconds=1))

    class ProbeScheduler(Scheduler):
        """
        Launches one 10 s task per request and times it to TASK_RUNNING.
        """

        def __init__(self):
            self.wanted = None
            self.submitted = {}
            self.count = 0

        def probe(self, driver):
            self.wanted = defer.Deferred()
            driver.reviveOffers()
            return self.wanted

        def resourceOffers(self, driver, offers):
            for offer in offers:
                if self.wanted is None or self.submitted:
                    driver.declineOffer(offer.id, mesos_pb2.Filters(refuse_seconds=1))
                    continue
                self.count += 1
                task_id = f"probe-{self.count}"
                self.submitted[task_id] = time.perf_counter()
                driver.launchTasks([offer.id], [task_for(offer, task_id, 10.0)])

        def statusUpdate(self, driver, status):
            started = self.submitted.pop(status.task_id.value, None)
            if started is not None and status.state == mesos_pb2.TASK_RUNNING:
                wanted, self.wanted = self.wanted, None
                wanted.callback(time.perf_counter() - started)

    def say(**fields):
        print(json.dumps(fields), flush=True)

    @defer.inlineCallbacks
    def main(reactor):
        rng = random.Random(1)
        drivers = []
        for number in range(BUSY_FRAMEWORKS):
            driver = MesosSchedulerDriver(
                BusyScheduler(f"busy{number}", rng),
                mesos_pb2.FrameworkInfo(user="bench", name=f"busy {number}"), master,
                reactor=reactor)
            driver.start()
            drivers.append(driver)
        yield task.deferLater(reactor, WARM_UP_SECONDS / 2, lambda: None)
        say(window="start")
        yield task.deferLater(reactor, WARM_UP_SECONDS / 2, lambda: None)
        say(window="end")
        probe = ProbeScheduler()
        probe_driver = MesosSchedulerDriver(
            probe, mesos_pb2.FrameworkInfo(user="bench", name="probe"), master, reactor=reactor)
        probe_driver.start()
        drivers.append(probe_driver)
        overheads = []
        for _ in range(probes):
            overheads.append((yield probe.probe(probe_driver)))
        say(overheads=overheads)
        # Tear down only when told (standard input closes): 200 frameworks
        # leaving at once keep the master busy for a while, and that must
        # not fall inside a measured state-summary fetch.
        yield until_stdin_closes(reactor)
        for driver in drivers:
            driver.abort()

    task.react(main)


# The measuring process.

def cpu_seconds(pid):
    """
    User plus system CPU seconds of process C{pid}.
    """
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid):
    """
    Resident memory of process C{pid}, in MB.
    """
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def raise_file_limit(wanted):
    """
    Raise this process's open-file limit towards C{wanted}; returns it.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for limit in (wanted, hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, max(limit, hard)))
            return limit
        except (ValueError, OSError):
            continue
    return soft


def free_port():
    """
    A TCP port free on 127.0.0.1 now.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values, fraction):
    """
    The value C{fraction} of the way up C{values} (nearest rank).
    """
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class Children:
    """
    The processes of one run and the JSON lines they print.

    @ivar latest: C{{name: last JSON object printed}}.
    """

    def __init__(self):
        self.processes = {}
        self.latest = {}
        self._selector = selectors.DefaultSelector()
        self._buffers = {}

    def start(self, name, command, limit):
        """
        Start C{command}, reading its standard output's JSON lines.
        """
        if shutil.which("prlimit"):
            command = ["prlimit", f"--nofile={limit}:{limit}", "--"] + command
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.processes[name] = process
        os.set_blocking(process.stdout.fileno(), False)
        self._selector.register(process.stdout, selectors.EVENT_READ, name)
        self._buffers[name] = b""
        return process

    def poll(self, seconds):
        """
        Read what the children printed for up to C{seconds}; returns the
        JSON objects read, as C{(name, object)}.
        """
        read = []
        for key, _ in self._selector.select(seconds):
            name = key.data
            chunk = key.fileobj.read() or b""
            lines = (self._buffers[name] + chunk).split(b"\n")
            self._buffers[name] = lines.pop()
            for line in lines:
                if line.strip():
                    self.latest[name] = json.loads(line)
                    read.append((name, self.latest[name]))
            if not chunk:
                self._selector.unregister(key.fileobj)
        return read

    def cpu(self):
        """
        C{{name: CPU seconds}} of every child still running.
        """
        return {name: cpu_seconds(p.pid) for name, p in self.processes.items() if p.poll() is None}

    def stop(self):
        """
        Close every child's standard input, then end them.
        """
        for process in self.processes.values():
            if process.stdin:
                process.stdin.close()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def slaves_per_connection(slaves, limit):
    """
    How many emulated slaves share a connection so that the master's
    connections stay under its open-file C{limit} (with room for the
    frameworks' and its own): 1 while they fit.
    """
    return max(1, -(-slaves // max(1, limit - FILES_HELD_BACK)))


def measure(slaves, probes, per_process, at_once):
    """
    One size: returns a dict of figures.
    """
    limit = raise_file_limit(2 * slaves + 4096)
    per_connection = slaves_per_connection(slaves, limit)
    port = free_port()
    master_address = f"127.0.0.1:{port}"
    children = Children()
    try:
        master = children.start("master", [
            sys.executable, "-m", "twisted", "--log-file=/dev/null", "mesos-master",
            "--ip=127.0.0.1", f"--port={port}", "--max_slave_ping_timeouts=20"], limit)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        idle_rss = rss_mb(master.pid)
        started = time.perf_counter()
        emulators = []
        for index, first in enumerate(range(0, slaves, per_process)):
            name = f"emulator {index + 1}"
            emulators.append(name)
            children.start(name, [
                sys.executable, "-m", "mesos_tw.testing.emulator", f"--master={master_address}",
                f"--slaves={min(per_process, slaves - first)}", f"--first={first}",
                f"--source=127.0.0.{index + 2}", f"--resources={SLAVE_RESOURCES}",
                f"--per_connection={per_connection}", f"--window={at_once}"], limit)
        deadline = time.perf_counter() + REGISTRATION_DEADLINE

        def joined():
            return sum(children.latest.get(name, {}).get("registered", 0) for name in emulators)

        while time.perf_counter() < deadline and joined() < slaves:
            children.poll(0.1)
        registered, count = time.perf_counter() - started, joined()
        registered_rss = rss_mb(master.pid)
        children.start("frameworks", [
            sys.executable, os.path.abspath(__file__), "--frameworks", master_address,
            f"--probes={probes}"], limit)
        window = {}
        while "end" not in window:
            for name, line in children.poll(1.0):
                if name == "frameworks" and "window" in line:
                    window[line["window"]] = (time.perf_counter(), children.cpu())
        # The busy cluster's tasks, before the probes (and the frameworks'
        # exit, which kills their tasks) change it.
        tasks = sum(children.latest.get(name, {}).get("running", 0) for name in emulators)
        (began, cpu_before), (ended, cpu_after) = window["start"], window["end"]
        cpu = {name: (cpu_after[name] - cpu_before[name]) / (ended - began)
               for name in cpu_after if name in cpu_before}
        summary_latencies = []
        next_summary = time.perf_counter()
        while "overheads" not in children.latest.get("frameworks", {}):
            if time.perf_counter() >= next_summary:
                fetch_started = time.perf_counter()
                url = f"http://{master_address}/master/state-summary"
                try:
                    with urllib.request.urlopen(url, timeout=SUMMARY_TIMEOUT) as response:
                        response.read()
                except OSError:
                    # Counted as the timeout: the row's maximum says so.
                    pass
                summary_latencies.append(time.perf_counter() - fetch_started)
                next_summary = time.perf_counter() + 2.0
            children.poll(0.1)
        overheads = children.latest["frameworks"]["overheads"]
        busy_rss = rss_mb(master.pid)
        return {
            "slaves": slaves, "joined": count, "registered": registered,
            "median": statistics.median(overheads), "p90": percentile(overheads, 0.9),
            "max": max(overheads), "tasks": tasks, "cpu": cpu,
            "emulators": emulators, "master_rss": busy_rss,
            "kb_per_slave": 1024 * (registered_rss - idle_rss) / max(1, count),
            "kb_per_task": 1024 * (busy_rss - registered_rss) / max(1, tasks),
            "summary_median": statistics.median(summary_latencies) if summary_latencies else 0.0,
            "summary_max": max(summary_latencies) if summary_latencies else 0.0,
            "per_connection": per_connection, "file_limit": limit,
        }
    finally:
        children.stop()


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slaves", type=int, nargs="+", default=[10000, 20000, 30000, 50000])
    parser.add_argument("--probes", type=int, default=10)
    parser.add_argument("--per_process", type=int, default=10000,
                        help="emulated slaves per emulating process")
    parser.add_argument("--window", type=int, default=500,
                        help="slaves each emulating process has registering at once "
                             "(as many as it emulates: a storm of connections)")
    parser.add_argument("--frameworks", metavar="MASTER",
                        help="(internal) run the frameworks' process against MASTER")
    options = parser.parse_args(argv)
    if options.frameworks:
        run_frameworks(options.frameworks, options.probes)
        return
    print(f"{BUSY_FRAMEWORKS} busy frameworks (30 s tasks on every offer), "
          f"{WARM_UP_SECONDS:g} s warm-up, {options.probes} probe tasks per size, "
          f"{options.window} slaves registering at once per emulating process, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("slaves | registered | in | probe median | probe p90 | probe max | tasks running | "
          "master CPU | master RSS | KB per slave | KB per task | emulators' CPU | "
          "frameworks' CPU | state-summary median | state-summary max | slaves per connection")
    for slaves in options.slaves:
        row = measure(slaves, options.probes, options.per_process, options.window)
        emulators = ", ".join(f"{row['cpu'].get(name, 0.0):.0%}" for name in row["emulators"])
        print(f"{row['slaves']:>6} | {row['joined']:>10} | {row['registered']:>5.1f} s | "
              f"{row['median']:>10.3f} s | {row['p90']:>7.3f} s | {row['max']:>7.3f} s | "
              f"{row['tasks']:>13} | {row['cpu'].get('master', 0.0):>8.0%} | "
              f"{row['master_rss']:>7.0f} MB | {row['kb_per_slave']:>10.1f} | "
              f"{row['kb_per_task']:>9.1f} | {emulators} | "
              f"{row['cpu'].get('frameworks', 0.0):>6.0%} | "
              f"{row['summary_median']:>8.3f} s | {row['summary_max']:>8.3f} s | "
              f"{row['per_connection']} (open-file limit {row['file_limit']})", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
