"""``musicgenre serve``'s HTTP API through FastAPI's TestClient: every endpoint, bad input (400, 413, 415,
422) with the CLI's one-line messages, temporary files removed, and the bounded pool (503, /healthz while
busy). The real checkpoint is test_predict's tiny ``cnn1d`` trained on tone vs noise."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

import musicgenre
from musicgenre.errors import AudioError
from musicgenre.predict import GenreClassifier, PredictionResult
from musicgenre.serve.app import create_app
from musicgenre.serve.settings import ServeSettings
from musicgenre.serve.uploads import UploadTooLarge, client_name, receive_files
from test_audio_stream import write_audio
from test_predict import LABELS, SR, noise, run_cli, tone, train_tone_noise_checkpoint

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def mfcc_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tone_noise_checkpoint(tmp_path_factory.mktemp("ckpt") / "model.ckpt")


@pytest.fixture(scope="module")
def clf(mfcc_ckpt: Path) -> GenreClassifier:
    return musicgenre.load(mfcc_ckpt)


@pytest.fixture(scope="module")
def client(clf: GenreClassifier):
    with TestClient(create_app(clf, ServeSettings(max_upload_mb=2))) as c:
        yield c


@pytest.fixture(scope="module")
def audio(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("audio")
    full = write_audio(root / "full.flac", tone(4.0), SR).read_bytes()
    (root / "cut.flac").write_bytes(full[: len(full) // 2])
    (root / "notes.mp3").write_text("a text file, renamed\n" * 40)
    (root / "song.xyz").write_bytes(b"\x00" * 64)
    (root / "empty.wav").write_bytes(b"")
    return {
        "tone.wav": write_audio(root / "tone.wav", tone(7.0, 44100, 2), 44100),
        "noise.flac": write_audio(root / "noise.flac", noise(6.5, 22050), 22050),
        **{n: root / n for n in ("cut.flac", "notes.mp3", "song.xyz", "empty.wav")},
    }


def upload(*paths: Path) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in paths]


# ---------------------------------------------------------------------------------------------- endpoints
def test_page_and_its_assets_are_local(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'data-testid="file-input"' in page.text
    for asset in ("/static/app.js", "/static/style.css"):
        res = client.get(asset)
        assert res.status_code == 200
        assert "http://" not in res.text and "https://" not in res.text  # no CDN, no web fonts
    assert "http://" not in page.text and "https://" not in page.text


def test_healthz_model_and_openapi(client: TestClient, clf: GenreClassifier) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    info = client.get("/api/model").json()
    assert info == {
        "model_id": clf.model_id,
        "labels": LABELS,
        "window_seconds": 3.0,
        "model_card": None,
    }
    spec = client.get("/openapi.json").json()
    assert {"/api/predict", "/api/model", "/healthz"} <= set(spec["paths"])
    assert "multipart/form-data" in spec["paths"]["/api/predict"]["post"]["requestBody"]["content"]
    assert client.get("/docs").status_code == 404  # disabled: its assets come from a CDN


def test_model_card_beside_the_checkpoint(mfcc_ckpt: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.ckpt").write_bytes(mfcc_ckpt.read_bytes())
    (run / "MODEL_CARD.md").write_text("# Tone vs noise\nA test model.\n")
    with TestClient(create_app(musicgenre.load(run))) as c:
        assert c.get("/api/model").json()["model_card"] == "# Tone vs noise\nA test model.\n"


def test_predict_gives_the_records_of_predict_json(
    client: TestClient, audio: dict[str, Path], mfcc_ckpt: Path
) -> None:
    res = client.post("/api/predict", files=upload(audio["tone.wav"], audio["noise.flac"]))
    assert res.status_code == 200, res.text
    records = res.json()
    code, out, _ = run_cli(
        "predict", mfcc_ckpt, audio["tone.wav"], audio["noise.flac"], "-f", "json", "--windows"
    )
    assert code == 0
    expected = json.loads(out)
    for rec, exp in zip(records, expected, strict=True):
        assert rec["path"] == Path(exp["path"]).name  # the client's file name, not a server path
        assert {**rec, "path": None} == {**exp, "path": None}
    assert [r["top_genre"] for r in records] == ["tone", "noise"]


# ---------------------------------------------------------------------------------------------- bad input
def cli_message(clf: GenreClassifier, path: Path) -> str:
    """The CLI's one-line message for ``path``, with the file named as the client names it."""
    with pytest.raises(AudioError) as info:
        clf.predict(path)
    return f"{path.name}: {info.value.problem}"


@pytest.mark.parametrize(
    ("name", "status", "problem"),
    [
        ("notes.mp3", 422, "not a valid MP3 file"),
        ("cut.flac", 422, "corrupt or truncated"),
        ("empty.wav", 422, "zero-length file"),
        ("song.xyz", 415, "unsupported format .xyz"),
    ],
)
def test_bad_files_get_the_cli_message_and_the_server_goes_on(
    client: TestClient, clf: GenreClassifier, audio: dict[str, Path], name: str, status: int, problem: str
) -> None:
    res = client.post("/api/predict", files=upload(audio["tone.wav"], audio[name]))
    assert res.status_code == status
    detail = res.json()["detail"]
    assert detail == cli_message(clf, audio[name])
    assert detail.startswith(f"{name}: ") and problem in detail and "\n" not in detail
    assert client.post("/api/predict", files=upload(audio["tone.wav"])).status_code == 200


def test_requests_without_files_are_400(client: TestClient, audio: dict[str, Path]) -> None:
    res = client.post("/api/predict", data={"note": "hi"})
    assert res.status_code == 400 and "multipart" in res.json()["detail"]
    wrong_field = [("file", ("tone.wav", audio["tone.wav"].read_bytes(), "audio/wav"))]
    res = client.post("/api/predict", files=wrong_field)
    assert res.status_code == 400 and "'files'" in res.json()["detail"]


def test_upload_over_the_limit_is_413(client: TestClient) -> None:
    big = [("files", ("big.wav", b"\x00" * 2_100_000, "audio/wav"))]
    res = client.post("/api/predict", files=big)  # refused on its Content-Length
    assert res.status_code == 413 and "2 MB" in res.json()["detail"]
    body = b"".join([b"\x00" * 100_000] * 22)

    def chunks():  # no Content-Length: refused by counting
        yield from (body[i : i + 100_000] for i in range(0, len(body), 100_000))

    res = client.post(
        "/api/predict", content=chunks(), headers={"content-type": "multipart/form-data; boundary=xyz"}
    )
    assert res.status_code == 413
    assert client.get("/healthz").status_code == 200


def test_upload_is_refused_while_streaming(tmp_path: Path) -> None:
    """The limit is checked per chunk: the rest of the body is never read, and only what came is on disk."""
    head = b'--B\r\nContent-Disposition: form-data; name="files"; filename="x.wav"\r\n\r\n'
    pulled = []

    async def body():
        yield head
        for i in range(1000):  # 64 MB if read to the end
            pulled.append(i)
            yield b"\x01" * 65536

    headers = {"content-type": "multipart/form-data; boundary=B"}
    with pytest.raises(UploadTooLarge, match=r"0\.5 MB"):
        asyncio.run(receive_files(headers, body(), tmp_path, 500_000))
    assert len(pulled) == 8  # 8 x 64 KiB passes 500 kB
    assert (tmp_path / "0" / "x.wav").stat().st_size < 500_000


def test_client_names() -> None:
    assert client_name("C:\\music\\song.mp3") == "song.mp3"
    assert client_name("../../etc/passwd") == "passwd"
    assert client_name("..") == "upload"


# ---------------------------------------------------------------------------------------------- temp files
def test_uploads_are_deleted_after_success_and_failure(
    client: TestClient, audio: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    assert client.post("/api/predict", files=upload(audio["tone.wav"])).status_code == 200
    assert list(tmp.iterdir()) == []
    assert client.post("/api/predict", files=upload(audio["notes.mp3"])).status_code == 422
    assert list(tmp.iterdir()) == []
    big = [("files", ("big.wav", b"\x00" * 2_100_000, "audio/wav"))]
    assert client.post("/api/predict", files=big).status_code == 413
    assert list(tmp.iterdir()) == []


# ---------------------------------------------------------------------------------------------- concurrency
class GatedClassifier:
    """A fake classifier whose predictions wait for ``gate``; it records the files it saw."""

    labels = ("a", "b")
    model_id = "fake:gated"
    checkpoint_path = None

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.started = threading.Semaphore(0)
        self.seen: list[tuple[Path, bool]] = []

    def predict(self, path: str | Path) -> PredictionResult:
        self.seen.append((Path(path), Path(path).exists()))
        self.started.release()
        assert self.gate.wait(30), "the test never opened the gate"
        return PredictionResult(
            path=str(path),
            top_genre="a",
            confidence=0.75,
            probabilities={"a": 0.75, "b": 0.25},
            margin=0.5,
            entropy=0.8,
            duration=6.0,
            n_windows=2,
            windows_used=2,
            window_seconds=3.0,
            hop_seconds=3.0,
            window_times=np.array([0.0, 3.0]),
            window_probabilities=np.array([[0.7, 0.3], [0.8, 0.2]], dtype=np.float32),
            window_silent=np.array([False, False]),
            labels=self.labels,
            aggregate="mean",
            model_id=self.model_id,
        )


def test_busy_server_answers_healthz_and_refuses_with_503(tmp_path: Path) -> None:
    fake = GatedClassifier()
    files = [("files", ("a.wav", b"RIFF....", "audio/wav"))]
    with (
        TestClient(create_app(fake, ServeSettings(workers=1, queue=1, retry_after=7))) as c,
        ThreadPoolExecutor(2) as threads,
    ):
        running = [threads.submit(c.post, "/api/predict", files=files) for _ in range(2)]
        assert fake.started.acquire(timeout=30)  # one is being labelled (the other waits in the queue)
        deadline = time.monotonic() + 30
        while c.get("/healthz").json()["in_progress"] < 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        start = time.monotonic()
        health = c.get("/healthz")  # answers during the long inference
        assert health.status_code == 200 and time.monotonic() - start < 5
        refused = c.post("/api/predict", files=files)
        assert refused.status_code == 503 and refused.headers["retry-after"] == "7"
        assert "busy" in refused.json()["detail"]
        fake.gate.set()
        answers = [f.result(timeout=30) for f in running]
    assert [a.status_code for a in answers] == [200, 200]
    assert all(a.json()[0]["path"] == "a.wav" and len(a.json()[0]["windows"]) == 2 for a in answers)
    assert all(existed for _, existed in fake.seen)  # the upload was on disk while labelled ...
    assert not any(p.exists() for p, _ in fake.seen)  # ... and removed after


def test_concurrent_requests_all_answered(clf: GenreClassifier, audio: dict[str, Path]) -> None:
    files = upload(audio["tone.wav"])
    with (
        TestClient(create_app(clf, ServeSettings(workers=2, queue=6))) as c,
        ThreadPoolExecutor(6) as threads,
    ):
        answers = list(threads.map(lambda _: c.post("/api/predict", files=files), range(6)))
    assert [a.status_code for a in answers] == [200] * 6
    assert {a.json()[0]["top_genre"] for a in answers} == {"tone"}
