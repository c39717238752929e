"""
What C{mesos-batch} shows: progress while a job runs (a bar redrawn in
place on a terminal, a line per change, at most one a second, elsewhere)
and the final report as text.
"""

__all__ = ["Progress", "progress_line", "text_report"]

BAR_WIDTH = 30


def progress_line(job, bar):
    """
    One line of a job's counts, with a bar of finished tasks if C{bar}.
    """
    counts = job.counts()
    total = len(job.tasks)
    done = counts["finished"] + counts["failed"] + counts["cancelled"]
    text = (f"{job.spec.name}: {counts['finished']}/{total} finished, "
            f"{counts['running']} running, {counts['staging']} staged, "
            f"{counts['pending']} waiting, {counts['failed']} failed")
    if counts["cancelled"]:
        text += f", {counts['cancelled']} cancelled"
    if not bar:
        return text
    filled = BAR_WIDTH * done // total
    return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {text}"


class Progress:
    """
    Shows jobs' progress on C{stream}.

    @param clock: gives the time and delays the lines held back (a line per
        change would flood a log for a big job).
    @param terminal: redraw one line with a bar (C{stream.isatty()}).
    """

    def __init__(self, stream, clock, terminal, interval=1.0):
        self.stream = stream
        self.clock = clock
        self.terminal = terminal
        self.interval = interval
        self._last = None
        self._shown = {}
        self._held = {}

    def __call__(self, job):
        """
        The job changed: show it (on a terminal at once; elsewhere at most
        one line per C{interval}, the latest counts once it has passed, and
        the last line as soon as the job ends).
        """
        line = progress_line(job, self.terminal)
        if line == self._shown.get(job.id):
            return
        if self.terminal:
            # Back to the line's start, and clear what a longer line left.
            self._write(job, "\r" + line + "\x1b[K" + ("\n" if job.done else ""), line)
            return
        wait = 0.0
        if not job.done and self._last is not None:
            wait = self._last + self.interval - self.clock.seconds()
        if wait <= 0:
            self._write(job, line + "\n", line)
        elif job.id not in self._held:
            self._held[job.id] = self.clock.callLater(wait, self._release, job)

    def _release(self, job):
        del self._held[job.id]
        line = progress_line(job, self.terminal)
        if line != self._shown.get(job.id):
            self._write(job, line + "\n", line)

    def _write(self, job, text, line):
        held = self._held.pop(job.id, None)
        if held is not None and held.active():
            held.cancel()
        self.stream.write(text)
        self.stream.flush()
        self._last, self._shown[job.id] = self.clock.seconds(), line


def _seconds(value):
    return "-" if value is None else f"{value:.1f} s"


def text_report(report):
    """
    A job's report (L{JobRun.report <mesos_tw.batch.run.JobRun.report>})
    as text: the totals, the locality achieved, and a table of tasks.
    """
    locality = report["locality"]
    lines = [
        f"job {report['name']} ({report['id']}): {report['state']}; "
        f"{len(report['tasks'])} tasks, {report['finished']} finished, "
        f"{report['failed']} failed, {report['cancelled']} cancelled, "
        f"{report['retries']} retries; makespan {report['makespan_seconds']:.1f} s",
        "locality: " + ", ".join(f"{level} {fraction:.0%}" for level, fraction in locality.items()),
        "task | state | host | locality | attempts | waited | ran | message",
    ]
    for task in report["tasks"]:
        lines.append(" | ".join([
            task["id"], task["state"], task["host"] or "-", task["locality"] or "-",
            str(task["attempts"]), _seconds(task["wait_seconds"]),
            _seconds(task["run_seconds"]), task["message"]]).rstrip())
    return "\n".join(lines) + "\n"
