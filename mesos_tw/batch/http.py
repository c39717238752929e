"""
The small HTTP API of a running C{mesos-batch} instance (started with
C{--listen}): submit a job, follow it, cancel it.

| method and path | what |
|---|---|
| C{POST /jobs} | body: a job (C{JOB.json}); 201 with C{{"id": ...}}, 400 saying what is wrong |
| C{GET /jobs} | C{{"jobs": [...]}}: every job's report without its task lines |
| C{GET /jobs/<id>} | the job's report (final once its C{state} is not C{running}) |
| C{DELETE /jobs/<id>}, C{POST /jobs/<id>/cancel} | cancel it; its report |

Errors are JSON too: C{{"error": "..."}} with a 400, 404 or 413.
"""

import json

from klein import Klein

from mesos_tw.batch.job import JobError, parse_job

__all__ = ["BatchHTTP", "MAX_JOB_BYTES"]

#: The largest job body accepted.
MAX_JOB_BYTES = 4 * 1024 * 1024


def _json(request, value, code=200):
    request.setResponseCode(code)
    request.setHeader(b"Content-Type", b"application/json")
    return (json.dumps(value, indent=1) + "\n").encode("utf-8")


class BatchHTTP:
    """
    The API of one L{BatchScheduler <mesos_tw.batch.scheduler.BatchScheduler>}.

    @param clock: the time the reports are made at.
    """

    app = Klein()

    def __init__(self, scheduler, clock):
        self.scheduler = scheduler
        self.clock = clock

    def resource(self):
        """
        The twisted.web resource serving the API.
        """
        return self.app.resource()

    def _job(self, request, job_id):
        job = self.scheduler.jobs.get(job_id)
        if job is None:
            return None, _json(request, {"error": f"no job {job_id!r}"}, 404)
        return job, None

    @app.route("/jobs", methods=["POST"])
    def submit(self, request):
        """
        Submit the job in the body.
        """
        body = request.content.read(MAX_JOB_BYTES + 1)
        if len(body) > MAX_JOB_BYTES:
            return _json(request, {"error": f"a job may have at most {MAX_JOB_BYTES} bytes"}, 413)
        try:
            spec = parse_job(body)
        except JobError as error:
            return _json(request, {"error": str(error)}, 400)
        job = self.scheduler.submit(spec)
        request.setHeader(b"Location", f"/jobs/{job.id}".encode("utf-8"))
        return _json(request, {"id": job.id}, 201)

    @app.route("/jobs", methods=["GET"])
    def jobs(self, request):
        """
        Every job's report, without the task lines.
        """
        now = self.clock.seconds()
        summaries = []
        for job in self.scheduler.jobs.values():
            report = job.report(now)
            report["tasks"] = len(report["tasks"])
            summaries.append(report)
        return _json(request, {"jobs": summaries})

    @app.route("/jobs/<job_id>", methods=["GET"])
    def status(self, request, job_id):
        """
        One job's report.
        """
        job, error = self._job(request, job_id)
        return error or _json(request, job.report(self.clock.seconds()))

    @app.route("/jobs/<job_id>", methods=["DELETE"])
    @app.route("/jobs/<job_id>/cancel", methods=["POST"])
    def cancel(self, request, job_id):
        """
        Cancel a job.
        """
        job, error = self._job(request, job_id)
        if error:
            return error
        self.scheduler.cancel(job_id)
        return _json(request, job.report(self.clock.seconds()))
