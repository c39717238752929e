"""
Unit tests of the batch framework: the job file's checks, delay
scheduling's levels, and L{BatchScheduler} driven by hand on a Clock with a
recording driver (placement, waits, filters, revives, retries, cancelling,
the report).
"""

import inspect
import json

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.batch.job import JobError, parse_job
from mesos_tw.batch.locality import ANY, NODE, RACK, DelayScheduling
from mesos_tw.batch import scheduler as scheduler_module
from mesos_tw.batch.scheduler import DEFAULT_REFUSE_SECONDS, IDLE_REFUSE_SECONDS, BatchScheduler
from mesos_tw.interface import SchedulerDriver, mesos_pb2
from mesos_tw.testing.drivers import RecordingSchedulerDriver, SchedulerCalls, offer


def job(*tasks, **fields):
    """
    A parsed job of C{tasks} (dicts; C{command} defaults to C{true}).
    """
    return parse_job({"tasks": [dict({"command": "true"}, **task) for task in tasks], **fields})


class JobFileTests(SynchronousTestCase):
    """
    C{parse_job} reads JOB.json and names what is wrong with a bad one.
    """

    def test_full_task(self):
        """
        Every field of a task is read; the defaults fill the rest.
        """
        spec = parse_job(json.dumps({"name": "wc", "tasks": [
            {"id": "t1", "command": "echo", "cpus": 0.5, "mem": 64, "hosts": ["h1", "h2"],
             "racks": ["r1"], "max_retries": 1},
            {"command": "true"}]}))
        first, second = spec.tasks
        self.assertEqual((spec.name, first.id, first.cpus, first.mem, first.hosts, first.racks,
                          first.max_retries), ("wc", "t1", 0.5, 64.0, ("h1", "h2"), ("r1",), 1))
        self.assertEqual((second.id, second.cpus, second.mem, second.hosts, second.max_retries),
                         ("1", 0.1, 32.0, (), 3))

    def assertJobError(self, source, *words):
        """
        C{parse_job(source)} fails with a message containing C{words}.
        """
        error = self.assertRaises(JobError, parse_job, source)
        for word in words:
            self.assertIn(word, str(error))

    def test_errors_name_the_field(self):
        """
        Each kind of mistake is a L{JobError} naming the field at fault.
        """
        self.assertJobError("{not json", "not valid JSON")
        self.assertJobError("[]", "JSON object")
        self.assertJobError({"tasks": []}, "tasks must be a non-empty list")
        self.assertJobError({"tasks": [{"id": "a"}]}, "tasks[0].command")
        self.assertJobError({"tasks": [{"command": "x", "cpus": "1"}]}, "tasks[0].cpus")
        self.assertJobError({"tasks": [{"command": "x", "mem": 0}]}, "tasks[0].mem", "more than 0")
        self.assertJobError({"tasks": [{"command": "x", "hosts": "h1"}]}, "tasks[0].hosts")
        self.assertJobError({"tasks": [{"command": "x", "cpu": 1}]}, "unknown field(s) cpu")
        self.assertJobError({"tasks": [{"id": "a", "command": "x"}, {"id": "a", "command": "y"}]},
                            "'a' is used twice")
        self.assertJobError({"tasks": [{"command": "x", "max_retries": -1}]},
                            "tasks[0].max_retries")
        self.assertJobError({"jobs": []}, "unknown field(s) jobs")


class DelaySchedulingTests(SynchronousTestCase):
    """
    The level a job's tasks accept grows with how long it has been
    skipped: node, rack, any.
    """

    def test_levels_in_turn(self):
        """
        With a 5 s wait a job not skipped stays at its step; skipped for
        5 s it takes its tasks' racks, for 10 s anything; C{next_change}
        counts down to each step.
        """
        delay = DelayScheduling(5.0)
        hosts, racks = ("h1",), {"r1"}
        steps = [delay.step(0, skipped) for skipped in (None, 0, 4.9, 5, 9.9, 10, 100)]
        self.assertEqual(steps, [0, 0, 0, 1, 1, 2, 2])
        self.assertEqual([delay.allowed(hosts, racks, step) for step in (0, 1, 2)],
                         [NODE, RACK, ANY])
        self.assertEqual(delay.step(1, 5), 2)
        self.assertEqual([delay.next_change(delay.step(0, s), s) for s in (None, 2, 5, 10)],
                         [5.0, 3.0, 5.0, None])
        self.assertTrue(delay.accepts(hosts, racks, 0, NODE))
        self.assertFalse(delay.accepts(hosts, racks, 0, RACK))

    def test_levels_a_task_cannot_have_are_skipped(self):
        """
        No hosts: rack level first; no racks known: any after the node
        step; nothing named: any at once.  Launching at a task's best level
        puts its job back at step 0.
        """
        delay = DelayScheduling(5.0)
        self.assertEqual(delay.allowed((), {"r1"}, 0), RACK)
        self.assertEqual(delay.allowed(("h1",), set(), 1), ANY)
        self.assertEqual(delay.allowed((), set(), 0), ANY)
        self.assertEqual(delay.step_of((), set(), ANY), 0)
        self.assertEqual(delay.step_of(("h1",), {"r1"}, RACK), 1)

    def test_no_wait(self):
        """
        A wait of 0 takes anything at once; a negative one is refused.
        """
        delay = DelayScheduling(0)
        self.assertEqual(delay.allowed(("h1",), {"r1"}, delay.step(0, None)), ANY)
        self.assertIsNone(delay.next_change(delay.step(0, None), None))
        self.assertRaises(ValueError, DelayScheduling, -1)


class SchedulerTestCase(SchedulerCalls, SynchronousTestCase):
    """
    A L{BatchScheduler} with a 5 s locality wait on a Clock, registered
    with a recording driver.
    """

    wait = 5.0

    def setUp(self):
        self.clock = Clock()
        self.driver = RecordingSchedulerDriver()
        self.changes = []
        self.scheduler = BatchScheduler(self.clock, self.wait, on_change=self.changes.append)
        self.register()


class RecordingDriverTests(SynchronousTestCase):
    """
    The recording driver fakes L{SchedulerDriver} faithfully.
    """

    def test_signatures(self):
        """
        Each method it fakes takes what the interface's takes.
        """
        for name in ("launchTasks", "declineOffer", "killTask", "reviveOffers", "stop",
                     "abort", "suppressOffers"):
            self.assertEqual(inspect.signature(getattr(RecordingSchedulerDriver, name)),
                             inspect.signature(getattr(SchedulerDriver, name)), name)


class DelaySchedulingOfferTests(SchedulerTestCase):
    """
    Offers are taken as the waiting tasks' levels allow: node at once, the
    rack after the wait, anywhere after twice the wait.
    """

    def setUp(self):
        super().setUp()
        self.job = self.scheduler.submit(job({"id": "t1", "hosts": ["h1"], "racks": ["r1"]}))

    def test_node_local_offer_taken_at_once(self):
        """
        An offer on the task's host launches it, as a command task with its
        resources, on that slave.
        """
        self.offers(offer("o1", "h1", "r1"))
        [(offer_ids, [task], filters)] = self.driver.launched
        self.assertEqual(offer_ids, ["o1"])
        self.assertEqual((task.task_id.value, task.command.value, task.slave_id.value),
                         ("job-1.t1.0", "true", "slave-h1"))
        self.assertEqual(sorted((r.name, r.scalar.value) for r in task.resources),
                         [("cpus", 0.1), ("mem", 32.0)])
        self.assertEqual(self.job.tasks[0].attempts[0].level, NODE)
        self.assertEqual(filters.refuse_seconds, IDLE_REFUSE_SECONDS)

    def test_rack_after_the_wait(self):
        """
        An offer in the task's rack is declined (filtered until the wait
        ends) and taken once the wait is over.
        """
        self.offers(offer("o1", "h2", "r1"))
        self.assertEqual(self.driver.declined[0][0], "o1")
        self.assertEqual(self.driver.declined[0][1].refuse_seconds, self.wait)
        self.clock.advance(self.wait - 0.5)
        self.offers(offer("o2", "h2", "r1"))
        self.assertEqual(self.driver.declined[1], ("o2", mesos_pb2.Filters(refuse_seconds=0.5)))
        self.clock.advance(0.5)
        self.offers(offer("o3", "h2", "r1"))
        self.assertEqual(self.driver.launched_tasks(), [("o3", "job-1.t1.0")])
        self.assertEqual(self.job.tasks[0].attempts[0].level, RACK)

    def test_anywhere_after_twice_the_wait(self):
        """
        An offer in another rack is declined through both waits, then
        taken.
        """
        self.offers(offer("o1", "h9", "r9"))
        self.clock.advance(self.wait)
        self.offers(offer("o2", "h9", "r9"))
        self.assertEqual(self.driver.launched, [])
        self.clock.advance(self.wait)
        self.offers(offer("o3", "h9", "r9"))
        self.assertEqual(self.driver.launched_tasks(), [("o3", "job-1.t1.0")])
        report = self.job.report(self.clock.seconds())
        self.assertEqual(report["locality"], {NODE: 0.0, RACK: 0.0, ANY: 1.0})
        self.assertEqual(report["tasks"][0]["wait_seconds"], 2 * self.wait)

    def test_rack_learned_from_offers(self):
        """
        A task naming only hosts takes their rack (known from their offers'
        C{rack} attribute) once its job has been skipped for the wait.  A
        job is not skipped by an offer with no room left for it: the wait
        counts from the first offer it declines.
        """
        self.scheduler.submit(job({"id": "t2", "hosts": ["h1"]}))
        self.offers(offer("o1", "h1", "r1", cpus=0.1))
        self.assertEqual(self.driver.launched_tasks(), [("o1", "job-1.t1.0")])
        self.assertIsNone(self.scheduler.jobs["job-2"].skipped_since)
        self.clock.advance(self.wait)
        self.offers(offer("o2", "h2", "r1"))
        self.assertEqual(self.driver.declined[-1], ("o2", mesos_pb2.Filters(refuse_seconds=5)))
        self.clock.advance(self.wait)
        self.offers(offer("o3", "h2", "r1"))
        self.assertEqual(self.driver.launched_tasks()[1:], [("o3", "job-2.t2.0")])
        self.assertEqual(self.scheduler.jobs["job-2"].tasks[0].attempts[0].level, RACK)

    def test_local_launch_resets_the_wait(self):
        """
        Jobs skipped for the wait take their rack; once a job launches a
        node-local task, it waits (is skipped for the wait) for node
        locality again before taking its rack.
        """
        self.scheduler.submit(job({"id": "a", "hosts": ["h1"], "racks": ["r1"]},
                                  {"id": "b", "hosts": ["h1"], "racks": ["r1"]},
                                  {"id": "c", "hosts": ["h1"], "racks": ["r1"]},
                                  {"id": "d", "hosts": ["h1"], "racks": ["r1"]}))
        self.offers(offer("o1", "h2", "r1"))
        self.clock.advance(self.wait)
        self.offers(offer("o2", "h2", "r1", cpus=0.1))
        self.offers(offer("o3", "h2", "r1", cpus=0.1))
        self.assertEqual(self.driver.launched_tasks(), [("o2", "job-1.t1.0"), ("o3", "job-2.a.0")])
        self.offers(offer("o4", "h1", "r1", cpus=0.1))
        self.assertEqual(self.driver.launched_tasks()[2:], [("o4", "job-2.b.0")])
        self.offers(offer("o5", "h2", "r1", cpus=0.1))
        self.assertEqual(self.driver.launched_tasks()[3:], [])
        self.clock.advance(self.wait)
        self.offers(offer("o6", "h2", "r1", cpus=0.1))
        self.assertEqual(self.driver.launched_tasks()[3:], [("o6", "job-2.c.0")])


class PlacementTests(SchedulerTestCase):
    """
    Which of several waiting tasks an offer goes to, and how many.
    """

    def test_best_placed_first_and_only_what_fits(self):
        """
        An offer with room for two tasks takes the two local to it, even
        when others were submitted first.
        """
        self.scheduler.submit(job({"id": "a", "hosts": ["h2"]}, {"id": "b", "hosts": ["h1"]},
                                  {"id": "c", "hosts": ["h1"]}, {"id": "d", "hosts": ["h1"]},
                                  {"id": "e"}))
        self.offers(offer("o1", "h1", cpus=0.25))
        self.assertEqual(self.driver.launched_tasks(),
                         [("o1", "job-1.b.0"), ("o1", "job-1.c.0")])
        self.assertEqual([t.spec.id for t in self.scheduler.pending], ["a", "d", "e"])

    def test_no_wait_takes_the_first_offer(self):
        """
        With no locality wait a task runs on whatever is offered first.
        """
        scheduler = BatchScheduler(self.clock, 0)
        scheduler.submit(job({"id": "t", "hosts": ["h1"], "racks": ["r1"]}))
        scheduler.resourceOffers(self.driver, [offer("o1", "h9", "r9")])
        self.assertEqual(self.driver.launched_tasks(), [("o1", "job-1.t.0")])

    def test_too_small_offer_filtered_for_the_default(self):
        """
        An offer no waiting task fits in is declined with Mesos's default
        filter when no task's level is about to change.
        """
        self.scheduler.submit(job({"id": "t", "cpus": 2}))
        self.offers(offer("o1", "h1", cpus=1))
        self.assertEqual(self.driver.declined,
                         [("o1", mesos_pb2.Filters(refuse_seconds=DEFAULT_REFUSE_SECONDS))])

    def test_idle_declines_long_and_new_tasks_revive(self):
        """
        With nothing to run offers are declined with a long filter; a new
        job revives offers.
        """
        self.offers(offer("o1", "h1"))
        self.assertEqual(self.driver.declined,
                         [("o1", mesos_pb2.Filters(refuse_seconds=IDLE_REFUSE_SECONDS))])
        self.assertEqual(self.driver.revived, 0)
        self.scheduler.submit(job({"id": "t"}))
        self.assertEqual(self.driver.revived, 1)


class RetryTests(SchedulerTestCase):
    """
    A failed task runs again on another host, up to its retry limit.
    """

    def setUp(self):
        super().setUp()
        self.job = self.scheduler.submit(job({"id": "t", "max_retries": 1}))
        self.offers(offer("o1", "h1"))
        self.status("job-1.t.0", "TASK_RUNNING")

    def test_retried_elsewhere(self):
        """
        After a failure the task waits again (offers revived), declines its
        failed host and runs on another; its success ends the job.
        """
        self.clock.advance(2)
        self.status("job-1.t.0", "TASK_FAILED", "exit 1")
        self.assertEqual(self.driver.revived, 2)
        self.assertEqual(self.job.tasks[0].state, "pending")
        self.offers(offer("o2", "h1"), offer("o3", "h2"))
        self.assertEqual(self.driver.launched_tasks()[1:], [("o3", "job-1.t.1")])
        self.assertEqual(self.driver.declined[-1][0], "o2")
        self.status("job-1.t.1", "TASK_RUNNING")
        self.clock.advance(3)
        self.status("job-1.t.1", "TASK_FINISHED")
        ended = self.successResultOf(self.job.ended)
        report = ended.report(self.clock.seconds())
        self.assertEqual((report["state"], report["finished"], report["failed"],
                          report["retries"], report["makespan_seconds"]),
                         ("finished", 1, 0, 1, 5.0))
        self.assertEqual(report["tasks"][0]["hosts_tried"], ["h1", "h2"])
        self.assertEqual(report["tasks"][0]["run_seconds"], 3.0)

    def test_fails_after_the_limit(self):
        """
        A task failing more often than its retries allow fails, with the
        last failure's message, and so does its job.
        """
        self.status("job-1.t.0", "TASK_LOST", "slave gone")
        self.offers(offer("o2", "h2"))
        self.status("job-1.t.1", "TASK_FAILED", "exit 3")
        report = self.successResultOf(self.job.ended).report(self.clock.seconds())
        self.assertEqual((report["state"], report["failed"], report["tasks"][0]["message"]),
                         ("failed", 1, "TASK_FAILED on h2: exit 3"))

    def test_only_host_reused(self):
        """
        When the task failed on every host seen, it is tried there again
        rather than waiting for ever.
        """
        self.status("job-1.t.0", "TASK_FAILED")
        self.offers(offer("o2", "h1"))
        self.assertEqual(self.driver.launched_tasks()[1:], [("o2", "job-1.t.1")])

    def test_error_not_retried(self):
        """
        TASK_ERROR (the task is invalid) fails the task at once.
        """
        self.status("job-1.t.0", "TASK_ERROR", "bad resources")
        self.assertEqual(self.job.tasks[0].state, "failed")
        self.assertEqual(self.driver.revived, 1)

    def test_duplicates_and_strays_ignored(self):
        """
        A repeated terminal update changes nothing; an update for a task
        never launched is ignored.
        """
        self.status("job-1.t.0", "TASK_FINISHED")
        self.status("job-1.t.0", "TASK_FAILED")
        self.status("nobody", "TASK_FAILED")
        self.assertEqual((self.job.tasks[0].state, self.job.tasks[0].retries), ("finished", 0))
        self.assertEqual(self.job.state, "finished")


class CancelTests(SchedulerTestCase):
    """
    Cancelling drops waiting tasks and kills launched ones.
    """

    def test_cancel(self):
        """
        The waiting task is cancelled at once, the running one killed; its
        TASK_KILLED ends it cancelled (not retried), and the job too.
        """
        running = self.scheduler.submit(job({"id": "a"}, {"id": "b", "cpus": 5}))
        self.offers(offer("o1", "h1"))
        self.status("job-1.a.0", "TASK_RUNNING")
        self.scheduler.cancel("job-1")
        self.assertEqual(self.driver.killed, ["job-1.a.0"])
        self.assertEqual(running.counts()["cancelled"], 1)
        self.assertNoResult(running.ended)
        self.status("job-1.a.0", "TASK_KILLED")
        self.assertEqual(self.successResultOf(running.ended).state, "cancelled")
        self.assertEqual(self.driver.revived, 1)
        self.assertRaises(KeyError, self.scheduler.cancel, "job-9")

    def test_ended_jobs_bounded(self):
        """
        A long-running instance keeps only the latest ended jobs (and
        their tasks' attempts); running ones stay.
        """
        self.patch(scheduler_module, "MAX_ENDED_JOBS", 2)
        running = self.scheduler.submit(job({"id": "slow", "cpus": 5}))
        for number in range(3):
            ended = self.scheduler.submit(job({"id": "t"}))
            self.offers(offer(f"o{number}", "h1"))
            self.status(f"{ended.id}.t.0", "TASK_FINISHED")
        self.assertEqual(list(self.scheduler.jobs), [running.id, "job-3", "job-4"])
        self.status("job-2.t.0", "TASK_FAILED")
        self.assertEqual(running.state, "running")

    def test_error_fails_everything(self):
        """
        A framework error fails every unfinished task, naming the error.
        """
        running = self.scheduler.submit(job({"id": "a"}))
        self.scheduler.error(self.driver, "framework removed")
        self.assertEqual(running.tasks[0].message, "framework error: framework removed")
        self.assertEqual(self.successResultOf(running.ended).state, "failed")
