"""
The master's HTTP endpoints, served on its message port, with Mesos's paths
and field names: health, the full state, the summary, frameworks, slaves,
tasks, flags, the redirect to the leader, and the metrics snapshot; the
operator's endpoints (C{/api/v1}, C{/master/teardown}, C{/master/roles},
C{/master/weights}, maintenance; C{docs/operations.md}); and the web
UI's dashboard at C{/} and its pages under C{/ui/} (see C{docs/web-ui.md}).  As in Mesos, whose master is the root's delegate,
each C{/master/<name>} endpoint is also served at C{/<name>}, and a
trailing slash does not matter.

Only the leading master serves the cluster's state.  A standby answers
those paths with a 307 to the same path on the leader, or a 503 while no
leader is known; it serves its own health, flags and metrics itself.
"""

import json
from functools import wraps

from klein import Klein
from twisted.internet.defer import Deferred
from twisted.web.static import File
from twisted.web.template import Element

from mesos_tw import __version__
from mesos_tw.authorization.checks import approved_or_forbidden, read_view, sandbox_of

from mesos_tw.master.operator_api import teardown as operator_teardown
from mesos_tw.master.operator_api import update_weights
from mesos_tw.master.operator_views import get_roles, get_weights
from mesos_tw.master.views import (
    frameworks_document, held_by_framework, metrics_snapshot, slaves_document, state_document,
    state_summary, task_list)
from mesos_tw.protocols.maintenance_pb2 import Schedule
from mesos_tw.protocols.mesos_pb2 import MachineID, WeightInfo
from mesos_tw.resources import Resources
from mesos_tw.slave.files import SandboxFiles
from mesos_tw.web.agents import SlaveClient, SlaveUnavailable
from mesos_tw.web.authentication import principal_of
from mesos_tw.web.dashboard import STATIC, DashboardElement, FrameworkElement
from mesos_tw.web.files import FilesAPI
from mesos_tw.web.history import UtilizationHistory
from mesos_tw.web.json import BadRequest, int_argument, json_response, stream_json, text_error
from mesos_tw.web.layout import Page, Pager, render_page
from mesos_tw.web.pages import FrameworksElement, OffersElement, SlavesElement
from mesos_tw.web.prometheus import CONTENT_TYPE as PROMETHEUS, prometheus_text
from mesos_tw.web.v1 import CallError, from_v1, to_v1
from mesos_tw.web.slave_pages import (
    BrowseElement, ExecutorElement, SlaveElement, TailElement, find_executor)

__all__ = ["MasterHTTP"]


def _leader_only(route):
    """
    Serve C{route}, given the leading L{Master} after the request, when we
    lead (a L{BadRequest} it raises is a 400); elsewhere redirect to the
    leader.
    """

    @wraps(route)
    def serve(self, request, *args, **kwargs):
        leadership = self.leadership
        if leadership.elected and leadership.master is not None:
            try:
                result = route(self, request, leadership.master, *args, **kwargs)
            except BadRequest as error:
                return text_error(request, 400, str(error))
            if isinstance(result, Deferred):
                return result.addCallback(_html, request)
            return _html(result, request)
        leader = leadership.leader
        if leader is None or leader == leadership.pid:
            request.setHeader(b"Retry-After", b"1")
            return text_error(request, 503, "no leading master is elected; try again shortly")
        request.setResponseCode(307)
        request.setHeader(b"Location", b"%s://%s:%d%s" % (
            b"https" if request.isSecure() else b"http",
            leader.host.encode("ascii"), leader.port, request.uri))
        return b""

    return serve


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


def _html(result, request):
    """
    A page (an L{Element}) as HTML bytes; anything else as it is.
    """
    return render_page(request, result) if isinstance(result, Element) else result


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
    @param authorizer: the L{IAuthorizer} deciding what each principal may
        read and do here (C{--acls}), or L{None} for everything.
    @param tls: the L{TLSConfig} the master reads slaves' endpoints with.
    @param operator_api: the L{mesos_tw.master.operator_api.MasterOperatorAPI}
        serving C{/api/v1}, if enabled.
    @param log_file: the master's log file (C{--log_dir}), served as
        C{/master/log} through the files API.
    @param reactor: sends downloads of the log file.
    """

    app = Klein()
    # libprocess routes /master/frameworks/ to /master/frameworks.
    app.url_map.strict_slashes = False

    def __init__(self, leadership, flags=None, slave_http=None, scheduler_api=None,
                 authorizer=None, operator_api=None, log_file=None, reactor=None,
                 tls=None):
        self.leadership = leadership
        self.authorizer = authorizer
        self.tls = tls
        self._files_api = FilesAPI(SandboxFiles(
            None, attached={"/master/log": log_file} if log_file is not None else None), reactor,
            access=self._logs_access)
        self.flags = flags or {"flags": {}}
        self.slave_http = slave_http
        self.scheduler_api = scheduler_api
        self.operator_api = operator_api
        self._history = UtilizationHistory()
        self._history_term = None

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
        return approved_or_forbidden(self.authorizer, request, "access_mesos_logs", None, then)

    def _sandbox_user(self, master, path):
        """
        The user whose sandbox C{path} is in (its framework's), or L{None}
        for a path in no executor's sandbox or of a framework unknown here.
        """
        found = sandbox_of(path)
        if found is None:
            return None
        record = master.frameworks.get(found[0]) or next(
            (f for f in master.completed_frameworks if f.id == found[0]), None)
        return record.info.user if record is not None else None

    def _slaves(self, master, request):
        return SlaveClient(master.reactor, self.slave_http,
                           authorization=request.getHeader(b"authorization"), tls=self.tls)

    @app.route("/", methods=["GET"])
    @_leader_only
    def dashboard(self, request, master):
        """
        The web UI's dashboard.
        """
        held = held_by_framework(master.slaves.values())
        metrics = self._metrics(master, held)
        return Page(master, "Dashboard",
                    DashboardElement(master, metrics, self._history, held))

    @app.route("/ui/frameworks", methods=["GET"])
    @_leader_only
    def frameworks_page(self, request, master):
        """
        The frameworks, active and completed.
        """
        held = held_by_framework(master.slaves.values())
        return Page(master, "Frameworks",
                    FrameworksElement(master, metrics_snapshot(master, held), held))

    @app.route("/ui/frameworks/<framework_id>", methods=["GET"])
    @_leader_only
    def framework_page(self, request, master, framework_id):
        """
        One framework's page (active or completed), its unfinished tasks a
        page at a time (C{?offset=&limit=}, 100 by default); 404 for an
        unknown id.
        """
        record = master.frameworks.get(framework_id) or next(
            (f for f in master.completed_frameworks if f.id == framework_id), None)
        if record is None:
            return text_error(request, 404, f"no framework {framework_id}")

        def page():
            pager = Pager(request, len(record.tasks))
            tasks = [task.to_json() for task in pager.slice(record.tasks.values())]
            completed = [task.to_json() for task in record.completed_tasks]
            return Page(master, f"Framework {record.info.name}",
                        FrameworkElement(record.summary_json(), tasks, completed, pager))

        return self._approved(request, "view_frameworks", record.info.user, page)

    @app.route("/ui/slaves", methods=["GET"])
    @_leader_only
    def slaves_page(self, request, master):
        """
        The registered slaves, a page at a time (C{?offset=&limit=}, 100
        by default).
        """
        pager = Pager(request, len(master.slaves))
        return Page(master, "Slaves", SlavesElement(pager.slice(master.slaves.values()), pager,
                                                    master.maintenance.mode_of))

    @app.route("/ui/offers", methods=["GET"])
    @_leader_only
    def offers_page(self, request, master):
        """
        The outstanding offers, a page at a time (C{?offset=&limit=}).
        """
        pager = Pager(request, len(master.offers))
        return Page(master, "Offers",
                    OffersElement(master, pager.slice(master.offers.values()), pager))

    @app.route("/ui/slaves/<slave_id>", methods=["GET"])
    @_leader_only
    def slave_page(self, request, master, slave_id):
        """
        One slave: its resources, the executors it reports and the tasks
        the master knows on it; 404 for an unknown slave.  A slave that
        does not answer still gets its page, saying so.
        """
        slave = master.slaves.get(slave_id)
        if slave is None:
            return text_error(request, 404, f"no slave {slave_id}")
        tasks = [record.to_json() for record in slave.tasks.values()]

        def page(slave_state, problem=None):
            return Page(master, f"Slave {slave.info.hostname}",
                        SlaveElement(slave.to_json(), tasks, slave_state, problem))

        def unavailable(failure):
            failure.trap(SlaveUnavailable)
            return page(None, f"{failure.value}; its executors are not shown.")

        d = self._slaves(master, request).get_json(str(slave.pid), "/slave(1)/state")
        d.addCallbacks(page, unavailable)
        return d

    @app.route("/ui/slaves/<slave_id>/frameworks/<framework_id>/executors/<executor_id>",
               methods=["GET"])
    @_leader_only
    def executor_page(self, request, master, slave_id, framework_id, executor_id):
        """
        One executor on a slave, with its tasks, sandbox and resource usage
        (from the slave's C{/monitor/statistics}, when it reports any); 404
        when the slave or the executor is unknown, 502 when the slave did
        not answer.
        """
        slave = master.slaves.get(slave_id)
        if slave is None:
            return text_error(request, 404, f"no slave {slave_id}")
        slaves, pid = self._slaves(master, request), str(slave.pid)

        def page(statistics, slave_state):
            executor, running = find_executor(slave_state, framework_id, executor_id)
            if executor is None:
                return text_error(request, 404, f"no executor {executor_id} of framework "
                                  f"{framework_id} on slave {slave_id}")
            usage = next((entry["statistics"] for entry in statistics or ()
                          if (entry["framework_id"], entry["executor_id"])
                          == (framework_id, executor_id)), None)
            return Page(master, f"Executor {executor_id}",
                        ExecutorElement(slave_id, framework_id, executor, running, usage))

        def without_statistics(failure):
            failure.trap(SlaveUnavailable)
            return None

        def with_statistics(slave_state):
            d = slaves.get_json(pid, "/monitor/statistics")
            d.addErrback(without_statistics)
            d.addCallback(page, slave_state)
            return d

        d = slaves.get_json(pid, "/slave(1)/state")
        d.addCallbacks(with_statistics, self._slave_failed, errbackArgs=(request,))
        return d

    def _slave_failed(self, failure, request):
        failure.trap(SlaveUnavailable)
        return text_error(request, failure.value.code, str(failure.value))

    def _path(self, request):
        """
        The C{path} query argument, which the sandbox pages need.

        @raise BadRequest: when it is missing.
        """
        path = request.args.get(b"path", [b""])[0].decode("utf-8", "replace")
        if not path:
            raise BadRequest("path is required (a sandbox directory or file)")
        return path

    @app.route("/ui/slaves/<slave_id>/browse", methods=["GET"])
    @_leader_only
    def browse_page(self, request, master, slave_id):
        """
        The sandbox browser: a directory on a slave (C{?path=}), as the
        slave lists it; its 4xx (outside the sandboxes, no such directory)
        are passed on with their message.
        """
        slave = master.slaves.get(slave_id)
        if slave is None:
            return text_error(request, 404, f"no slave {slave_id}")
        path = self._path(request)

        def browse():
            d = self._slaves(master, request).get_json(
                str(slave.pid), "/files/browse", path=path)
            d.addCallbacks(lambda entries: Page(master, "Sandbox", BrowseElement(
                slave_id, str(slave.pid), path, entries)), self._slave_failed,
                errbackArgs=(request,))
            return d

        return self._approved(request, "access_sandboxes",
                              self._sandbox_user(master, path), browse)

    @app.route("/ui/slaves/<slave_id>/tail", methods=["GET"])
    @_leader_only
    def tail_page(self, request, master, slave_id):
        """
        A sandbox file (C{?path=}) that follows as it grows, with a
        download link; the file is checked with the slave first.
        """
        slave = master.slaves.get(slave_id)
        if slave is None:
            return text_error(request, 404, f"no slave {slave_id}")
        path = self._path(request)

        def tail():
            d = self._slaves(master, request).get_json(
                str(slave.pid), "/files/read", path=path, offset=-1)
            d.addCallbacks(lambda _: Page(
                master, path.rsplit("/", 1)[-1], TailElement(slave_id, str(slave.pid), path),
                scripts=["/static/pailer.js"]), self._slave_failed, errbackArgs=(request,))
            return d

        return self._approved(request, "access_sandboxes",
                              self._sandbox_user(master, path), tail)

    @app.route("/ui/slaves/<slave_id>/files/read", methods=["GET"])
    @_leader_only
    def read_file(self, request, master, slave_id):
        """
        The slave's C{/files/read} (C{path}, C{offset}, C{length}) through
        the master, for the log tail: Mesos's C{{data, offset}}.
        """
        slave = master.slaves.get(slave_id)
        if slave is None:
            return text_error(request, 404, f"no slave {slave_id}")
        path = self._path(request)
        params = {"path": path, "offset": int_argument(request, "offset", 0, minimum=-1)}
        length = int_argument(request, "length", None)
        if length is not None:
            params["length"] = length

        def read():
            d = self._slaves(master, request).get_json(str(slave.pid), "/files/read", **params)
            d.addCallbacks(lambda answer: json_response(request, answer), self._slave_failed,
                           errbackArgs=(request,))
            return d

        return self._approved(request, "access_sandboxes",
                              self._sandbox_user(master, path), read)

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
    @_leader_only
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
    @_leader_only
    def summary(self, request, master):
        """
        Slaves and frameworks with task counts, without task lists.
        """
        return read_view(self.authorizer, principal_of(request)).addCallback(
            lambda view: stream_json(request, state_summary(master, view), master.reactor))

    @app.route("/master/frameworks", methods=["GET"])
    @app.route("/frameworks", methods=["GET"])
    @_leader_only
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
    @_leader_only
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
    @_leader_only
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

    @app.route("/master/teardown", methods=["POST"])
    @app.route("/teardown", methods=["POST"])
    @_leader_only
    def teardown(self, request, master):
        """
        Mesos's C{/master/teardown}: remove the framework C{frameworkId}
        (a form field or query argument; its scheduler hears that it was
        removed), killing its tasks; 400 without one or for an unknown
        one, 403 when the ACLs do not let the principal tear it down.
        """
        framework_id = request.args.get(b"frameworkId", [b""])[0].decode("utf-8", "replace")
        if not framework_id:
            return text_error(request, 400,
                              "Missing 'frameworkId' query parameter in the request body")
        framework = master.frameworks.get(framework_id)
        if framework is None:
            return text_error(request, 400, "No framework found with specified ID")

        def teardown():
            operator_teardown(master, framework_id)
            return b""

        return self._approved(request, "teardown_frameworks",
                              framework.info.principal or None, teardown)

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

    @app.route("/master/roles", methods=["GET"])
    @app.route("/master/roles.json", methods=["GET"])
    @app.route("/roles", methods=["GET"])
    @_leader_only
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
    @_leader_only
    def weights(self, request, master):
        """
        Mesos's C{/master/weights}: C{[{"role", "weight"}]}.
        """
        return json_response(request, [to_v1(info) for info in get_weights(master).weight_infos])

    @app.route("/master/weights", methods=["PUT"])
    @app.route("/weights", methods=["PUT"])
    @_leader_only
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
    @_leader_only
    def maintenance_schedule(self, request, master):
        """
        Mesos's C{/master/maintenance/schedule}: the schedule's JSON.
        """
        return json_response(request, to_v1(master.maintenance.schedule))

    @app.route("/master/maintenance/schedule", methods=["POST"])
    @app.route("/maintenance/schedule", methods=["POST"])
    @_leader_only
    def update_maintenance_schedule(self, request, master):
        """
        Replace the schedule with the body's (Mesos's C{Schedule} JSON).
        """
        schedule = _json_body(request, lambda value: from_v1(Schedule, value, "the schedule"))
        _operator_call(master.maintenance.update_schedule, schedule)
        return b""

    @app.route("/master/maintenance/status", methods=["GET"])
    @app.route("/maintenance/status", methods=["GET"])
    @_leader_only
    def maintenance_status(self, request, master):
        """
        Mesos's C{/master/maintenance/status}: DRAINING machines with the
        frameworks' answers, DOWN machines.
        """
        return json_response(request, to_v1(master.maintenance.status()))

    @app.route("/master/machine/down", methods=["POST"])
    @app.route("/machine/down", methods=["POST"])
    @_leader_only
    def machines_down(self, request, master):
        """
        Mesos's C{/master/machine/down}: a JSON array of machine ids.
        """
        _operator_call(master.maintenance.start_maintenance, _machine_ids(request))
        return b""

    @app.route("/master/machine/up", methods=["POST"])
    @app.route("/machine/up", methods=["POST"])
    @_leader_only
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
