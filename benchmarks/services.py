"""
mesos-services: time to deploy N instances across SLAVES slaves, and time to
replace a failed instance.

Starts a ``twistd mesos-master``, SLAVES ``twistd mesos-slave`` processes
(each with its own hostname and port range) and a ``twistd mesos-services``
process (state in memory), all on this machine.  Then:

1. for each count N: POST an app of N instances of ``sleep`` (through the
   built-in command executor: a process per instance; each slave has one
   cpu and an instance takes 0.09, so 100 instances need all 10 slaves)
   and time until the
   API shows N instances ``TASK_RUNNING`` and no deployment; then delete
   it and wait until its instances have ended;
2. with a 100-instance app running, ROUNDS times: SIGKILL one instance's
   command and time until the API shows a new instance running in its
   place (the app's ``backoffSeconds`` is 0.1, so the back-off is not what
   is measured).

Times are sampled every 100 ms (the polling interval): they carry that
much resolution.  It prints the load average beside the figures: on a
shared machine they say as much about the load as about mesos-services.

    python benchmarks/services.py                    # 10 slaves; 25, 50, 100 instances
    python benchmarks/services.py --slaves 5 --counts 10 50 --rounds 3
"""

import argparse
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time

import treq
from twisted.internet import defer, task

from mesos_tw.testing.processes import ProcessCluster
from mesos_tw.testing.zookeeper_server import free_port

POLL = 0.1

#: Each slave has one cpu, so it holds at most 11 instances: 100 of them
#: need every one of 10 slaves.
SLAVE_RESOURCES = "cpus:1;mem:4096;disk:100"
INSTANCE_CPUS = 0.09
TIMEOUT = 600.0


@defer.inlineCallbacks
def call(port, method, path, body=None):
    """
    C{(code, JSON)} of a call on mesos-services.
    """
    data = None if body is None else json.dumps(body).encode()
    response = yield treq.request(method, f"http://127.0.0.1:{port}{path}", data=data,
                                  persistent=False, timeout=30)
    content = yield response.content()
    return response.code, json.loads(content) if content else None


@defer.inlineCallbacks
def until(reactor, probe, what):
    """
    Poll C{probe()} until it is true; the seconds it took and its value.
    """
    start = time.monotonic()
    while True:
        value = yield probe()
        if value:
            return time.monotonic() - start, value
        if time.monotonic() - start > TIMEOUT:
            raise RuntimeError(f"timed out waiting for {what}")
        yield task.deferLater(reactor, POLL, lambda: None)


def progress(text):
    """
    Say how far it got, on standard error.
    """
    sys.stderr.write(f"services benchmark: {text}\n")


def app_body(count):
    """
    An app of C{count} small instances that just run.
    """
    return {"id": f"/bench-{count}", "cmd": "exec sleep 36000", "instances": count,
            "cpus": INSTANCE_CPUS, "mem": 8, "disk": 0, "ports": [], "backoffSeconds": 0.1}


@defer.inlineCallbacks
def measure(reactor, directory, slaves, counts, rounds):
    """
    The deploy times C{[(count, seconds, hosts used)]} and the replacement
    times C{[seconds]}.
    """
    cluster = ProcessCluster(reactor, directory, None)
    try:
        master_port = free_port()
        cluster.masters[master_port] = cluster.spawn(
            "master", "mesos-master", "--ip=127.0.0.1", f"--port={master_port}")
        base = 61000 + 100 * random.randrange(20)
        for index in range(slaves):
            cluster.slaves.append(cluster.spawn(
                f"slave {index}", "mesos-slave", f"--master=127.0.0.1:{master_port}",
                "--ip=127.0.0.1", f"--port={free_port()}", f"--hostname=node-{index}",
                f"--work_dir={os.path.join(directory, f'slave-{index}')}",
                f"--resources={SLAVE_RESOURCES};ports:[{base + 10 * index}-"
                f"{base + 10 * index + 9}]"))
        yield cluster.wait_for(lambda p, s: len(s["slaves"]) == slaves, "the slaves", TIMEOUT)
        progress(f"{slaves} slaves registered")
        port = free_port()
        cluster.masters[port] = cluster.spawn(
            "services", "mesos-services", f"--master=127.0.0.1:{master_port}",
            f"--http_port={port}", "--hostname=127.0.0.1")

        @defer.inlineCallbacks
        def registered():
            try:
                code, info = yield call(port, "GET", "/v2/info")
            except Exception:
                return False
            return code == 200 and info["frameworkId"]

        yield until(reactor, registered, "mesos-services to register")
        progress("mesos-services registered")

        def running(count, exclude=()):
            @defer.inlineCallbacks
            def probe():
                code, body = yield call(port, "GET", f"/v2/apps/bench-{count}")
                if code != 200:
                    return None
                app = body["app"]
                ids = {t["id"] for t in app["tasks"] if t["state"] == "TASK_RUNNING"}
                if len(ids) == count and not ids & set(exclude) and not app["deployments"]:
                    return app
                return None
            return probe

        def no_tasks_of(count):
            @defer.inlineCallbacks
            def probe():
                _, body = yield call(port, "GET", "/v2/tasks")
                return not [t for t in body["tasks"] if t["appId"] == f"/bench-{count}"]
            return probe

        deploys = []
        for count in counts:
            yield call(port, "POST", "/v2/apps", app_body(count))
            took, app = yield until(reactor, running(count), f"{count} instances")
            deploys.append((count, took, len({t["host"] for t in app["tasks"]})))
            progress(f"{count} instances running after {took:.1f}s")
            if count != counts[-1]:
                yield call(port, "DELETE", f"/v2/apps/bench-{count}")
                yield until(reactor, no_tasks_of(count), "the deleted app's instances to end")
        replaces = []
        for _ in range(rounds):
            _, body = yield call(port, "GET", f"/v2/apps/bench-{counts[-1]}")
            victim = body["app"]["tasks"][0]["id"]
            pids = _task_pids(victim)
            if not pids:
                raise RuntimeError(f"cannot find the process of {victim}")
            for pid in pids:
                os.kill(int(pid), signal.SIGKILL)
            took, _ = yield until(reactor, running(counts[-1], exclude=[victim]),
                                  "the replacement")
            replaces.append(took)
            progress(f"replaced after {took:.2f}s")
        return deploys, replaces
    finally:
        yield cluster.stop()


def _task_pids(task_id):
    """
    The pid of an instance's ``sleep``: the process running in its
    executor's sandbox (``.../executors/<task id>/runs/...``).
    """
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                command = cmdline.read()
        except OSError:
            continue
        if f"/executors/{task_id}/runs/" in cwd and command.startswith(b"sleep"):
            found.append(pid)
    return found


def main():
    """
    Parse the arguments, measure, print.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slaves", type=int, default=10)
    parser.add_argument("--counts", type=int, nargs="+", default=[25, 50, 100])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        task.react(lambda reactor: measure(
            reactor, directory, args.slaves, args.counts, args.rounds).addCallback(
                _print, args))


def _print(result, args):
    """
    The figures, as tables.
    """
    deploys, replaces = result
    one, five, fifteen = os.getloadavg()
    print(f"load average at the end: {one:.1f} {five:.1f} {fifteen:.1f} (1/5/15 min), "
          f"{os.cpu_count()} cores")
    print("| instances | slaves | hosts used | deploy time (s) | per instance (ms) |")
    print("|---|---|---|---|---|")
    for count, took, hosts in deploys:
        print(f"| {count} | {args.slaves} | {hosts} | {took:.1f} | {1000 * took / count:.0f} |")
    if replaces:
        print()
        print("| replace a failed instance | rounds | median (s) | max (s) |")
        print("|---|---|---|---|")
        print(f"| {args.counts[-1]} instances running | {len(replaces)} | "
              f"{statistics.median(replaces):.2f} | {max(replaces):.2f} |")
    return result


if __name__ == "__main__":
    main()
