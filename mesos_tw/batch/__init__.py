"""
A data-local batch framework (``mesos-batch``): jobs of shell-command tasks
placed near their input by delay scheduling, retried on other hosts,
followed while they run and reported when they end.

- L{mesos_tw.batch.job}: the job file (C{JOB.json}) and its checks.
- L{mesos_tw.batch.locality}: delay scheduling's levels and waits.
- L{mesos_tw.batch.run}: a running job's tasks, attempts and report.
- L{mesos_tw.batch.scheduler}: the framework's scheduler.
- L{mesos_tw.batch.report}: progress while it runs, the final report.
- L{mesos_tw.batch.http}: the small HTTP API of a running instance.
- L{mesos_tw.batch.script}: the ``mesos-batch`` command.
"""
