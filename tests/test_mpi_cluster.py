"""
Functional tests of C{mesos-mpirun} with Debian's MPICH: real MPI programs
(built here with C{mpicc}) run as 4 ranks over 2 real slaves, each host's
hydra proxy a Mesos command task.  Skipped, saying why, without MPICH.
"""

import json
import os
import shutil
import signal
import subprocess
import sys

import treq
from twisted.internet import reactor
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import SkipTest, TestCase

from mesos_tw.interface import mesos_pb2
from mesos_tw.mpi.scheduler import MPIScheduler
from mesos_tw.native import MesosSchedulerDriver
from mesos_tw.testing.local_cluster import start_mesos_local, until

MESOS_MPIRUN = os.path.join(os.path.dirname(sys.executable), "mesos-mpirun")

#: Each rank adds rank + 1; rank 0 prints the sum (10 for 4 ranks).
SUM = r"""
#include <mpi.h>
#include <stdio.h>
int main(int argc, char **argv) {
  int rank, size, mine, sum = 0;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  mine = rank + 1;
  MPI_Reduce(&mine, &sum, 1, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
  if (rank == 0) printf("sum of %d ranks: %d\n", size, sum);
  MPI_Finalize();
  return 0;
}
"""

#: Each rank writes its pid to argv[1]/rank-N.pid, then waits a minute.
#: The file is written under another name and renamed, so that it never
#: appears empty.
WAIT = r"""
#include <mpi.h>
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int rank; char path[4096], temporary[4096]; FILE *f;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  snprintf(path, sizeof path, "%s/rank-%d.pid", argv[1], rank);
  snprintf(temporary, sizeof temporary, "%s.tmp", path);
  f = fopen(temporary, "w"); fprintf(f, "%d\n", (int)getpid()); fclose(f);
  rename(temporary, path);
  sleep(60);
  MPI_Barrier(MPI_COMM_WORLD);
  MPI_Finalize();
  return 0;
}
"""


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class MPIJobTests(TestCase):
    """
    MPI jobs of 4 ranks on a mesos-local of 2 slaves with 2 cpus each.
    """

    timeout = 120

    def setUp(self):
        for tool in ("mpicc", "mpiexec", "hydra_pmi_proxy"):
            if shutil.which(tool) is None:
                raise SkipTest(f"{tool} is missing (Debian's mpich and libmpich-dev provide it)")

    def build(self, source):
        """
        Compile C{source} with mpicc; the executable's path.
        """
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        with open(os.path.join(directory, "program.c"), "w", encoding="utf-8") as handle:
            handle.write(source)
        program = os.path.join(directory, "program")
        subprocess.run(["mpicc", "-o", program, os.path.join(directory, "program.c")],
                       check=True, capture_output=True)
        return program

    async def test_ranks_over_two_slaves(self):
        """
        C{mesos-mpirun -n 4} runs the program's 4 ranks as two proxy tasks,
        one per slave, prints rank 0's result and exits 0.
        """
        program = self.build(SUM)
        cluster, port = await start_mesos_local(self, reactor, slaves=2,
                                                resources="cpus:2;mem:512;disk:100")
        out, err, code = await getProcessOutputAndValue(
            MESOS_MPIRUN, [f"--master=127.0.0.1:{port}", "-n", "4", "--mem=64", program],
            env=dict(os.environ), path=os.path.dirname(program), reactor=reactor)
        self.assertEqual(code, 0, err.decode())
        self.assertEqual(out, b"sum of 4 ranks: 10\n")
        self.assertTrue(err.endswith(b"mesos-mpirun: 4 ranks finished\n"), err)
        response = await treq.get(f"http://127.0.0.1:{port}/master/state", persistent=False)
        state = await response.json()
        tasks = [task for framework in state["completed_frameworks"]
                 for task in framework["completed_tasks"]]
        self.assertEqual(sorted(task["id"] for task in tasks), ["proxy-0", "proxy-1"])
        self.assertEqual({task["state"] for task in tasks}, {"TASK_FINISHED"})
        self.assertEqual(len({task["slave_id"] for task in tasks}), 2, json.dumps(tasks))

    async def test_killed_rank_task_fails_the_job(self):
        """
        Killing one host's proxy task fails the job: every proxy task
        ends, mpiexec ends, the result names the first failure heard of,
        and no rank is left running.
        """
        program = self.build(WAIT)
        pids = os.path.abspath(self.mktemp())
        os.makedirs(pids)
        cluster, port = await start_mesos_local(self, reactor, slaves=2,
                                                resources="cpus:2;mem:512;disk:100")
        output = []
        scheduler = MPIScheduler(reactor, 4, [program, pids], output.append, output.append,
                                 cpus=1, mem=64, gang_timeout=30)
        driver = MesosSchedulerDriver(scheduler, mesos_pb2.FrameworkInfo(user="", name="mpi"),
                                      f"127.0.0.1:{port}", reactor=reactor)
        driver.start()
        self.addCleanup(driver.stop)
        def pid_files():
            return sorted(name for name in os.listdir(pids) if name.endswith(".pid"))

        await until(reactor, lambda: len(pid_files()) == 4, "4 ranks to start")
        ranks = [int(open(os.path.join(pids, name)).read()) for name in pid_files()]
        self.addCleanup(lambda: [os.kill(pid, signal.SIGKILL) for pid in ranks if _alive(pid)])
        driver.killTask(mesos_pb2.TaskID(value="proxy-1"))
        status, message = await scheduler.result
        self.assertNotEqual(status, 0)
        # Whichever the scheduler hears of first names the failure: the
        # killed task's update (through the master) or mpiexec exiting
        # when that task's proxy went (on this machine).
        self.assertTrue(message.startswith("proxy-1 (ranks 2-3 on ") and
                        "ended TASK_KILLED" in message or
                        message.startswith("mpiexec exited with status "), message)
        states = {p.task_id: p.state for p in scheduler.proxies.values()}
        self.assertEqual(states["proxy-1"], "TASK_KILLED")
        self.assertIn(states["proxy-0"], {"TASK_KILLED", "TASK_FAILED", "TASK_FINISHED"})
        self.assertIsNotNone(scheduler.mpiexec_status)
        await until(reactor, lambda: not any(_alive(pid) for pid in ranks),
                    "every rank to be gone")
