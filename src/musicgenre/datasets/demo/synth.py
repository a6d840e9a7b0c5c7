"""Synthesis for the demo set: wavetable, FM and formant voices, drum one-shots, and placing hits on a bus."""

from __future__ import annotations

import dataclasses

import numpy as np

from musicgenre.datasets.demo.instruments import _FORMANT_BW, _VOWELS, INSTRUMENTS, Timbre

_TABLE = 2048  # wavetable length (power of two)


def _midi_hz(m: float) -> float:
    return 440.0 * 2.0 ** ((m - 69.0) / 12.0)


def _wavetable(weights: np.ndarray) -> np.ndarray:
    """One period of sum_k weights[k-1] * sin(2 pi k x), normalised to peak 1 (built with an inverse FFT)."""
    spec = np.zeros(_TABLE // 2 + 1, dtype=np.complex128)
    n = min(weights.shape[0], _TABLE // 2 - 1)
    spec[1 : n + 1] = -0.5j * _TABLE * weights[:n]
    tab = np.fft.irfft(spec, _TABLE)
    return (tab / max(float(np.abs(tab).max()), 1e-9)).astype(np.float32)


class _Synth:
    """Renders notes and drum hits for one track, caching tables and identical notes."""

    def __init__(self, sr: int, rng: np.random.Generator) -> None:
        self.sr = sr
        self.rng = rng
        self.tables: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self.notes: dict[tuple, np.ndarray] = {}
        self.voices: dict[str, Timbre] = {}

    # -- instruments ------------------------------------------------------------------------------------
    def voice(self, name: str, drive: float | None = None) -> Timbre:
        """This track's variant of an instrument (randomised once per track)."""
        key = name if drive is None else f"{name}@{drive:.3f}"
        if key not in self.voices:
            base = INSTRUMENTS[name]
            r = self.rng
            j = lambda lo, hi: float(r.uniform(lo, hi))  # noqa: E731
            v = dataclasses.replace(
                base,
                slope=max(0.2, base.slope + j(-0.25, 0.25)),
                attack=base.attack * j(0.7, 1.4),
                decay=base.decay * j(0.7, 1.4),
                vibrato=base.vibrato * j(0.6, 1.4),
                detune=base.detune * j(0.5, 1.5),
                fm_index=base.fm_index * j(0.8, 1.25),
                drive=base.drive if (drive is None or base.drive == 0) else drive,
            )
            self.voices[key] = v
        return self.voices[key]

    def _tables(self, v: Timbre, f0: float, vowel: str) -> tuple[np.ndarray, np.ndarray]:
        nyq_h = max(1, int(0.45 * self.sr / f0))
        key = (id(v), round(f0, 3), vowel)
        hit = self.tables.get(key)
        if hit is not None:
            return hit
        if v.kind == "vocal":
            n = min(nyq_h, 48)
            k = np.arange(1, n + 1, dtype=np.float64)
            freqs, amps = _VOWELS[vowel]
            w = 0.02 / k
            for fc, a, bw in zip(freqs, amps, _FORMANT_BW, strict=True):
                w = w + a / (1.0 + ((k * f0 - fc) / bw) ** 2)
            bright = dark = _wavetable(w)
        else:
            n = min(nyq_h, v.max_harm)
            k = np.arange(1, n + 1, dtype=np.float64)
            w = k**-v.slope
            w[1::2] *= v.even
            if v.pluck_pos > 0:
                w *= np.abs(np.sin(np.pi * k * v.pluck_pos)) + 0.05
            bright = _wavetable(w)
            dark = _wavetable(w * k**-1.5) if v.bright_tau > 0 else bright
        self.tables[key] = (bright, dark)
        return bright, dark

    def note(self, name: str, midis: tuple[float, ...], n: int, drive: float | None = None) -> np.ndarray:
        """Render ``midis`` (a chord or one note) held for ``n`` samples, plus its release tail."""
        v = self.voice(name, drive)
        vowel = ""
        if v.kind == "vocal":
            vowel = "aeiou"[int(self.rng.integers(0, 5))]
        key = (name, drive, midis, n, vowel)
        hit = self.notes.get(key)
        if hit is not None:
            return hit
        sr = self.sr
        gate = max(1, int(n * v.gate))
        n_rel = int(v.release * sr)
        total = gate + n_rel
        t = np.arange(total, dtype=np.float64) / sr
        y = np.zeros(total, dtype=np.float64)
        # warped time: phase = f * tw, with vibrato (shared by all voices) folded in
        tw = t
        if v.vibrato > 0:
            dev = 2.0 ** (v.vibrato / 12.0) - 1.0
            w = 2.0 * np.pi * v.vib_rate
            tw = t + (dev / w) * (1.0 - np.cos(w * t)) * np.minimum(t / 0.3, 1.0)
        if v.kind == "fm":
            fm_idx = v.fm_index_end + (v.fm_index - v.fm_index_end) * np.exp(-t / v.fm_tau)
        fade = np.exp(-t / v.bright_tau) if v.bright_tau > 0 else None
        for m in midis:
            f0 = _midi_hz(m)
            detunes = (0.0, v.detune) if v.detune > 0 else (0.0,)
            for cents in detunes:
                f = f0 * 2.0 ** (cents / 1200.0)
                if v.kind == "fm":
                    phase = (2.0 * np.pi * f) * tw
                    y += np.sin(phase + fm_idx * np.sin(v.fm_ratio * phase))
                    continue
                bright, dark = self._tables(v, f, vowel)
                i = ((f * _TABLE) * tw).astype(np.int64) & (_TABLE - 1)
                if fade is not None:
                    d = dark[i]
                    y += d + fade * (bright[i] - d)
                else:
                    y += bright[i]
        y /= np.sqrt(len(midis) * (2 if v.detune > 0 else 1))
        if v.breath > 0:
            y += v.breath * self.rng.standard_normal(total)
        env = np.minimum(t / max(v.attack, 1e-3), 1.0)
        env *= v.sustain + (1.0 - v.sustain) * np.exp(-np.maximum(t - v.attack, 0.0) / v.decay)
        if n_rel > 0:
            env[gate:] *= np.linspace(1.0, 0.0, n_rel)
        else:
            env[-min(64, total) :] *= np.linspace(1.0, 0.0, min(64, total))
        y *= env
        if v.drive > 0:
            y = np.tanh(v.drive * y) / np.tanh(v.drive)
        out = y.astype(np.float32)
        self.notes[key] = out
        return out

    # -- drums ------------------------------------------------------------------------------------------
    def _noise(self, n: int) -> np.ndarray:
        return self.rng.standard_normal(n)

    def drum(self, kind: str) -> np.ndarray:
        """A one-shot drum sound (float32), randomised once per track."""
        key = ("drum", kind)
        hit = self.notes.get(key)
        if hit is not None:
            return hit
        sr, r = self.sr, self.rng
        u = lambda lo, hi: float(r.uniform(lo, hi))  # noqa: E731

        def tdec(dur: float) -> np.ndarray:
            return np.arange(int(dur * sr)) / sr

        def hp(x: np.ndarray) -> np.ndarray:
            return np.diff(x, prepend=0.0)

        def lp(x: np.ndarray, k: int) -> np.ndarray:
            return np.convolve(x, np.ones(k) / k, mode="same")

        if kind in ("kick", "acoustic", "tight", "punchy", "metal", "808"):
            params = {
                "acoustic": (u(100, 140), u(45, 60), 0.04, u(0.12, 0.2), 0.3),
                "tight": (u(130, 170), u(48, 58), 0.03, u(0.09, 0.14), 0.4),
                "punchy": (u(150, 190), u(45, 55), 0.035, u(0.15, 0.25), 0.5),
                "metal": (u(180, 240), u(55, 70), 0.02, u(0.06, 0.1), 1.0),
                "808": (u(90, 120), u(38, 50), 0.05, u(0.5, 0.9), 0.2),
            }[kind if kind != "kick" else "acoustic"]
            f1, f2, sweep, tau, click = params
            t = tdec(min(6 * tau, 1.5))
            f = f2 + (f1 - f2) * np.exp(-t / sweep)
            y = np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / tau)
            nc = int(0.004 * sr)
            y[:nc] += click * hp(self._noise(nc)) * np.linspace(1, 0, nc)
        elif kind in ("snare", "rim", "clap"):
            if kind == "snare":
                t = tdec(0.4)
                tone = np.sin(2 * np.pi * u(170, 230) * t) * np.exp(-t / 0.05)
                y = 0.6 * tone + hp(lp(self._noise(t.size), 2)) * np.exp(-t / u(0.09, 0.17))
            elif kind == "rim":
                t = tdec(0.12)
                y = np.sin(2 * np.pi * u(400, 520) * t) * np.exp(-t / 0.015) + 0.6 * hp(
                    self._noise(t.size)
                ) * np.exp(-t / 0.01)
            else:
                t = tdec(0.35)
                env = np.exp(-t / u(0.06, 0.1))
                for d in (0.0, 0.01, 0.02):
                    env = np.maximum(env, (t >= d) * np.exp(-np.maximum(t - d, 0) / 0.006))
                y = hp(lp(self._noise(t.size), 3)) * env * 1.5
        elif kind in ("hat", "ohat", "pedal", "shaker"):
            dur, tau = {"hat": (0.12, u(0.02, 0.05)), "ohat": (0.6, u(0.2, 0.35)), "pedal": (0.1, 0.02)}.get(
                kind, (0.1, 0.03)
            )
            t = tdec(dur)
            y = hp(hp(self._noise(t.size))) * np.exp(-t / tau) * 0.5
        elif kind in ("ride", "crash"):
            t = tdec(1.6 if kind == "crash" else 1.0)
            if kind == "ride":
                base = u(2800, 3600)
                bell = sum(np.sin(2 * np.pi * base * q * t) for q in (1.0, 1.47, 1.82, 2.37, 2.91)) / 5
                y = 0.6 * bell * np.exp(-t / 0.5) + 0.4 * hp(hp(self._noise(t.size))) * np.exp(-t / 0.35)
            else:
                y = hp(self._noise(t.size)) * np.exp(-t / u(0.6, 1.1)) * 0.8
        elif kind in ("timpani", "tom"):
            t = tdec(1.2 if kind == "timpani" else 0.5)
            f = u(70, 100) if kind == "timpani" else u(100, 160)
            y = np.sin(2 * np.pi * f * t) * np.exp(-t / (0.8 if kind == "timpani" else 0.25))
            y += 0.1 * lp(self._noise(t.size), 8) * np.exp(-t / 0.1)
        else:  # pragma: no cover - programming error
            raise ValueError(kind)
        out = (y / max(float(np.abs(y).max()), 1e-9)).astype(np.float32)
        self.notes[key] = out
        return out


def _add(bus: np.ndarray, start: int, x: np.ndarray, gain: float) -> None:
    if start >= bus.shape[0] or gain == 0.0:
        return
    if start < 0:
        x = x[-start:]
        start = 0
    end = min(bus.shape[0], start + x.shape[0])
    bus[start:end] += gain * x[: end - start]


_VEL = {"X": 1.0, "x": 0.8, "o": 0.55, "g": 0.25}


def _hits(pattern: str, rng: np.random.Generator, drop: float = 0.0) -> list[tuple[int, float]]:
    out = []
    for s, ch in enumerate(pattern):
        if ch == "?":
            if rng.random() < 0.35:
                out.append((s, 0.45))
        elif ch in _VEL and not (drop and rng.random() < drop):
            out.append((s, _VEL[ch]))
    return out
