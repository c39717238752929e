"""
The slave's HTTP endpoints, served on its message port, with Mesos's paths
and field names: health, state (C{/slave(1)/state}, also C{.json} and
C{/state}), flags, resource usage (C{/monitor/statistics}), the metrics
snapshot, the sandbox files API, Mesos's v1 HTTP executor API
(C{/api/v1/executor}, L{mesos_tw.slave.executor_api}) and its v1 operator
API (C{/api/v1}, L{mesos_tw.slave.operator_api}).  As in Mesos, whose
slave process is the root's delegate, each C{/slave(1)/<name>} endpoint is
also served at C{/<name>}, and a trailing slash does not matter.
"""

from klein import Klein

from mesos_tw.authorization.checks import approved_or_forbidden, sandbox_access
from mesos_tw.protocols.network import MessageNode
from mesos_tw.slave.executor_api import ExecutorAPI
from mesos_tw.slave.files import SandboxFiles
from mesos_tw.slave.metrics import metrics_snapshot
from mesos_tw.slave.operator_api import SlaveOperatorAPI
from mesos_tw.web.files import FilesAPI
from mesos_tw.web.json import json_response
from mesos_tw.web.prometheus import CONTENT_TYPE as PROMETHEUS, prometheus_text

__all__ = ["SlaveHTTP", "resource_statistics_json", "statistics_json"]


class SlaveHTTP:
    """
    The slave's Klein app.

    @param flags: C{{"flags": {...}}} for C{/slave(1)/flags}.
    @param executor_api: the L{ExecutorAPI} behind C{/api/v1/executor};
        by default one whose subscriptions connect to the slave over TCP.
    @param log_file: the slave's log file (C{--log_dir}), served as
        C{/slave/log} through the files API.
    @param authorizer: the L{IAuthorizer} deciding who may read the
        sandboxes, the log, the flags and the statistics (C{--acls}), or
        L{None}.
    """

    app = Klein()
    # libprocess routes /slave(1)/state/ to /slave(1)/state.
    app.url_map.strict_slashes = False

    def __init__(self, slave, flags=None, executor_api=None, log_file=None, authorizer=None):
        self.slave = slave
        self.authorizer = authorizer
        self.flags = flags or {"flags": {}}
        self.files = SandboxFiles(
            slave.work_dir, slave.gc.was_collected,
            {"/slave/log": log_file} if log_file is not None else None)
        self._files_api = FilesAPI(self.files, slave.reactor, access=self._sandbox)
        if executor_api is None:
            executor_api = ExecutorAPI(slave.reactor, slave, lambda upid: MessageNode(
                slave.reactor, upid, None, slave.node.max_frame_bytes,
                tls=getattr(slave.node, "tls", None)))
        self.executor_api = executor_api
        self.operator_api = SlaveOperatorAPI(slave, self.flags, self.files)

    @app.route("/health", methods=["GET", "HEAD"])
    @app.route("/slave(1)/health", methods=["GET", "HEAD"])
    def health(self, request):
        """
        200 while the slave runs.
        """
        return b""

    @app.route("/slave(1)/state", methods=["GET"])
    @app.route("/slave(1)/state.json", methods=["GET"])
    @app.route("/state", methods=["GET"])
    def state(self, request):
        """
        The slave's frameworks, executors and tasks as JSON.
        """
        return json_response(request, self.slave.state())

    @app.route("/slave(1)/flags", methods=["GET"])
    @app.route("/flags", methods=["GET"])
    def flags_endpoint(self, request):
        """
        The flags the slave runs with (C{view_flags}).
        """
        return self._approved(request, "view_flags", None,
                              lambda: json_response(request, self.flags))

    @app.route("/monitor/statistics", methods=["GET"])
    @app.route("/monitor/statistics.json", methods=["GET"])
    def statistics(self, request):
        """
        Each running executor's latest resource usage, as the slave's
        resource monitor last sampled it (Mesos's list of
        C{{framework_id, executor_id, executor_name, source, statistics}}).
        """
        return self._approved(
            request, "get_endpoints", "/monitor/statistics",
            lambda: json_response(request, statistics_json(self.slave.monitor.samples())))

    @app.route("/metrics/snapshot", methods=["GET"])
    def metrics(self, request):
        """
        Mesos's slave metrics, flat.
        """
        return json_response(request, metrics_snapshot(self.slave))

    @app.route("/metrics/prometheus", methods=["GET"])
    def prometheus(self, request):
        """
        The metrics snapshot in Prometheus's text format
        (L{mesos_tw.web.prometheus}).
        """
        request.setHeader(b"Content-Type", PROMETHEUS)
        return prometheus_text(metrics_snapshot(self.slave))

    @app.route("/files/", branch=True)
    def files_api(self, request):
        """
        Mesos's files API: the sandboxes, and C{/slave/log} with
        C{--log_dir} (L{mesos_tw.web.files}).
        """
        return self._files_api.resource()

    @app.route("/api/v1", methods=["POST"])
    @app.route("/slave(1)/api/v1", methods=["POST"])
    def operator_v1(self, request):
        """
        Mesos's v1 operator API on the slave (L{mesos_tw.slave.operator_api}).
        """
        return self.operator_api.answer(request)

    @app.route("/api/v1/executor", methods=["POST"])
    @app.route("/slave(1)/api/v1/executor", methods=["POST"])
    def executor_v1(self, request):
        """
        Mesos's v1 HTTP executor API (L{mesos_tw.slave.executor_api}).
        """
        return self.executor_api.handle(request)

    def _approved(self, request, action, obj, then):
        """
        C{then()} if the request's principal may do C{action} to C{obj},
        else a 403 (L{approved_or_forbidden}).
        """
        return approved_or_forbidden(self.authorizer, request, action, obj, then)

    def _sandbox(self, request, then):
        """
        C{then()} if the caller may read what the C{path} argument names
        (L{sandbox_access}).
        """
        return sandbox_access(self.authorizer, request, self.slave, then)

    def resource(self):
        """
        The app as a Twisted web resource.
        """
        return self.app.resource()


def statistics_json(samples):
    """
    The C{/monitor/statistics} JSON of the monitor's C{samples}, ordered by
    framework and executor id; a statistic the isolator does not report is
    absent.
    """
    entries = []
    for sample in sorted(samples, key=lambda s: (s.framework_id, s.executor_id)):
        entries.append({
            "framework_id": sample.framework_id,
            "executor_id": sample.executor_id,
            "executor_name": sample.executor_info.name,
            "source": sample.executor_info.source,
            "statistics": resource_statistics_json(sample.statistics),
        })
    return entries


def resource_statistics_json(statistics):
    """
    A C{ResourceStatistics} as Mesos's JSON object: its fields that are set.
    """
    return {field.name: value for field, value in statistics.ListFields()}
