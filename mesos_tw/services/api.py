"""
Marathon's C{/v2} REST API (the subset C{docs/services.md} lists), its
status codes and error bodies, and the services page, on Klein.

Only the leader answers; another instance redirects (307) to the same path
on the leader, or answers 503 while there is none.
"""

import html
import json

from klein import Klein

from mesos_tw.services.apps import InvalidApp, normalize_id, parse_app
from mesos_tw.services.scheduler import AppLocked, NoSuchApp

__all__ = ["ServicesAPI", "VERSION"]

#: The Marathon version whose API this follows.
VERSION = "1.4.0"


def _json(request, value, code=200):
    request.setResponseCode(code)
    request.setHeader(b"Content-Type", b"application/json; charset=utf-8")
    return json.dumps(value).encode("utf-8")


def _message(request, code, text, **more):
    return _json(request, dict({"message": text}, **more), code)


def _flag(request, name):
    values = request.args.get(name.encode(), [])
    return bool(values) and values[-1].lower() in (b"true", b"1", b"")


def _body(request):
    """
    The request's JSON body; L{None} if it is not JSON.
    """
    try:
        return json.loads(request.content.read().decode("utf-8") or "null")
    except (UnicodeDecodeError, ValueError):
        return None


class ServicesAPI:
    """
    The REST API over a L{ServiceScheduler}.

    @param leadership: an object with C{scheduler} (the
        L{ServiceScheduler} while we lead, else L{None}) and
        C{leader_url()} (the leader's C{http://host:port}, or L{None}).
    @param info: what C{/v2/info} tells beyond the leader (flags).
    """

    app = Klein()

    def __init__(self, leadership, info):
        self.leadership = leadership
        self.info = info

    def resource(self):
        """
        The Klein resource to serve.
        """
        return self.app.resource()

    def _scheduler(self, request):
        """
        Our scheduler if we lead; otherwise the response is made ready (a
        redirect or a 503) and L{None} returned.
        """
        scheduler = self.leadership.scheduler
        if scheduler is not None:
            return scheduler
        leader = self.leadership.leader_url()
        if leader is None:
            request.setResponseCode(503)
            return None
        request.setResponseCode(307)
        request.setHeader(b"Location", (leader + request.uri.decode("utf-8")).encode("utf-8"))
        return None

    def _app_json(self, scheduler, app, embed_tasks=False):
        json = app.definition.to_json()
        json["version"] = app.version
        json.update(app.counts())
        deployment = scheduler.deployment_of(app.id)
        json["deployments"] = [{"id": deployment.id}] if deployment else []
        if embed_tasks:
            checked = bool(app.definition["healthChecks"])
            json["tasks"] = [i.to_json(checked) for i in app.instances.values()]
        return json

    @app.route("/ping", methods=["GET"])
    def ping(self, request):
        """
        C{pong}, from any instance.
        """
        request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
        return b"pong"

    @app.route("/v2/info", methods=["GET"])
    def info_endpoint(self, request):
        """
        Who we are, who leads, and our configuration.
        """
        scheduler = self.leadership.scheduler
        leader = self.leadership.leader_url()
        return _json(request, dict(
            self.info, name="mesos-services", version=VERSION,
            leader=leader.split("//", 1)[-1] if leader else None,
            frameworkId=scheduler.framework_id if scheduler else None,
            elected=scheduler is not None))

    @app.route("/v2/apps", methods=["GET"])
    def list_apps(self, request):
        """
        Every app (C{?embed=apps.tasks} adds their tasks).
        """
        scheduler = self._scheduler(request)
        if scheduler is None:
            return b""
        embed = b"apps.tasks" in request.args.get(b"embed", [])
        return _json(request, {"apps": [
            self._app_json(scheduler, app, embed) for app in scheduler.apps.values()
            if not app.deleting]})

    @app.route("/v2/apps", methods=["POST"])
    def create_app(self, request):
        """
        Create an app: 201 with it, 409 if its id is taken, 422 if invalid.
        """
        scheduler = self._scheduler(request)
        if scheduler is None:
            return b""
        try:
            definition = parse_app(_body(request))
        except InvalidApp as error:
            return _json(request, error.to_json(), 422)
        if definition.id in scheduler.apps:
            return _message(request, 409, f"An app with id [{definition.id}] already exists.")
        deployment = scheduler.create(definition)
        request.setHeader(b"Location", f"/v2/apps{definition.id}".encode("utf-8"))
        json = self._app_json(scheduler, scheduler.apps[definition.id])
        json["deployments"] = [{"id": deployment.id}]
        return _json(request, json, 201)

    @app.route("/v2/apps/<path:app_id>", methods=["GET"])
    def get_app(self, request, app_id):
        """
        One app (with its tasks), or its tasks for C{.../tasks}.
        """
        scheduler = self._scheduler(request)
        if scheduler is None:
            return b""
        app_id, tasks = self._split(app_id, "tasks")
        app = scheduler.apps.get(normalize_id(app_id))
        if app is None or app.deleting:
            return _message(request, 404, f"App '{normalize_id(app_id)}' does not exist")
        if tasks:
            checked = bool(app.definition["healthChecks"])
            return _json(request, {"tasks": [i.to_json(checked)
                                             for i in app.instances.values()]})
        return _json(request, {"app": self._app_json(scheduler, app, embed_tasks=True)})

    @staticmethod
    def _split(path, suffix):
        parts = path.rstrip("/").split("/")
        if len(parts) > 1 and parts[-1] == suffix:
            return "/".join(parts[:-1]), True
        return path, False

    @app.route("/v2/apps/<path:app_id>", methods=["PUT"])
    def put_app(self, request, app_id):
        """
        Change (or create) an app: 200 with the deployment, 409 while one
        is under way (unless C{?force=true}), 422 if invalid.
        """
        scheduler = self._scheduler(request)
        if scheduler is None:
            return b""
        app_id = normalize_id(app_id)
        body = _body(request)
        existing = scheduler.apps.get(app_id)
        if isinstance(body, dict) and existing is not None and not existing.deleting:
            body = dict(existing.definition.to_json(), **body)
        try:
            definition = parse_app(body, app_id=app_id)
        except InvalidApp as error:
            return _json(request, error.to_json(), 422)
        if existing is None:
            deployment = scheduler.create(definition)
            return _json(request, {"version": scheduler.apps[app_id].version,
                                   "deploymentId": deployment.id}, 201)
        return self._deploying(request, lambda: scheduler.update(
            definition, force=_flag(request, "force")), scheduler)

    def _deploying(self, request, action, scheduler):
        try:
            deployment = action()
        except AppLocked as locked:
            return _message(
                request, 409, "App is locked by one or more deployments. Override with the "
                "option '?force=true'. View details at '/v2/deployments/"
                f"{locked.deployment.id}'.", deployments=[{"id": locked.deployment.id}])
        except NoSuchApp as missing:
            return _message(request, 404, f"App '{missing.args[0]}' does not exist")
        return _json(request, {"version": deployment.version, "deploymentId": deployment.id})

    @app.route("/v2/apps/<path:app_id>", methods=["DELETE"])
    def delete_app(self, request, app_id):
        """
        Destroy an app (or kill one of its tasks: C{.../tasks/<id>}).
        """
        scheduler = self._scheduler(request)
        if scheduler is None:
            return b""
        if "/tasks/" in app_id:
            app_id, _, task_id = app_id.partition("/tasks/")
            return self._kill_task(request, scheduler, normalize_id(app_id), task_id)
        return self._deploying(request, lambda: scheduler.delete(
            normalize_id(app_id), force=_flag(request, "force")), scheduler)

    def _kill_task(self, request, scheduler, app_id, task_id):
        try:
            instance, deployment = scheduler.kill_instance(
                app_id, task_id, scale=_flag(request, "scale"))
        except NoSuchApp:
            return _message(request, 404, f"Task '{task_id}' of app '{app_id}' does not exist")
        if deployment is not None:
            return _json(request, {"version": deployment.version,
                                   "deploymentId": deployment.id})
        app = scheduler.apps.get(app_id)
        checked = bool(app and app.definition["healthChecks"])
        return _json(request, {"task": instance.to_json(checked)})

    @app.route("/v2/apps/<path:app_id>/restart", methods=["POST"])
    def restart_app(self, request, app_id):
        """
        Replace every instance of an app.
        """
        scheduler = self._scheduler(request)
        if scheduler is None:
            return b""
        return self._deploying(request, lambda: scheduler.restart(
            normalize_id(app_id), force=_flag(request, "force")), scheduler)

    @app.route("/v2/tasks", methods=["GET"])
    def tasks(self, request):
        """
        Every app's tasks.
        """
        scheduler = self._scheduler(request)
        if scheduler is None:
            return b""
        return _json(request, {"tasks": [
            instance.to_json(bool(app.definition["healthChecks"]))
            for app in scheduler.apps.values() for instance in app.instances.values()]})

    @app.route("/v2/deployments", methods=["GET"])
    def deployments(self, request):
        """
        The deployments under way.
        """
        scheduler = self._scheduler(request)
        if scheduler is None:
            return b""
        return _json(request, [d.to_json() for d in scheduler.deployments.values()])

    @app.route("/v2/deployments/<deployment_id>", methods=["DELETE"])
    def cancel_deployment(self, request, deployment_id):
        """
        Roll a deployment back (200 with the rollback), or with
        C{?force=true} just stop it (202).
        """
        scheduler = self._scheduler(request)
        if scheduler is None:
            return b""
        if deployment_id not in scheduler.deployments:
            return _message(request, 404, f"DeploymentPlan {deployment_id} does not exist")
        rollback = scheduler.cancel(deployment_id, force=_flag(request, "force"))
        if rollback is None:
            return _json(request, {}, 202)
        return _json(request, {"version": rollback.version, "deploymentId": rollback.id})

    @app.route("/", methods=["GET"])
    def services_page(self, request):
        """
        The services page: apps, their instances with health, deployments.
        """
        scheduler = self._scheduler(request)
        if scheduler is None:
            return b""
        request.setHeader(b"Content-Type", b"text/html; charset=utf-8")
        return services_html(scheduler).encode("utf-8")


def services_html(scheduler):
    """
    The services page, rendered from the scheduler's state (refreshed by
    the browser every 5 s).
    """
    e = html.escape
    rows = []
    for app in sorted(scheduler.apps.values(), key=lambda a: a.id):
        counts = app.counts()
        rows.append(
            f"<tr><td><code>{e(app.id)}</code></td><td>{e(app.version)}</td>"
            f"<td>{app.definition.instances}</td><td>{counts['tasksRunning']}</td>"
            f"<td>{counts['tasksHealthy']}</td><td>{counts['tasksUnhealthy']}</td></tr>")
    instances = []
    for app in sorted(scheduler.apps.values(), key=lambda a: a.id):
        for i in sorted(app.instances.values(), key=lambda i: i.staged_at):
            health = "" if i.healthy is None else ("healthy" if i.healthy else "unhealthy")
            instances.append(
                f"<tr><td><code>{e(i.task_id)}</code></td><td>{e(i.host)}</td>"
                f"<td>{e(','.join(map(str, i.ports)))}</td><td>{e(i.state)}</td>"
                f"<td>{health}</td><td>{e(i.version)}</td></tr>")
    deployments = [
        f"<tr><td><code>{e(d.id)}</code></td><td><code>{e(d.app_id)}</code></td>"
        f"<td>{e(d.kind)}</td><td>{e(d.version)}</td></tr>"
        for d in scheduler.deployments.values()]
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<title>mesos-services</title></head>
<body><h1>Services</h1>
<p>Framework <code>{e(scheduler.framework_id or "(registering)")}</code></p>
<h2>Apps</h2><table id="apps"><thead><tr><th>ID</th><th>Version</th><th>Instances</th>
<th>Running</th><th>Healthy</th><th>Unhealthy</th></tr></thead><tbody>{"".join(rows)}</tbody></table>
<h2>Instances</h2><table id="instances"><thead><tr><th>Task</th><th>Host</th><th>Ports</th>
<th>State</th><th>Health</th><th>Version</th></tr></thead><tbody>{"".join(instances)}</tbody>
</table>
<h2>Deployments</h2><table id="deployments"><thead><tr><th>ID</th><th>App</th><th>Action</th>
<th>Version</th></tr></thead><tbody>{"".join(deployments)}</tbody></table>
</body></html>
"""
