"""
The slave's HTTP endpoints, served on its message port: C{/health} and the
slave's state as JSON (C{/slave(1)/state}, its older C{.json} name, and the
modern C{/state}).
"""

from klein import Klein

from mesos_tw.web.json import json_response

__all__ = ["SlaveHTTP"]


class SlaveHTTP:
    """
    The slave's Klein app.
    """

    app = Klein()

    def __init__(self, slave):
        self.slave = slave

    @app.route("/health", methods=["GET", "HEAD"])
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

    def resource(self):
        """
        The app as a Twisted web resource.
        """
        return self.app.resource()
