"""
Tests of C{mesos-batch}'s HTTP API (L{BatchHTTP}) through
C{treq.testing.StubTreq}, over a L{BatchScheduler} on a Clock with a
recording driver; and of its command line's checks and report text.
"""

import io
import json

from treq.testing import StubTreq
from twisted.internet.task import Clock
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.batch.http import BatchHTTP
from mesos_tw.batch.job import parse_job
from mesos_tw.batch.report import Progress, text_report
from mesos_tw.batch.scheduler import BatchScheduler
from mesos_tw.batch.script import Options, load_job
from mesos_tw.interface import mesos_pb2
from mesos_tw.testing.drivers import RecordingSchedulerDriver, offer, task_status

JOB = {"name": "api", "tasks": [{"id": "a", "command": "true"}, {"id": "b", "command": "true"}]}


class BatchHTTPTests(SynchronousTestCase):
    """
    Submit, status and cancel over HTTP.
    """

    def setUp(self):
        self.clock = Clock()
        self.driver = RecordingSchedulerDriver()
        self.scheduler = BatchScheduler(self.clock, 0)
        self.scheduler.registered(self.driver, mesos_pb2.FrameworkID(value="f"),
                                  mesos_pb2.MasterInfo())
        self.client = StubTreq(BatchHTTP(self.scheduler, self.clock).resource())

    def request(self, method, path, body=None):
        """
        C{(status code, decoded JSON body)} of a request.
        """
        response = self.successResultOf(self.client.request(
            method, "http://batch" + path,
            data=None if body is None else (body if isinstance(body, bytes) else
                                            json.dumps(body).encode())))
        return response.code, json.loads(self.successResultOf(response.content()))

    def test_submit_and_status(self):
        """
        A submitted job gets an id (201) and revives offers; its status is
        its report, listed under C{/jobs} too.
        """
        code, body = self.request("POST", "/jobs", JOB)
        self.assertEqual((code, body), (201, {"id": "job-1"}))
        self.assertEqual(self.driver.revived, 1)
        self.scheduler.resourceOffers(self.driver, [offer("o1", "h1")])
        code, body = self.request("GET", "/jobs/job-1")
        self.assertEqual((code, body["state"], body["staging"], body["name"]),
                         (200, "running", 2, "api"))
        code, body = self.request("GET", "/jobs")
        self.assertEqual([(job["id"], job["tasks"]) for job in body["jobs"]], [("job-1", 2)])

    def test_bad_jobs_are_400s(self):
        """
        A job with a mistake is a 400 naming it; nothing is submitted.
        """
        code, body = self.request("POST", "/jobs", b"{")
        self.assertEqual(code, 400)
        self.assertIn("not valid JSON", body["error"])
        code, body = self.request("POST", "/jobs", {"tasks": [{"command": ""}]})
        self.assertEqual((code, body), (400, {
            "error": "tasks[0].command must be a non-empty string, got ''"}))
        self.assertEqual(self.scheduler.jobs, {})

    def test_cancel(self):
        """
        DELETE (or POST .../cancel) cancels: waiting tasks at once, launched
        ones killed; an unknown job is a 404.
        """
        self.request("POST", "/jobs", JOB)
        self.scheduler.resourceOffers(self.driver, [offer("o1", "h1", cpus=0.1)])
        code, body = self.request("DELETE", "/jobs/job-1")
        self.assertEqual((code, body["cancelled"], body["state"]), (200, 1, "running"))
        self.assertEqual(self.driver.killed, ["job-1.a.0"])
        self.scheduler.statusUpdate(self.driver, mesos_pb2.TaskStatus(
            task_id=mesos_pb2.TaskID(value="job-1.a.0"), state=mesos_pb2.TASK_KILLED))
        code, body = self.request("POST", "/jobs/job-1/cancel")
        self.assertEqual((code, body["state"], body["cancelled"]), (200, "cancelled", 2))
        self.assertEqual(self.request("DELETE", "/jobs/job-9"), (404, {"error": "no job 'job-9'"}))
        self.assertEqual(self.request("GET", "/jobs/job-9")[0], 404)


class CommandLineTests(SynchronousTestCase):
    """
    The flags and the job argument of C{mesos-batch}.
    """

    def parse(self, *argv):
        """
        Parsed options of C{argv} (no environment).
        """
        options = Options(environ={})
        options.parseOptions(list(argv))
        return options

    def test_flags(self):
        """
        Mesos-style flags; the job as JSON text; the wait as a duration.
        """
        options = self.parse("--master=127.0.0.1:5050", "--role=prod", "--locality-wait=1secs",
                             "--json", '{"tasks": [{"command": "true"}]}')
        self.assertEqual((options["role"], options["locality_wait"], options["json"]),
                         ("prod", 1.0, True))
        self.assertEqual(options["spec"].tasks[0].command, "true")

    def test_errors(self):
        """
        No master, a bad master, no job, an unreadable file: one clear line.
        """
        for argv, words in [
                (["x.json"], "--master is required"),
                (["--master=zk://", "x.json"], "invalid value for --master"),
                (["--master=h:1"], "give a job"),
                (["--master=h:1", "--locality_wait=soon", "{}"], "--locality_wait"),
                (["--master=h:1", "/nonexistent/job.json"], "cannot read /nonexistent/job.json")]:
            error = self.assertRaises(usage.UsageError, self.parse, *argv)
            self.assertIn(words, str(error))

    def test_job_from_standard_input(self):
        """
        C{-} reads the job from standard input; a mistake names it.
        """
        self.assertEqual(load_job("-", io.StringIO('{"tasks": [{"command": "x"}]}'))
                         .tasks[0].command, "x")
        error = self.assertRaises(usage.UsageError, load_job, "-", io.StringIO("[]"))
        self.assertTrue(str(error).startswith("standard input: "))


class ReportTests(SynchronousTestCase):
    """
    The progress shown while a job runs and the final text report.
    """

    def setUp(self):
        self.clock = Clock()
        self.scheduler = BatchScheduler(self.clock, 0)
        self.job = self.scheduler.submit(parse_job(JOB))

    def test_bar_on_a_terminal(self):
        """
        On a terminal the line is redrawn in place with a bar, clearing
        the rest of the previous one.
        """
        stream = io.StringIO()
        Progress(stream, self.clock, terminal=True)(self.job)
        self.assertEqual(stream.getvalue(), "\r[" + "." * 30 + "] api: 0/2 finished, "
                         "0 running, 0 staged, 2 waiting, 0 failed\x1b[K")

    def test_lines_elsewhere_at_most_each_second(self):
        """
        Elsewhere a line per change, at most one a second: a change within
        the second is shown when it has passed; the end at once.
        """
        stream = io.StringIO()
        progress = Progress(stream, self.clock, terminal=False)
        progress(self.job)
        driver = RecordingSchedulerDriver()
        self.scheduler.resourceOffers(driver, [offer("o1", "h1")])
        progress(self.job)
        self.assertEqual(len(stream.getvalue().splitlines()), 1)
        self.clock.advance(1)
        self.assertEqual(stream.getvalue().splitlines()[-1],
                         "api: 0/2 finished, 0 running, 2 staged, 0 waiting, 0 failed")
        self.scheduler.statusUpdate(driver, task_status("job-1.a.0", "TASK_FINISHED"))
        progress(self.job)
        self.scheduler.statusUpdate(driver, task_status("job-1.b.0", "TASK_FINISHED"))
        progress(self.job)
        self.assertEqual(stream.getvalue().splitlines()[1:], [
            "api: 0/2 finished, 0 running, 2 staged, 0 waiting, 0 failed",
            "api: 2/2 finished, 0 running, 0 staged, 0 waiting, 0 failed"])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_text_report(self):
        """
        The text report gives the totals, the locality and a task table.
        """
        driver = RecordingSchedulerDriver()
        self.scheduler.resourceOffers(driver, [offer("o1", "h1", rack="r1")])
        self.clock.advance(2)
        for task_id in ("job-1.a.0", "job-1.b.0"):
            self.scheduler.statusUpdate(driver, mesos_pb2.TaskStatus(
                task_id=mesos_pb2.TaskID(value=task_id), state=mesos_pb2.TASK_FINISHED))
        self.assertEqual(text_report(self.job.report(self.clock.seconds())), "\n".join([
            "job api (job-1): finished; 2 tasks, 2 finished, 0 failed, 0 cancelled, 0 retries;"
            " makespan 2.0 s",
            "locality: node 0%, rack 0%, any 100%",
            "task | state | host | locality | attempts | waited | ran | message",
            "a | finished | h1 | any | 1 | 0.0 s | 0.0 s |",
            "b | finished | h1 | any | 1 | 0.0 s | 0.0 s |", ""]))
