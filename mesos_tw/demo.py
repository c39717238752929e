"""
The main job, end to end: start a local cluster (``mesos-local``, a master
and two slaves in one process), run the example frameworks on it to
completion, and say what happened and where to look.

Run it with ``bash scripts/demo`` (which sets up the environment first), or
``python -m mesos_tw.demo [--keep] [--num_slaves N] [--port P]``.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FRAMEWORKS = os.path.join(ROOT, "frameworks")


def free_port():
    """
    A TCP port that is free on the loopback interface right now.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_state(port, slaves, deadline):
    """
    Poll the master's state until C{slaves} slaves are registered.

    @return: the state, or L{None} if the deadline (a monotonic time) passes.
    """
    url = f"http://127.0.0.1:{port}/master/state"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                state = json.load(response)
            if len(state.get("slaves", [])) >= slaves:
                return state
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.2)
    return None


def run_framework(script, master, *args):
    """
    Run an example framework against C{master}; return its exit status.
    """
    command = [sys.executable, os.path.join(FRAMEWORKS, script), master, *args]
    print(f"\n$ {' '.join(command[1:])}", flush=True)
    return subprocess.call(command, cwd=ROOT)


def main(argv=None):
    """
    Start the cluster, run the examples, report; exit non-zero on failure.
    """
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--num_slaves", type=int, default=2)
    parser.add_argument("--port", type=int, default=0, help="master port (0: a free one)")
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    options = parser.parse_args(argv)
    port = options.port or free_port()
    work_dir = tempfile.mkdtemp(prefix="mesos-tw-demo-")
    log_path = os.path.join(work_dir, "mesos-local.log")
    master = f"127.0.0.1:{port}"
    print(f"Starting mesos-local: a master on {master} and {options.num_slaves} slaves")
    with open(log_path, "wb") as log:
        cluster = subprocess.Popen(
            [
                sys.executable, "-m", "twisted", "--log-format=text", "mesos-local",
                f"--num_slaves={options.num_slaves}", f"--port={port}",
                f"--work_dir={work_dir}", "--resources=cpus:2;mem:1024;disk:1024;ports:[31000-32000]",
            ],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
        )
    try:
        state = wait_for_state(port, options.num_slaves, time.monotonic() + 30)
        if state is None:
            print(f"The cluster did not come up; its log is {log_path}")
            return 1
        print(f"Cluster up: {len(state['slaves'])} slaves registered with master {state['pid']}")
        results = {
            "test_framework (custom executor, 5 tasks)": run_framework(
                "test_framework.py", master
            ),
            "no_executor_framework (command tasks, 5 tasks)": run_framework(
                "no_executor_framework.py", master, "--tasks", "5"
            ),
        }
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/master/state", timeout=5) as r:
            state = json.load(r)
        print("\nWhat happened:")
        for name, status in results.items():
            print(f"  {name}: {'succeeded' if status == 0 else f'FAILED (exit {status})'}")
        print(
            f"  the master counted {state.get('finished_tasks', 0)} finished, "
            f"{state.get('failed_tasks', 0)} failed, {state.get('lost_tasks', 0)} lost tasks"
        )
        print("\nWhere to look:")
        running = "" if options.keep else " (while the cluster runs: --keep leaves it up)"
        print(f"  web UI:         http://{master}/{running}")
        print(f"  master state:   http://{master}/master/state")
        print(f"  sandboxes:      {work_dir}/slave-*/slaves/*/frameworks/*/executors/*/runs/")
        print(f"  cluster log:    {log_path}")
        if options.keep:
            print(f"\nThe cluster keeps running (pid {cluster.pid}); stop it with kill {cluster.pid}")
        return 0 if all(s == 0 for s in results.values()) else 1
    finally:
        if not options.keep:
            cluster.terminate()
            cluster.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
