import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.acquire.catalog import build


@pytest.fixture(scope="session")
def catalog(tmp_path_factory):
    return build(tmp_path_factory.mktemp("stac") / "catalog")


class RangeHandler(SimpleHTTPRequestHandler):
    """Static files with HTTP Range support, which GDAL's /vsicurl uses to read COGs."""

    def log_message(self, *args) -> None:
        pass

    def send_head(self):
        rng = self.headers.get("Range")
        if not rng or not rng.startswith("bytes="):
            return super().send_head()
        path = self.translate_path(self.path)
        try:
            f = open(path, "rb")  # noqa: SIM115 - returned to the base class, which closes it
        except OSError:
            self.send_error(404)
            return None
        size = f.seek(0, 2)
        start_s, end_s = rng[6:].split("-")
        start = int(start_s) if start_s else size - int(end_s)
        end = min(int(end_s), size - 1) if end_s and start_s else size - 1
        if start >= size:
            f.close()
            self.send_error(416)
            return None
        f.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self._remaining = end - start + 1
        return f

    def copyfile(self, source, outputfile):
        n = getattr(self, "_remaining", None)
        if n is None:
            return super().copyfile(source, outputfile)
        outputfile.write(source.read(n))
        self._remaining = None
        return None


@pytest.fixture(scope="session")
def served(catalog):
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(RangeHandler, directory=str(catalog.parent)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/catalog.json"
    server.shutdown()
