"""
twistd plugins: ``twistd mesos-master``, ``twistd mesos-slave`` and
``twistd mesos-local`` and ``twistd mesos-services``.
"""

from twisted.application.service import ServiceMaker

mesos_master = ServiceMaker(
    "Mesos master", "mesos_tw.master.tap", "A Mesos master (mesos_tw).", "mesos-master")
mesos_slave = ServiceMaker(
    "Mesos slave", "mesos_tw.slave.tap", "A Mesos slave (mesos_tw).", "mesos-slave")
mesos_services = ServiceMaker(
    "Mesos services", "mesos_tw.services.tap",
    "A framework keeping services running, with Marathon's REST API (mesos_tw).",
    "mesos-services")
mesos_local = ServiceMaker(
    "Mesos local cluster", "mesos_tw.local", "A Mesos master and N slaves in one process.",
    "mesos-local")
