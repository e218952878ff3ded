"""Issue 23 item 7: the web app's text files (JavaScript, CSS, HTML) go gzip-compressed to a client that accepts
gzip, with Vary and an ETag of their own (a 304 on revalidation); images go as they are, and a client without gzip
gets the plain file. The browser's side (the home page's transferred bytes) is in tests/test_webapp_a11y.py."""

import gzip
import os

import pytest
from fastapi.testclient import TestClient

import convscope.server.static as static
from convscope.server import ServerConfig, create_app

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A built-app folder: index.html, a content-hashed script and style, a card picture."""
    root = tmp_path_factory.mktemp("webapp")
    (root / "assets").mkdir()
    (root / "cards").mkdir()
    (root / "index.html").write_text("<!doctype html><title>t</title>" + "<p>convscope</p>\n" * 200)
    script = "".join(f"export const value{i} = {i} * 2; // a line of the app\n" for i in range(5000)).encode()
    (root / "assets" / "index-abc123.js").write_bytes(script)
    (root / "assets" / "index-abc123.css").write_text(".page { color: #222; }\n" * 400)
    (root / "assets" / "tiny-abc.js").write_text("export {};")
    (root / "cards" / "graph.jpg").write_bytes(os.urandom(20_000))
    return root


@pytest.fixture(scope="module")
def client(site, tmp_path_factory):
    before = static.WEBAPP
    static.WEBAPP = site
    try:
        app = create_app(ServerConfig(data_dir=tmp_path_factory.mktemp("static") / "data", models=["digits"]))
    finally:
        static.WEBAPP = before
    with TestClient(app) as test_client:
        yield test_client


def raw_get(client, path, **headers):
    """(response, the bytes on the wire) — httpx would decompress the body; the stream's raw bytes are the wire."""
    with client.stream("GET", path, headers=headers) as response:
        wire = b"".join(response.iter_raw())
    return response, wire


def test_scripts_styles_and_the_page_come_gzip_encoded(client, site):
    for path, file in [
        ("/assets/index-abc123.js", "assets/index-abc123.js"),
        ("/assets/index-abc123.css", "assets/index-abc123.css"),
        ("/", "index.html"),
    ]:
        response, wire = raw_get(client, path, **{"accept-encoding": "gzip, deflate, br"})
        plain = (site / file).read_bytes()
        assert response.status_code == 200, path
        assert response.headers["content-encoding"] == "gzip" and response.headers["vary"] == "Accept-Encoding"
        assert gzip.decompress(wire) == plain
        assert len(wire) < len(plain) / 4, (path, len(wire), len(plain))  # repetitive text: far smaller
    script, _ = raw_get(client, "/assets/index-abc123.js", **{"accept-encoding": "gzip"})
    assert script.headers["content-type"].startswith("text/javascript")
    assert "immutable" in script.headers["cache-control"]  # content-hashed: cached for good
    page, _ = raw_get(client, "/", **{"accept-encoding": "gzip"})
    assert "cache-control" not in page.headers  # the page itself is revalidated
    # revalidation: the compressed variant's own ETag answers 304
    again = client.get("/assets/index-abc123.js", headers={"if-none-match": script.headers["etag"]})
    assert again.status_code == 304 and script.headers["etag"].endswith('-gzip"')


def test_images_small_files_and_clients_without_gzip_get_the_plain_file(client, site):
    picture, wire = raw_get(client, "/cards/graph.jpg", **{"accept-encoding": "gzip"})
    assert "content-encoding" not in picture.headers and wire == (site / "cards" / "graph.jpg").read_bytes()
    tiny, wire = raw_get(client, "/assets/tiny-abc.js", **{"accept-encoding": "gzip"})
    assert "content-encoding" not in tiny.headers and wire == b"export {};"
    for refused in ("identity", "gzip;q=0, identity", ""):
        plain, wire = raw_get(client, "/assets/index-abc123.js", **{"accept-encoding": refused})
        assert "content-encoding" not in plain.headers and wire == (site / "assets" / "index-abc123.js").read_bytes()


def test_the_accept_encoding_rule():
    assert static._accepts_gzip("gzip, deflate, br") and static._accepts_gzip("br;q=1.0, gzip;q=0.8")
    assert static._accepts_gzip("*") and not static._accepts_gzip("gzip;q=0") and not static._accepts_gzip("br")
