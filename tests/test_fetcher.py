"""
Tests for L{mesos_tw.slave.fetcher.Fetcher}: URIs fetched into a sandbox
on the real reactor, from local files and from a real HTTP server in this
process; archives extracted; failures that name the URI.
"""

import io
import os
import tarfile
import zipfile

from twisted.internet import reactor
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.trial.unittest import TestCase
from twisted.web.resource import Resource
from twisted.web.server import Site
from twisted.web.static import Data

from mesos_tw.protocols import mesos_pb2
from mesos_tw.slave.fetcher import FetchError, Fetcher


def command(*uris, **options):
    """
    A C{CommandInfo} with C{uris} (each with C{options}).
    """
    info = mesos_pb2.CommandInfo(value="true")
    for uri in uris:
        info.uris.add(value=uri, **options)
    return info


def tar_gz(members):
    """
    A .tar.gz holding C{members} (name: bytes).
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            entry = tarfile.TarInfo(name)
            entry.size = len(data)
            archive.addfile(entry, io.BytesIO(data))
    return buffer.getvalue()


class FetcherTests(TestCase):
    """
    The fetcher against local files and a real HTTP server.
    """

    timeout = 120

    def setUp(self):
        self.fetcher = Fetcher(reactor)
        self.sandbox = os.path.abspath(self.mktemp())
        os.makedirs(self.sandbox)
        self.files = os.path.abspath(self.mktemp())
        os.makedirs(self.files)

    def local(self, name, data):
        """
        A local file called C{name} holding C{data}; its path.
        """
        path = os.path.join(self.files, name)
        with open(path, "wb") as out:
            out.write(data)
        return path

    def read(self, *path):
        """
        What the sandbox's file C{path} holds.
        """
        with open(os.path.join(self.sandbox, *path), "rb") as source:
            return source.read()

    async def serve(self, files):
        """
        Serve C{files} (name: bytes) over HTTP on a free port until the
        test ends; the base URL.
        """
        root = Resource()
        for name, data in files.items():
            root.putChild(name.encode(), Data(data, "application/octet-stream"))
        port = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(Site(root))
        self.addCleanup(port.stopListening)
        return f"http://127.0.0.1:{port.getHost().port}"

    async def test_local_path_and_file_url(self):
        """
        A local path and a file:// URL are copied in under their base
        names; C{executable} makes the copy executable, C{output_file}
        renames it.
        """
        script = self.local("run.sh", b"#!/bin/sh\n")
        data = self.local("data.txt", b"some data")
        await self.fetcher.fetch(command(script, executable=True), self.sandbox)
        await self.fetcher.fetch(command("file://" + data), self.sandbox)
        await self.fetcher.fetch(
            mesos_pb2.CommandInfo(value="true", uris=[mesos_pb2.CommandInfo.URI(
                value=data, output_file="renamed.txt")]), self.sandbox)
        self.assertEqual(self.read("run.sh"), b"#!/bin/sh\n")
        self.assertTrue(os.access(os.path.join(self.sandbox, "run.sh"), os.X_OK))
        self.assertFalse(os.access(os.path.join(self.sandbox, "data.txt"), os.X_OK))
        self.assertEqual(self.read("renamed.txt"), b"some data")

    async def test_http_download(self):
        """
        An http:// URL is downloaded into the sandbox.
        """
        payload = bytes(range(256)) * 4096
        base = await self.serve({"executor.bin": payload})
        await self.fetcher.fetch(command(f"{base}/executor.bin", executable=True), self.sandbox)
        self.assertEqual(self.read("executor.bin"), payload)
        self.assertTrue(os.access(os.path.join(self.sandbox, "executor.bin"), os.X_OK))

    async def test_http_error_names_status(self):
        """
        A URL the server does not have fails, naming the URL and the status.
        """
        base = await self.serve({})
        with self.assertRaises(FetchError) as raised:
            await self.fetcher.fetch(command(f"{base}/missing.tgz"), self.sandbox)
        self.assertIn(f"cannot fetch '{base}/missing.tgz': the server answered 404",
                      str(raised.exception))

    async def test_archives_extracted(self):
        """
        A .tar.gz (over HTTP) and a .zip are extracted into the sandbox;
        with C{extract} false an archive stays as it is.
        """
        base = await self.serve({"bundle.tar.gz": tar_gz({"bin/tool": b"tool", "conf": b"c"})})
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("lib/module.py", "x = 1\n")
        zipped = self.local("lib.zip", buffer.getvalue())
        kept = self.local("kept.tar.gz", tar_gz({"inside": b"i"}))
        await self.fetcher.fetch(command(f"{base}/bundle.tar.gz", zipped), self.sandbox)
        await self.fetcher.fetch(command(kept, extract=False), self.sandbox)
        self.assertEqual(self.read("bin", "tool"), b"tool")
        self.assertEqual(self.read("conf"), b"c")
        self.assertEqual(self.read("lib", "module.py"), b"x = 1\n")
        self.assertTrue(os.path.exists(os.path.join(self.sandbox, "kept.tar.gz")))
        self.assertFalse(os.path.exists(os.path.join(self.sandbox, "inside")))

    async def test_archive_escaping_the_sandbox_refused(self):
        """
        A tar member that would land outside the sandbox is refused, naming
        the archive, and nothing is written outside.
        """
        evil = self.local("evil.tar.gz", tar_gz({"../escaped": b"x"}))
        with self.assertRaises(FetchError) as raised:
            await self.fetcher.fetch(command(evil), self.sandbox)
        self.assertIn(f"cannot extract {evil!r}", str(raised.exception))
        self.assertFalse(os.path.exists(os.path.join(os.path.dirname(self.sandbox), "escaped")))

    async def test_failures_name_the_uri(self):
        """
        A missing local file, an unsupported scheme and a URI naming no file
        fail with a message naming the URI.
        """
        cases = [("/no/such/file", "No such file or directory"),
                 ("hdfs://namenode/app.tgz", "only local paths, file://, http:// and https://"),
                 ("http://127.0.0.1:1/", "it names no file")]
        for uri, why in cases:
            with self.assertRaises(FetchError) as raised:
                await self.fetcher.fetch(command(uri), self.sandbox)
            self.assertIn(f"cannot fetch {uri!r}", str(raised.exception))
            self.assertIn(why, str(raised.exception))

    async def test_unreachable_server(self):
        """
        A server that refuses the connection fails the fetch, naming the URL.
        """
        with self.assertRaises(FetchError) as raised:
            await self.fetcher.fetch(command("http://127.0.0.1:1/x.bin"), self.sandbox)
        self.assertIn("cannot fetch 'http://127.0.0.1:1/x.bin'", str(raised.exception))
