"""
mesos_tw: Apache Mesos, the cluster manager, rebuilt in Python on Twisted.

Masters and slaves are ``twistd`` services (``twistd mesos-master``,
``twistd mesos-slave``, ``twistd mesos-local``); frameworks subclass
:class:`mesos_tw.interface.Scheduler` and :class:`mesos_tw.interface.Executor`
and drive them with :mod:`mesos_tw.native`.
"""

__version__ = "0.1.0"
