"""
The NSDI 2011 paper's overhead experiment: CPU-bound jobs run alone on the
machine and through mesos_tw; the figure is how much longer they take
through mesos_tw, from the command's start to its exit.

- MPI: a C program (built here with ``mpicc``) whose ranks each spin
  through ``--iterations`` floating-point steps, then reduce; alone it is
  ``mpiexec -n RANKS prog``, through mesos_tw ``mesos-mpirun -n RANKS prog``.
- batch: TASKS tasks of the same spinning (built with ``gcc``), alone run
  RANKS at a time by ``xargs -P``, each in a session of its own as mesos_tw
  runs each executor (where the kernel's ``sched_autogroup`` is on, a
  session is a scheduling group: alone in one session, the tasks would
  share one group's CPU while through mesos_tw each has its own), and
  through mesos_tw a ``mesos-batch`` job of one-cpu tasks on a slave of
  RANKS cpus.  The MPI job is one session either way (mpiexec's alone, the
  one proxy task's through mesos_tw).

Both go through one ``mesos-local`` (one slave, ``cpus:RANKS``) started
once beforehand, so its start-up is not counted; the commands' own
start-up (registration, offers, task launch, Python's) is.  Runs alternate
(alone, through, alone, ...) so that both see the same load; the table
gives medians.  Jobs of 0 steps come first: their difference is the fixed
cost of going through mesos_tw, which a job of T seconds pays once.

    python benchmarks/overhead.py
    python benchmarks/overhead.py --iterations 2000000000 --pairs 5

The paper: under 4% overhead.
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

from mesos_tw.testing.machine import load_average, sched_autogroup

BIN = os.path.dirname(sys.executable)

SPIN = r"""
#include <stdio.h>
#include <stdlib.h>
#ifdef WITH_MPI
#include <mpi.h>
#endif
int main(int argc, char **argv) {
  long n = atol(argv[1]);
  volatile double x = 1.0;
  double total = 0.0;
#ifdef WITH_MPI
  MPI_Init(&argc, &argv);
#endif
  for (long i = 0; i < n; i++) x = x * 1.0000001 + 1e-9;
#ifdef WITH_MPI
  double mine = x;
  MPI_Reduce(&mine, &total, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
  MPI_Finalize();
#else
  total = x;
#endif
  printf("%g\n", total);
  return 0;
}
"""


def free_port():
    """
    A TCP port free on the loopback interface now.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def build(directory):
    """
    C{(spin, spin_mpi)}: the spinning program without and with MPI.
    """
    source = os.path.join(directory, "spin.c")
    with open(source, "w", encoding="utf-8") as handle:
        handle.write(SPIN)
    spin, spin_mpi = os.path.join(directory, "spin"), os.path.join(directory, "spin_mpi")
    subprocess.run(["gcc", "-O1", "-o", spin, source], check=True)
    subprocess.run(["mpicc", "-O1", "-DWITH_MPI", "-o", spin_mpi, source], check=True)
    return spin, spin_mpi


def timed(argv, **kwargs):
    """
    Seconds C{argv} took to run to its exit (which must be 0).
    """
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, **kwargs)
    return time.perf_counter() - start


def commands(args, master, spin, spin_mpi, steps):
    """
    C{{kind: (alone argv, through-mesos_tw argv, subprocess arguments)}}
    for jobs of C{steps} steps per rank or task.
    """
    job = json.dumps({"name": "spin", "tasks": [
        {"id": f"t{i}", "command": f"{spin} {steps}", "cpus": 1, "mem": 64}
        for i in range(args.tasks)]})
    return {
        "MPI": (["mpiexec", "-n", str(args.ranks), spin_mpi, str(steps)],
                [os.path.join(BIN, "mesos-mpirun"), master, "-n", str(args.ranks), "--mem=64",
                 spin_mpi, str(steps)], {}),
        "batch": (["xargs", "-P", str(args.ranks), "-I{}", "setsid", "-w", "sh", "-c", "{}"],
                  [os.path.join(BIN, "mesos-batch"), master, "--locality_wait=0", job],
                  {"input": "\n".join([f"{spin} {steps}"] * args.tasks).encode()}),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ranks", type=int, default=2, help="MPI ranks, and batch tasks at once")
    parser.add_argument("--tasks", type=int, default=4, help="tasks of the batch job")
    parser.add_argument("--iterations", type=int, default=1_000_000_000, help="steps per rank/task")
    parser.add_argument("--pairs", type=int, default=3, help="alone/through pairs per kind")
    args = parser.parse_args(argv)
    for tool in ("gcc", "mpicc", "mpiexec"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing (Debian's gcc, mpich and libmpich-dev)")
    directory = tempfile.mkdtemp(prefix="overhead-")
    spin, spin_mpi = build(directory)
    port = free_port()
    cluster = subprocess.Popen(
        [os.path.join(BIN, "mesos-local"), f"--port={port}", "--num_slaves=1",
         f"--resources=cpus:{args.ranks};mem:{256 * args.ranks}",
         f"--work_dir={os.path.join(directory, 'work')}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    master = f"--master=127.0.0.1:{port}"
    try:
        time.sleep(3)
        timed([os.path.join(BIN, "mesos-batch"), master, '{"tasks": [{"command": "true"}]}'],
              stderr=subprocess.DEVNULL)
        print(f"{args.ranks} ranks (MPI) / {args.tasks} tasks {args.ranks} at a time (batch); "
              f"{args.pairs} alternating pairs; medians; sched_autogroup {sched_autogroup()}")
        print("| job | steps per rank or task | alone | through mesos_tw | difference | overhead "
              "| alone runs | through runs | load before | load after |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for steps in (0, args.iterations):
            for kind, (alone_argv, through_argv, extra) in commands(
                    args, master, spin, spin_mpi, steps).items():
                before = load_average()
                alone, through = [], []
                for _ in range(args.pairs):
                    alone.append(timed(alone_argv, **extra))
                    through.append(timed(through_argv, stderr=subprocess.DEVNULL))
                a, t = statistics.median(alone), statistics.median(through)
                print(f"| {kind} | {steps:,} | {a:.2f} s | {t:.2f} s | {t - a:+.2f} s "
                      f"| {t / a - 1:+.1%} | {', '.join(f'{x:.2f}' for x in alone)} "
                      f"| {', '.join(f'{x:.2f}' for x in through)} "
                      f"| {before:.1f} | {load_average():.1f} |")
                sys.stdout.flush()
    finally:
        cluster.terminate()
        cluster.wait(timeout=30)
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
