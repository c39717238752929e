"""
The drivers that connect a framework's L{Scheduler} and L{Executor} to the
cluster, in the shape of Mesos's C{mesos.native} Python module.

Classic use (blocking, from plain threads)::

    driver = MesosSchedulerDriver(MyScheduler(), framework_info, "127.0.0.1:5050")
    status = driver.run()

Twisted use (no threads): pass C{reactor=reactor} and wait on
C{driver.stopped}.
"""

from mesos_tw.driver.executor import MesosExecutorDriver
from mesos_tw.driver.scheduler import MesosSchedulerDriver

__all__ = ["MesosExecutorDriver", "MesosSchedulerDriver"]
