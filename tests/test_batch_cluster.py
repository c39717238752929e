"""
Functional tests of the batch framework on a real master and real slaves
(in this process, each with its own hostname and C{rack} attribute), with
real command tasks: the C{mesos-batch} command reaching full node locality,
and two jobs in weighted roles sharing the cluster in proportion.
"""

import json
import os
import sys

import treq

from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import deferLater
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import TestCase

from mesos_tw.batch.job import parse_job
from mesos_tw.batch.scheduler import BatchScheduler
from mesos_tw.interface import mesos_pb2
from mesos_tw.native import MesosSchedulerDriver
from mesos_tw.testing.local_cluster import until
from mesos_tw.testing.racks import RackedCluster, rack_layout
from mesos_tw.testing.zookeeper_server import free_port

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


class InstanceProtocol(ProcessProtocol):
    """
    Follows a C{mesos-batch --listen} process: L{listening} fires when it
    says where its API is, L{ended} when it exits.
    """

    def __init__(self):
        self.listening = Deferred()
        self.ended = Deferred()
        self.errors = b""

    def errReceived(self, data):
        """
        Watch standard error for the API's address.
        """
        self.errors += data
        if b"API at http://" in self.errors and not self.listening.called:
            self.listening.callback(None)

    def processEnded(self, reason):
        """
        The instance exited.
        """
        if not self.listening.called:
            self.listening.errback(AssertionError(f"mesos-batch exited: {self.errors!r}"))
        self.ended.callback(reason.value.exitCode)


class InstanceTests(TestCase):
    """
    A running C{mesos-batch --listen} instance, driven over its HTTP API.
    """

    timeout = 120

    async def test_submit_status_cancel_stop(self):
        """
        A job posted to the instance runs to the end (its status says so);
        a second one is cancelled while its task runs; SIGTERM stops the
        instance, unregistering its framework.
        """
        cluster = await RackedCluster(self, reactor).start()
        await cluster.add_slaves(rack_layout(1, 2))
        port = free_port()
        instance = InstanceProtocol()
        process = reactor.spawnProcess(
            instance, MESOS_BATCH,
            [MESOS_BATCH, f"--master=127.0.0.1:{cluster.port}", f"--listen={port}",
             "--role=services"], env=dict(os.environ))

        async def kill():
            if not instance.ended.called:
                process.signalProcess("KILL")
            await instance.ended

        self.addCleanup(kill)
        await instance.listening
        api = f"http://127.0.0.1:{port}/jobs"

        async def request(method, url, body=None):
            response = await treq.request(method, url, data=body, persistent=False)
            return response.code, await response.json()

        for job_id, command in (("job-1", "true"), ("job-2", "sleep 60")):
            job = json.dumps({"tasks": [{"command": command}]}).encode()
            self.assertEqual(await request("POST", api, job), (201, {"id": job_id}))
        states = {}

        async def poll():
            for job_id in ("job-1", "job-2"):
                states[job_id] = (await request("GET", f"{api}/{job_id}"))[1]
            return states

        async def wait_for(predicate, what):
            end = reactor.seconds() + 60
            while not predicate(await poll()):
                if reactor.seconds() > end:
                    raise AssertionError(f"waited for {what}: {states}")
                await deferLater(reactor, 0.05, lambda: None)

        await wait_for(lambda s: s["job-1"]["state"] == "finished"
                       and s["job-2"]["running"] == 1, "job-1 to finish and job-2 to run")
        self.assertEqual(await request("DELETE", f"{api}/job-9"),
                         (404, {"error": "no job 'job-9'"}))
        await request("DELETE", f"{api}/job-2")
        await wait_for(lambda s: s["job-2"]["state"] == "cancelled", "job-2 to be cancelled")
        self.assertEqual(states["job-2"]["tasks"][0]["message"], "cancelled (TASK_KILLED)")
        [framework_id] = cluster.master.frameworks
        process.signalProcess("TERM")
        await instance.ended
        await until(reactor, lambda: framework_id not in cluster.master.frameworks,
                    "the instance's framework to unregister")


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
