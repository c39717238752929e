"""
Mesos's files API as a Klein app of its own (C{browse}, C{read},
C{download}, each also with C{.json}), mounted at C{/files/} by the slave
(its sandboxes and C{/slave/log}) and the master (C{/master/log}).
"""

from klein import Klein

from mesos_tw.slave.files import FileAccessError, send_file
from mesos_tw.web.json import BadRequest, int_argument, json_response, text_error

__all__ = ["FilesAPI"]


class FilesAPI:
    """
    The files API over C{files} (a L{mesos_tw.slave.files.SandboxFiles});
    downloads are sent a chunk per turn of C{reactor}.

    @param access: C{access(request, answer)} gives C{answer()} if the
        caller may read the C{path} asked for, else a refusal (the
        authorizer's check); by default everything may be read.
    """

    app = Klein()
    app.url_map.strict_slashes = False

    def __init__(self, files, reactor, access=None):
        self.files = files
        self.reactor = reactor
        self.access = access if access is not None else (lambda request, answer: answer())

    def _path(self, request):
        return request.args.get(b"path", [b""])[0].decode("utf-8", "replace")

    @app.route("/browse", methods=["GET"])
    @app.route("/browse.json", methods=["GET"])
    def browse(self, request):
        """
        A directory's entries.
        """
        def answer():
            try:
                return json_response(request, self.files.browse(self._path(request)))
            except FileAccessError as error:
                return text_error(request, error.code, str(error))

        return self.access(request, answer)

    @app.route("/read", methods=["GET"])
    @app.route("/read.json", methods=["GET"])
    def read(self, request):
        """
        Part of a file: C{offset} (-1 for just the size), C{length}.
        """
        def answer():
            try:
                offset = int_argument(request, "offset", 0, minimum=-1)
                length = int_argument(request, "length", None, minimum=0)
                return json_response(request,
                                     self.files.read(self._path(request), offset, length))
            except BadRequest as error:
                return text_error(request, 400, str(error))
            except FileAccessError as error:
                return text_error(request, error.code, str(error))

        return self.access(request, answer)

    @app.route("/download", methods=["GET"])
    @app.route("/download.json", methods=["GET"])
    def download(self, request):
        """
        A whole file, as an attachment, sent a chunk per turn of the
        reactor.
        """
        def answer():
            try:
                name, size, file = self.files.download(self._path(request))
            except FileAccessError as error:
                return text_error(request, error.code, str(error))
            request.setHeader(b"Content-Type", b"application/octet-stream")
            request.setHeader(b"Content-Length", str(size).encode("ascii"))
            request.setHeader(b"Content-Disposition",
                              f'attachment; filename="{name}"'.encode("utf-8", "replace"))
            return send_file(request, file, self.reactor)

        return self.access(request, answer)

    def resource(self):
        """
        The app as a Twisted web resource.
        """
        return self.app.resource()
