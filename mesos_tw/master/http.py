"""
The master's HTTP endpoints, served on its message port, with Mesos's paths
and field names: health, the full state, the summary, frameworks, slaves,
tasks, flags, the redirect to the leader, and the metrics snapshot; the
operator's endpoints (C{/api/v1}, C{/master/teardown}, C{/master/roles},
C{/master/weights}, maintenance; C{docs/operations.md}); and the web
UI's dashboard at C{/} and its other pages under C{/ui/}
(L{mesos_tw.master.ui}, C{docs/web-ui.md}).  As in Mesos, whose master is
the root's delegate, each C{/master/<name>} endpoint is also served at
C{/<name>}, and a trailing slash does not matter.

Only the leading master serves the cluster's state.  A standby answers
those paths with a 307 to the same path on the leader, or a 503 while no
leader is known; it serves its own health, flags and metrics itself.
"""

import json

from klein import Klein
from twisted.web.static import File

from mesos_tw import __version__
from mesos_tw.authorization.checks import approved_or_forbidden, read_view

from mesos_tw.master._leading import leader_only
from mesos_tw.master.operator_api import teardown, update_weights
from mesos_tw.master.operator_views import get_roles, get_weights
from mesos_tw.master.ui import MasterUI
from mesos_tw.master.views import (
    frameworks_document, held_by_framework, metrics_snapshot, slaves_document, state_document,
    state_summary, task_list)
from mesos_tw.protocols.maintenance_pb2 import Schedule
from mesos_tw.protocols.mesos_pb2 import MachineID, WeightInfo
from mesos_tw.resources import Resources
from mesos_tw.slave.files import SandboxFiles
from mesos_tw.web.authentication import principal_of
from mesos_tw.web.dashboard import STATIC, DashboardElement
from mesos_tw.web.files import FilesAPI
from mesos_tw.web.history import UtilizationHistory
from mesos_tw.web.json import BadRequest, int_argument, json_response, stream_json, text_error
from mesos_tw.web.layout import Page
from mesos_tw.web.prometheus import CONTENT_TYPE as PROMETHEUS, prometheus_text
from mesos_tw.web.v1 import CallError, from_v1, to_v1

__all__ = ["MasterHTTP"]


def _json_body(request, parse):
    """
    C{parse} of the request's JSON body.

    @raise BadRequest: saying what is wrong with it.
    """
    try:
        return parse(json.loads(request.content.read()))
    except (ValueError, CallError) as error:
        raise BadRequest(str(error)) from None


def _machine_ids(request):
    """
    The body's JSON array of C{MachineID}s.
    """
    def parse(value):
        if not isinstance(value, list):
            raise CallError("the body must be a JSON array of machine ids")
        return [from_v1(MachineID, item, f"machine {index}") for index, item in enumerate(value)]
    return _json_body(request, parse)


def _operator_call(call, *args):
    """
    C{call(*args)}, its L{CallError} a L{BadRequest}.
    """
    try:
        return call(*args)
    except CallError as error:
        raise BadRequest(str(error)) from None


def _text_argument(request, name):
    """
    The query argument C{name} as text, or L{None} when absent.
    """
    raw = request.args.get(name.encode("ascii"), [None])[0]
    return None if raw is None else raw.decode("utf-8", "replace")


class MasterHTTP:
    """
    The master's Klein app.

    @param leadership: an L{ILeadership}: who leads, and our L{Master}
        while we do (L{mesos_tw.master.election.SoleMaster} wraps a lone
        master).
    @param flags: C{{"flags": {...}}} for C{/master/flags}.
    @param slave_http: the treq-like client the UI reads slaves' own
        endpoints with (their executors and sandboxes); by default one on
        the leading master's reactor.
    @param scheduler_api: the L{mesos_tw.master.scheduler_api.SchedulerAPI}
        serving C{/api/v1/scheduler}, if enabled.
    @param operator_api: the L{mesos_tw.master.operator_api.MasterOperatorAPI}
        serving C{/api/v1}, if enabled.
    @param log_file: the master's log file (C{--log_dir}), served as
        C{/master/log} through the files API.
    @param reactor: sends downloads of the log file.
    @param authorizer: the L{IAuthorizer} deciding what each principal may
        read and do here (C{--acls}), or L{None} for everything.
    @param tls: the master's L{mesos_tw.protocols.tls.TLSConfig} (kept for
        what reads other nodes' endpoints).
    """

    app = Klein()
    # libprocess routes /master/frameworks/ to /master/frameworks.
    app.url_map.strict_slashes = False

    def __init__(self, leadership, flags=None, slave_http=None, scheduler_api=None,
                 operator_api=None, log_file=None, reactor=None, authorizer=None, tls=None):
        self.leadership = leadership
        self.authorizer = authorizer
        self.tls = tls
        self._files_api = FilesAPI(SandboxFiles(
            None, attached={"/master/log": log_file} if log_file is not None else None), reactor,
            access=self._logs_access)
        self.flags = flags or {"flags": {}}
        self._ui = MasterUI(leadership, slave_http, authorizer, tls)
        self.scheduler_api = scheduler_api
        self.operator_api = operator_api
        self._history = UtilizationHistory()
        self._history_term = None

    def _approved(self, request, action, obj, then):
        """
        C{then()} if the request's principal may do C{action} to C{obj},
        else a 403 (L{approved_or_forbidden}).
        """
        return approved_or_forbidden(self.authorizer, request, action, obj, then)

    def _logs_access(self, request, then):
        """
        C{then()} if the caller may read the master's log
        (C{access_mesos_logs}), else a 403.
        """
        return self._approved(request, "access_mesos_logs", None, then)

    def _metrics(self, master, held=None):
        """
        The metrics snapshot, also sampled into the utilization history
        (which starts afresh with each term of leadership).
        """
        metrics = metrics_snapshot(master, held)
        if self._history_term is not master:
            self._history, self._history_term = UtilizationHistory(), master
        self._history.record(master.reactor.seconds(), metrics)
        return metrics

    @app.route("/", methods=["GET"])
    @leader_only
    def dashboard(self, request, master):
        """
        The web UI's dashboard.
        """
        held = held_by_framework(master.slaves.values())
        metrics = self._metrics(master, held)
        return read_view(self.authorizer, principal_of(request)).addCallback(
            lambda view: Page(master, "Dashboard",
                              DashboardElement(master, metrics, self._history, held, view)))

    @app.route("/ui/", branch=True)
    def ui(self, request):
        """
        The UI's pages other than the dashboard (L{mesos_tw.master.ui}).
        """
        return self._ui.resource()

    @app.route("/files/", branch=True)
    def files_api(self, request):
        """
        Mesos's files API: the master's log as C{/master/log} with
        C{--log_dir} (L{mesos_tw.web.files}), on any master.
        """
        return self._files_api.resource()

    @app.route("/static/", branch=True)
    def static(self, request):
        """
        The UI's styles and scripts, served locally.
        """
        return File(STATIC.path)

    @app.route("/version", methods=["GET"])
    def version(self, request):
        """
        The version, as Mesos's C{/version} gives it (clients such as
        pymesos read it).
        """
        return json_response(request, {"version": __version__, "build_user": "mesos_tw"})

    @app.route("/health", methods=["GET", "HEAD"])
    @app.route("/master/health", methods=["GET", "HEAD"])
    def health(self, request):
        """
        200 while the master runs.
        """
        return b""

    @app.route("/master/state", methods=["GET"])
    @app.route("/master/state.json", methods=["GET"])
    @app.route("/state", methods=["GET"])
    @leader_only
    def state(self, request, master):
        """
        The cluster state (frameworks, slaves, tasks, offers) as JSON,
        written a few hundred records per turn of the reactor so that a
        large cluster's state does not stop the master.
        """
        return read_view(self.authorizer, principal_of(request)).addCallback(
            lambda view: stream_json(request, state_document(master, self.flags["flags"], view),
                                     master.reactor))

    @app.route("/master/state-summary", methods=["GET"])
    @app.route("/state-summary", methods=["GET"])
    @leader_only
    def summary(self, request, master):
        """
        Slaves and frameworks with task counts, without task lists.
        """
        return read_view(self.authorizer, principal_of(request)).addCallback(
            lambda view: stream_json(request, state_summary(master, view), master.reactor))

    @app.route("/master/frameworks", methods=["GET"])
    @app.route("/frameworks", methods=["GET"])
    @leader_only
    def frameworks(self, request, master):
        """
        Frameworks, active and completed (streamed as the state is); only
        the one C{?framework_id=} names, if given, as in Mesos.
        """
        framework_id = _text_argument(request, "framework_id")
        return read_view(self.authorizer, principal_of(request)).addCallback(
            lambda view: stream_json(request, frameworks_document(
                master, framework_id, view=view), master.reactor))

    @app.route("/master/slaves", methods=["GET"])
    @app.route("/slaves", methods=["GET"])
    @leader_only
    def slaves(self, request, master):
        """
        Registered slaves (streamed as the state is); only the one
        C{?slave_id=} names, if given, as in Mesos.
        """
        return stream_json(request, slaves_document(
            master, _text_argument(request, "slave_id")), master.reactor)

    @app.route("/master/tasks", methods=["GET"])
    @app.route("/master/tasks.json", methods=["GET"])
    @app.route("/tasks", methods=["GET"])
    @leader_only
    def tasks(self, request, master):
        """
        Tasks, newest first, as Mesos's C{/tasks}: C{limit} (100; a
        negative one, C{-1} as Mesos's clients send, means all), C{offset}
        (0), C{order} (C{des} or C{asc}), and the C{framework_id} and
        C{task_id} filters.
        """
        limit = int_argument(request, "limit", 100, minimum=None)
        offset = int_argument(request, "offset", 0)
        order = request.args.get(b"order", [b"des"])[0].decode("utf-8", "replace")
        if order not in ("asc", "des"):
            return text_error(request, 400, "order must be asc or des")
        framework_id = _text_argument(request, "framework_id")
        task_id = _text_argument(request, "task_id")
        return read_view(self.authorizer, principal_of(request)).addCallback(
            lambda view: json_response(request, task_list(
                master, None if limit < 0 else limit, offset, order,
                framework_id=framework_id, task_id=task_id, view=view)))

    @app.route("/master/flags", methods=["GET"])
    @app.route("/flags", methods=["GET"])
    def flags_endpoint(self, request):
        """
        The flags the master runs with (403 unless C{view_flags} allows
        the caller).
        """
        return self._approved(request, "view_flags", None,
                              lambda: json_response(request, self.flags))

    @app.route("/master/redirect", methods=["GET"])
    @app.route("/redirect", methods=["GET"])
    def redirect(self, request):
        """
        307 to the leading master, as Mesos answers it: a protocol-relative
        C{//host:port} (its hostname when we lead, else its address), to
        which scripts append the path they want; 503 while none is known.
        """
        leadership = self.leadership
        pid = leadership.leader
        if pid is None:
            return text_error(request, 503, "no leading master is elected")
        host = pid.host
        if leadership.elected and leadership.master is not None:
            host = leadership.master.info.hostname or host
        request.setResponseCode(307)
        request.setHeader(b"Location", f"//{host}:{pid.port}".encode())
        return b""

    @app.route("/metrics/snapshot", methods=["GET"])
    def metrics(self, request):
        """
        Mesos's master metrics, flat; a standby reports C{master/elected}
        0 and nothing of the cluster.
        """
        leadership = self.leadership

        def snapshot():
            if not leadership.elected or leadership.master is None:
                return json_response(request, {"master/elected": 0})
            return json_response(request, self._metrics(leadership.master))

        return self._approved(request, "get_endpoints", "/metrics/snapshot", snapshot)

    @app.route("/metrics/prometheus", methods=["GET"])
    def prometheus(self, request):
        """
        The metrics snapshot in Prometheus's text format
        (L{mesos_tw.web.prometheus}); a standby's says C{master/elected} 0.
        """
        leadership = self.leadership
        metrics = {"master/elected": 0}
        if leadership.elected and leadership.master is not None:
            metrics = self._metrics(leadership.master)
        request.setHeader(b"Content-Type", PROMETHEUS)
        return prometheus_text(metrics)

    @app.route("/api/v1/scheduler", methods=["POST"])
    def scheduler_v1(self, request):
        """
        Mesos's v1 HTTP scheduler API (L{mesos_tw.master.scheduler_api}).
        """
        if self.scheduler_api is None:
            return text_error(request, 404, "the v1 scheduler API is not enabled here")
        return self.scheduler_api.handle(request)

    @app.route("/api/v1", methods=["POST"])
    @app.route("/master/api/v1", methods=["POST"])
    def operator_v1(self, request):
        """
        Mesos's v1 operator API (L{mesos_tw.master.operator_api}).
        """
        if self.operator_api is None:
            return text_error(request, 404, "the v1 operator API is not enabled here")
        return self.operator_api.handle(request)

    @app.route("/master/teardown", methods=["POST"])
    @app.route("/teardown", methods=["POST"])
    @leader_only
    def teardown(self, request, master):
        """
        Mesos's C{/master/teardown}: remove the framework C{frameworkId}
        (a form field or query argument; its scheduler hears that it was
        removed), killing its tasks; 400 without one or for an unknown
        one, 403 when the ACLs do not let the principal tear it down.
        """
        framework_id = request.args.get(b"frameworkId", [b""])[0].decode("utf-8", "replace")
        if not framework_id:
            raise BadRequest("Missing 'frameworkId' query parameter in the request body")
        framework = master.frameworks.get(framework_id)
        if framework is None:
            raise BadRequest("No framework found with specified ID")

        def remove():
            teardown(master, framework_id)
            return b""

        return self._approved(request, "teardown_frameworks",
                              framework.info.principal or None, remove)

    @app.route("/master/roles", methods=["GET"])
    @app.route("/master/roles.json", methods=["GET"])
    @app.route("/roles", methods=["GET"])
    @leader_only
    def roles(self, request, master):
        """
        Mesos's C{/master/roles}: each role's weight, frameworks and what
        they hold.
        """
        return json_response(request, {"roles": [
            {"name": role.name, "weight": role.weight,
             "frameworks": [f.value for f in role.frameworks],
             "resources": Resources.from_protobuf(role.resources).to_json()}
            for role in get_roles(master).roles]})

    @app.route("/master/weights", methods=["GET"])
    @app.route("/weights", methods=["GET"])
    @leader_only
    def weights(self, request, master):
        """
        Mesos's C{/master/weights}: C{[{"role", "weight"}]}.
        """
        return json_response(request, [to_v1(info) for info in get_weights(master).weight_infos])

    @app.route("/master/weights", methods=["PUT"])
    @app.route("/weights", methods=["PUT"])
    @leader_only
    def update_weights(self, request, master):
        """
        Mesos's C{PUT /master/weights}: a JSON array of C{{"role", "weight"}}.
        """
        try:
            infos = json.loads(request.content.read())
            if not isinstance(infos, list):
                raise ValueError("expected a JSON array")
            parsed = [from_v1(WeightInfo, info, f"weights[{index}]")
                      for index, info in enumerate(infos)]
            update_weights(master, {info.role: info.weight for info in parsed})
        except (ValueError, CallError) as error:
            raise BadRequest(f"bad weights: {error}") from None
        return b""

    @app.route("/master/maintenance/schedule", methods=["GET"])
    @app.route("/maintenance/schedule", methods=["GET"])
    @leader_only
    def maintenance_schedule(self, request, master):
        """
        Mesos's C{/master/maintenance/schedule}: the schedule's JSON.
        """
        return json_response(request, to_v1(master.maintenance.schedule))

    @app.route("/master/maintenance/schedule", methods=["POST"])
    @app.route("/maintenance/schedule", methods=["POST"])
    @leader_only
    def update_maintenance_schedule(self, request, master):
        """
        Replace the schedule with the body's (Mesos's C{Schedule} JSON).
        """
        schedule = _json_body(request, lambda value: from_v1(Schedule, value, "the schedule"))
        _operator_call(master.maintenance.update_schedule, schedule)
        return b""

    @app.route("/master/maintenance/status", methods=["GET"])
    @app.route("/maintenance/status", methods=["GET"])
    @leader_only
    def maintenance_status(self, request, master):
        """
        Mesos's C{/master/maintenance/status}: DRAINING machines with the
        frameworks' answers, DOWN machines.
        """
        return json_response(request, to_v1(master.maintenance.status()))

    @app.route("/master/machine/down", methods=["POST"])
    @app.route("/machine/down", methods=["POST"])
    @leader_only
    def machines_down(self, request, master):
        """
        Mesos's C{/master/machine/down}: a JSON array of machine ids.
        """
        _operator_call(master.maintenance.start_maintenance, _machine_ids(request))
        return b""

    @app.route("/master/machine/up", methods=["POST"])
    @app.route("/machine/up", methods=["POST"])
    @leader_only
    def machines_up(self, request, master):
        """
        Mesos's C{/master/machine/up}: a JSON array of machine ids.
        """
        _operator_call(master.maintenance.stop_maintenance, _machine_ids(request))
        return b""

    def resource(self):
        """
        The app as a Twisted web resource.
        """
        return self.app.resource()
