"""
twistd plugins: ``twistd mesos-master``, ``twistd mesos-slave`` and
``twistd mesos-local``.
"""

from twisted.application.service import ServiceMaker

mesos_master = ServiceMaker(
    "Mesos master", "mesos_tw.master.tap", "A Mesos master (mesos_tw).", "mesos-master")
mesos_slave = ServiceMaker(
    "Mesos slave", "mesos_tw.slave.tap", "A Mesos slave (mesos_tw).", "mesos-slave")
mesos_local = ServiceMaker(
    "Mesos local cluster", "mesos_tw.local", "A Mesos master and N slaves in one process.",
    "mesos-local")
