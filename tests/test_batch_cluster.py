"""
Functional tests of the batch framework on a real master and real slaves
(in this process, each with its own hostname and C{rack} attribute), with
real command tasks: the C{mesos-batch} command reaching full node locality,
and two jobs in weighted roles sharing the cluster in proportion.
"""

import json
import os
import sys

from twisted.internet import reactor
from twisted.internet.defer import gatherResults
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import TestCase

from mesos_tw.batch.job import parse_job
from mesos_tw.batch.scheduler import BatchScheduler
from mesos_tw.interface import mesos_pb2
from mesos_tw.native import MesosSchedulerDriver
from mesos_tw.testing.local_cluster import until
from mesos_tw.testing.racks import RackedCluster, rack_layout

MESOS_BATCH = os.path.join(os.path.dirname(sys.executable), "mesos-batch")


class BatchCommandTests(TestCase):
    """
    C{mesos-batch} as a user runs it, against 8 slaves in 4 racks.
    """

    timeout = 120

    async def test_full_node_locality(self):
        """
        With each task's input on a different host and a wait allowed,
        every task runs on its input's host: the JSON report says node
        locality 1.0, and the command exits 0.
        """
        cluster = await RackedCluster(self, reactor).start()
        layout = rack_layout(4, 2)
        await cluster.add_slaves(layout, "cpus:1;mem:256;disk:100")
        hosts = sorted(layout)
        job = {"name": "spread", "tasks": [
            {"id": f"t{index}", "command": "true", "cpus": 0.5, "mem": 32, "hosts": [host]}
            for index, host in enumerate(hosts)]}
        path = self.mktemp()
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(job, handle)
        out, err, code = await getProcessOutputAndValue(
            MESOS_BATCH, [f"--master=127.0.0.1:{cluster.port}", "--locality_wait=1mins",
                          "--json", path], env=dict(os.environ), reactor=reactor)
        self.assertEqual(code, 0, err.decode())
        report = json.loads(out)
        self.assertEqual((report["finished"], report["failed"]), (len(hosts), 0))
        self.assertEqual(report["locality"], {"node": 1.0, "rack": 0.0, "any": 0.0})
        self.assertEqual([task["host"] for task in report["tasks"]], hosts)
        self.assertGreater(report["makespan_seconds"], 0)
        self.assertIn(b"8/8 finished", err)

    async def test_bad_job_file(self):
        """
        A job file with a mistake is refused before anything runs: exit
        status 2 and one line naming the file and the field.
        """
        path = self.mktemp()
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({"tasks": [{"id": "a", "command": "true", "cpus": -1}]}, handle)
        out, err, code = await getProcessOutputAndValue(
            MESOS_BATCH, ["--master=127.0.0.1:1", path], env=dict(os.environ),
            reactor=reactor)
        self.assertEqual(code, 2)
        self.assertEqual(err.decode(),
                         f"mesos-batch: {path}: tasks[0].cpus must be more than 0, got -1\n")


class WeightedRolesTests(TestCase):
    """
    Two batch jobs as frameworks in roles weighted 3 and 1.
    """

    timeout = 120

    async def test_share_in_proportion(self):
        """
        With both jobs wanting more than the cluster, 8 one-slave tasks run
        as 6 of the job in role prod (weight 3) and 2 of the one in role dev
        (weight 1); once they are let go, both jobs finish every task.
        """
        cluster = await RackedCluster(self, reactor, "--weights=prod=3,dev=1").start()
        release = os.path.abspath(self.mktemp())
        command = f"while [ ! -e {release} ]; do sleep 0.05; done"
        schedulers = {}
        for role in ("prod", "dev"):
            scheduler = BatchScheduler(reactor, locality_wait=0)
            driver = MesosSchedulerDriver(
                scheduler, mesos_pb2.FrameworkInfo(user="", name=f"batch {role}", role=role),
                f"127.0.0.1:{cluster.port}", reactor=reactor)
            driver.start()
            self.addCleanup(driver.stop)
            scheduler.submit(parse_job({"name": role, "tasks": [
                {"id": f"t{i}", "command": command, "cpus": 1, "mem": 32} for i in range(8)]}))
            schedulers[role] = scheduler
        await until(reactor, lambda: len(cluster.master.frameworks) == 2,
                    "both frameworks to register")
        await cluster.add_slaves(rack_layout(1, 8), "cpus:1;mem:256;disk:100")

        def running(role):
            job = schedulers[role].jobs["job-1"]
            return job.counts()["running"]

        await until(reactor, lambda: running("prod") + running("dev") == 8,
                    "8 tasks to run")
        self.assertEqual((running("prod"), running("dev")), (6, 2))
        open(release, "w").close()
        jobs = await gatherResults([s.jobs["job-1"].ended for s in schedulers.values()])
        self.assertEqual([(job.state, job.counts()["finished"]) for job in jobs],
                         [("finished", 8), ("finished", 8)])
