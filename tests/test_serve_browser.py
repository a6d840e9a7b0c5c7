"""``musicgenre serve`` in a real browser: uvicorn on a free port with a tiny real checkpoint, headless
Debian Chromium driven by Playwright, real GTZAN clips uploaded through the page.

The browser is ``$MUSICGENRE_CHROMIUM`` or ``/usr/bin/chromium`` (``.ci/run`` installs it); the tests fail,
never skip, when it is missing. ``MUSICGENRE_UPDATE_SCREENSHOT=1`` also writes the README's
``docs/serve-screenshot.png``.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import uvicorn

import musicgenre
from musicgenre.audio import load_audio
from musicgenre.predict import GenreClassifier
from musicgenre.serve.app import create_app
from musicgenre.serve.settings import ServeSettings
from test_predict import train_mfcc_checkpoint

GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]
CLIP = ("jazz", "jazz.00000.au")
REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def chromium_path() -> str:
    path = os.environ.get("MUSICGENRE_CHROMIUM", "/usr/bin/chromium")
    if not Path(path).exists():
        pytest.fail(
            f"Chromium is missing ({path}): install it (apt-get install chromium; .ci/run does) "
            "or set MUSICGENRE_CHROMIUM"
        )
    return path


@pytest.fixture(scope="module")
def gtzan_ckpt(gtzan_mini: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny 10-genre ``cnn1d`` on MFCCs: 3 segments of 3 s from 2 clips per genre (not the test clip)."""
    segs, labels = [], []
    for g, genre in enumerate(GENRES):
        for clip in sorted((gtzan_mini / genre).glob("*.au"))[1:3]:
            x = load_audio(clip, 16000, duration=9.0)
            segs += [x[i * 48000 : (i + 1) * 48000] for i in range(3)]
            labels += [g] * 3
    return train_mfcc_checkpoint(
        tmp_path_factory.mktemp("gtzan") / "model.ckpt", np.stack(segs), labels, GENRES
    )


@pytest.fixture(scope="module")
def clf(gtzan_ckpt: Path) -> GenreClassifier:
    return musicgenre.load(gtzan_ckpt)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(clf: GenreClassifier) -> Iterator[str]:
    """uvicorn serving the app on a free localhost port, in a background thread."""
    port = free_port()
    config = uvicorn.Config(
        create_app(clf, ServeSettings(port=port, max_upload_mb=5)),
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


def test_page_labels_a_real_clip(
    server: str, browser, clf: GenreClassifier, gtzan_mini: Path, tmp_path: Path
) -> None:
    clip = gtzan_mini / CLIP[0] / CLIP[1]
    bad = tmp_path / "notes.mp3"
    bad.write_text("a text file, renamed\n" * 40)
    expected = clf.predict(clip)

    page = browser.new_page(viewport={"width": 860, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(server + "/")
    page.wait_for_selector('[data-testid="model"][data-ready="true"]')
    page.set_input_files('[data-testid="file-input"]', [str(clip), str(bad)])
    page.locator('[data-testid="result"].done').nth(1).wait_for(timeout=60_000)  # (CSP: no eval)

    good = page.locator('[data-testid="result"]', has_text=CLIP[1])
    assert good.locator('[data-testid="top-genre"]').inner_text() == expected.top_genre
    assert good.locator('[data-testid="confidence"]').inner_text() == f"{100 * expected.confidence:.1f}%"
    bars = good.locator('[data-testid="bar"]')
    assert bars.count() == len(GENRES)
    assert [bars.nth(i).get_attribute("data-genre") for i in range(bars.count())] == GENRES
    probs = [float(bars.nth(i).get_attribute("data-probability")) for i in range(bars.count())]
    assert probs == pytest.approx([expected.probabilities[g] for g in GENRES], abs=1e-5)
    blocks = good.locator('[data-testid="timeline-block"]')
    assert blocks.count() == expected.n_windows >= 10  # a 30 s clip in 3 s windows
    window_top = [GENRES[j] for j in np.asarray(expected.window_probabilities).argmax(axis=1)]
    assert [blocks.nth(i).get_attribute("data-genre") for i in range(blocks.count())] == window_top
    assert "0:30.0" in good.locator('[data-testid="duration"]').inner_text()

    failed = page.locator('[data-testid="result"]', has_text="notes.mp3")
    assert "notes.mp3: not a readable audio file" in failed.locator('[data-testid="error"]').inner_text()
    assert "done: 2 files" in page.locator('[data-testid="progress"]').inner_text()
    assert all(u.startswith(server) for u in requests), requests  # nothing from the network

    page.screenshot(path=str(tmp_path / "serve.png"), full_page=True)
    assert (tmp_path / "serve.png").stat().st_size > 10_000
    if os.environ.get("MUSICGENRE_UPDATE_SCREENSHOT"):
        page.screenshot(path=str(REPO / "docs" / "serve-screenshot.png"), full_page=True)
    page.close()


def test_live_server_refuses_an_oversized_upload_while_streaming(server: str) -> None:
    """A chunked upload with no Content-Length: the 413 comes back before the body is all sent (it never
    ends: the closing chunk is not sent), after about the limit plus what the socket buffers hold."""
    host, port = server.removeprefix("http://").split(":")
    chunk = b"\x00" * 65536
    sent = 0
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(
            b"POST /api/predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: multipart/form-data; boundary=B\r\n\r\n"
        )
        head = b'--B\r\nContent-Disposition: form-data; name="files"; filename="x.wav"\r\n\r\n'
        s.sendall(b"%x\r\n%s\r\n" % (len(head), head))
        while sent < 1000 * len(chunk):  # 64 MB
            if select.select([s], [], [], 0)[0]:
                break  # the server answered
            try:
                s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (TimeoutError, BrokenPipeError, ConnectionResetError):
                break  # the server stopped reading
            sent += len(chunk)
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert sent < 1000 * len(chunk)  # the answer came while the body was still streaming
