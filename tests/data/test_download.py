"""download_mnist against a local HTTP server: mirrors in turn, checksums, never a partial file.

Nothing here touches the internet: every mirror is 127.0.0.1, and the "no network" case
replaces urlopen.
"""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
import time
import urllib.error

import numpy as np
import pytest

from tinygrad_edu.data import (
    FASHION_MNIST_CHECKSUMS,
    MNIST_MIRRORS,
    DownloadError,
    FileChecksum,
    default_cache_dir,
    download_mnist,
    load_mnist,
    verify_mnist,
    write_idx,
)
from tinygrad_edu.data import mnist as mnist_module

FILE_NAMES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]


def _fake_files(tmp_path_factory) -> dict[str, bytes]:
    """Small fake MNIST .gz files, made by our own writer."""
    folder = tmp_path_factory.mktemp("fake_source")
    rng = np.random.default_rng(0)
    for name, count in zip(FILE_NAMES, (6, 6, 4, 4), strict=True):
        shape = (count, 28, 28) if "images" in name else (count,)
        write_idx(folder / name, rng.integers(0, 256, size=shape).astype(np.uint8))
    return {name: (folder / name).read_bytes() for name in FILE_NAMES}


class MirrorServer:
    """Serves /good/, /corrupt/ (wrong bytes), /truncated/ (connection cut halfway) and
    /slow/ (answers late); anything else is a 404. Records every path requested."""

    def __init__(self, files: dict[str, bytes]):
        self.files, self.requests = files, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                kind, _, name = self.path.strip("/").partition("/")
                if name not in server.files or kind not in ("good", "corrupt", "truncated", "slow"):
                    self.send_error(404)
                    return
                body = server.files[name]
                if kind == "corrupt":
                    body = bytes(reversed(body))
                if kind == "slow":
                    time.sleep(1.0)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if kind == "truncated" else body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def mirror(self, kind: str) -> str:
        return f"{self.url}/{kind}/"


@pytest.fixture(scope="module")
def fake_files(tmp_path_factory):
    return _fake_files(tmp_path_factory)


@pytest.fixture(scope="module")
def fake_checksums(fake_files):
    return {
        name: FileChecksum(
            len(data), hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()
        )
        for name, data in fake_files.items()
    }


@pytest.fixture(scope="module")
def server(fake_files):
    mirror_server = MirrorServer(fake_files)
    yield mirror_server
    mirror_server.httpd.shutdown()
    mirror_server.httpd.server_close()


@pytest.fixture
def dest(tmp_path, monkeypatch, server):
    server.requests.clear()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "dest"


def _only_complete_files(folder, expected_names):
    """The folder holds exactly these names: no temp file, no partial download."""
    names = sorted(path.name for path in folder.iterdir()) if folder.exists() else []
    return names == sorted(expected_names)


def test_download_from_a_good_mirror(server, dest, fake_files, fake_checksums):
    result = download_mnist(dest, mirrors=[server.mirror("good")], checksums=fake_checksums)
    assert result == dest
    assert _only_complete_files(dest, FILE_NAMES)
    for name, data in fake_files.items():
        assert (dest / name).read_bytes() == data
    verify_mnist(dest, fake_checksums)
    images, labels = load_mnist(dest, split="test")
    assert images.shape == (4, 28, 28) and labels.shape == (4,)


@pytest.mark.parametrize("bad_kind", ["missing", "corrupt", "truncated"])
def test_a_failing_mirror_is_followed_by_the_next(
    server, dest, fake_files, fake_checksums, bad_kind
):
    download_mnist(
        dest, mirrors=[server.mirror(bad_kind), server.mirror("good")], checksums=fake_checksums
    )
    assert _only_complete_files(dest, FILE_NAMES)
    assert all((dest / name).read_bytes() == data for name, data in fake_files.items())
    assert server.requests[:2] == [f"/{bad_kind}/{FILE_NAMES[0]}", f"/good/{FILE_NAMES[0]}"]


def test_every_mirror_failing_names_each_and_leaves_nothing(server, dest, fake_checksums):
    mirrors = [server.mirror("missing"), server.mirror("corrupt"), server.mirror("truncated")]
    with pytest.raises(DownloadError) as caught:
        download_mnist(dest, mirrors=mirrors, checksums=fake_checksums)
    assert isinstance(caught.value, OSError)
    message = str(caught.value)
    assert FILE_NAMES[0] in message
    reasons = dict(line.strip().split(": ", 1) for line in message.splitlines()[1:])
    assert list(reasons) == [mirror + FILE_NAMES[0] for mirror in mirrors]
    missing, corrupt, truncated = reasons.values()
    assert "404" in missing
    assert "MD5 is" in corrupt  # same size, wrong bytes
    # a cut connection is caught by the size check (or by http.client, depending on Python)
    assert "size is" in truncated or "IncompleteRead" in truncated
    assert _only_complete_files(dest, [])


def test_timeout_and_refused_connection_are_reported_per_mirror(server, dest, fake_checksums):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    mirrors = [f"http://127.0.0.1:{closed_port}/", server.mirror("slow")]
    with pytest.raises(DownloadError) as caught:
        download_mnist(dest, mirrors=mirrors, timeout=0.2, checksums=fake_checksums)
    message = str(caught.value)
    assert f"127.0.0.1:{closed_port}" in message and "refused" in message.lower()
    assert "timed out" in message.lower()
    assert _only_complete_files(dest, [])


def test_present_valid_files_are_skipped_and_invalid_ones_replaced(
    server, dest, fake_files, fake_checksums
):
    mirrors = [server.mirror("good")]
    download_mnist(dest, mirrors=mirrors, checksums=fake_checksums)
    server.requests.clear()
    download_mnist(dest, mirrors=mirrors, checksums=fake_checksums)
    assert server.requests == []
    (dest / FILE_NAMES[1]).write_bytes(b"damaged")
    download_mnist(dest, mirrors=mirrors, checksums=fake_checksums)
    assert server.requests == [f"/good/{FILE_NAMES[1]}"]
    assert (dest / FILE_NAMES[1]).read_bytes() == fake_files[FILE_NAMES[1]]
    assert _only_complete_files(dest, FILE_NAMES)


def test_a_mirror_url_without_trailing_slash_works(server, dest, fake_checksums):
    download_mnist(dest, mirrors=[server.mirror("good").rstrip("/")], checksums=fake_checksums)
    assert _only_complete_files(dest, FILE_NAMES)


def test_without_network_one_error_names_every_default_mirror(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    attempts = []

    def no_network(url, timeout):
        attempts.append(url)
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(mnist_module.urllib.request, "urlopen", no_network)
    with pytest.raises(DownloadError) as caught:
        download_mnist()
    message = str(caught.value)
    assert len(MNIST_MIRRORS) >= 2
    for mirror in MNIST_MIRRORS:
        assert mirror + FILE_NAMES[0] in message
    assert message.count("name resolution") == len(MNIST_MIRRORS)
    assert attempts == [mirror + FILE_NAMES[0] for mirror in MNIST_MIRRORS]
    assert _only_complete_files(default_cache_dir(), [])


def test_another_data_set_needs_an_explicit_dest(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(ValueError, match="dest"):
        download_mnist(checksums=FASHION_MNIST_CHECKSUMS)
    with pytest.raises(ValueError, match="mirrors is empty"):
        download_mnist(tmp_path, mirrors=[])
    assert not (tmp_path / "tinygrad_edu").exists()
