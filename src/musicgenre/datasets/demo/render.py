"""Track rendering for the demo set: per-track plan, arrangement of the parts, mix and master."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musicgenre.datasets.demo.styles import NEIGHBOURS, STYLES, Style
from musicgenre.datasets.demo.synth import _add, _hits, _Synth
from musicgenre.datasets.demo.theory import CHORDS, SCALES


@dataclass
class _Plan:
    """Per-track decisions, drawn from the style."""

    genre: str
    tempo: float
    swing: float
    key: int
    scale: tuple[int, ...]
    progression: tuple[tuple[int, str], ...]
    chords_per_bar: int
    drums: dict[str, str]
    kick_kind: str
    chord_instr: str
    chord_rhythm: str
    comp_instr: str | None
    comp_rhythm: str
    bass_instr: str
    bass_rhythm: str
    lead_instr: str | None
    lead_density: float
    drive: float
    levels: dict[str, float]
    borrowed: dict[str, str]


def _choice(rng: np.random.Generator, options: tuple) -> object:
    return options[int(rng.integers(0, len(options)))]


def _plan(genre: str, rng: np.random.Generator, borrow_prob: float) -> _Plan:
    st = STYLES[genre]
    borrowed: dict[str, str] = {}

    def src(element: str) -> Style:
        if rng.random() < borrow_prob:
            other = str(_choice(rng, NEIGHBOURS[genre]))
            borrowed[element] = other
            return STYLES[other]
        return st

    s_tempo, s_drums, s_chords, s_lead = src("tempo"), src("drums"), src("chords"), src("lead")
    drums = {name: str(_choice(rng, pats)) for name, pats in s_drums.drums.items()}
    has_lead = rng.random() < s_lead.lead_prob
    comp = str(_choice(rng, st.comp_instr)) if st.comp_instr and rng.random() < 0.8 else None
    levels = {part: db + float(rng.uniform(-3, 3)) for part, db in st.levels.items()}
    return _Plan(
        genre=genre,
        tempo=float(rng.uniform(*s_tempo.tempo)),
        swing=float(rng.uniform(*st.swing)),
        key=int(rng.integers(0, 12)),
        scale=SCALES[str(_choice(rng, st.scale))],
        progression=_choice(rng, st.progressions),  # type: ignore[arg-type]
        chords_per_bar=int(_choice(rng, st.chords_per_bar)),
        drums=drums,
        kick_kind=str(_choice(rng, s_drums.kick_kind)),
        chord_instr=str(_choice(rng, s_chords.chord_instr)),
        chord_rhythm=str(_choice(rng, s_chords.chord_rhythm)),
        comp_instr=comp,
        comp_rhythm=str(_choice(rng, st.comp_rhythm)),
        bass_instr=str(_choice(rng, st.bass_instr)),
        bass_rhythm=str(_choice(rng, st.bass_rhythm)),
        lead_instr=str(_choice(rng, s_lead.lead_instr)) if has_lead else None,
        lead_density=float(rng.uniform(*st.lead_density)),
        drive=float(rng.uniform(*st.drive)) if st.drive[1] > 0 else 0.0,
        levels=levels,
        borrowed=borrowed,
    )


def render_track(
    genre: str, rng: np.random.Generator, *, clip_seconds: float = 30.0, sample_rate: int = 22050
) -> np.ndarray:
    """Render one synthetic clip of ``genre`` as float32 in [-1, 1]."""
    st = STYLES[genre]
    sr = sample_rate
    n_out = int(round(clip_seconds * sr))
    p = _plan(genre, rng, borrow_prob=0.12)
    synth = _Synth(sr, rng)

    step = 60.0 / p.tempo / 4.0  # one 16th note, seconds
    n_bars = int(np.ceil(clip_seconds / (16 * step))) + 1
    jitter = st.humanize_ms / 1000.0

    def when(bar: int, s: float) -> int:
        """Sample index of step ``s`` in ``bar``, with swing and a little timing jitter."""
        pos = s % 4
        if st.swing_unit == 2:
            shift = {0: 0.0, 1: 0.33, 2: 0.67, 3: 0.5}.get(int(pos), 0.0) * p.swing
        else:
            shift = (0.33 * p.swing) if int(pos) % 2 == 1 else 0.0
        t = (bar * 16 + s + shift) * step + rng.normal(0.0, jitter)
        return int(round(t * sr))

    # Song sections, in 4-bar blocks: which parts play.
    parts = ("drums", "bass", "chords", "comp", "lead")
    on = {part: np.ones(n_bars, dtype=bool) for part in parts}
    for b0 in range(0, n_bars, 4):
        r = rng.random()
        blk = slice(b0, b0 + 4)
        if b0 == 0 and rng.random() < 0.35:  # intro
            on["lead"][blk] = False
            on[str(_choice(rng, ("drums", "bass", "comp")))][blk] = False
        elif r < 0.15:
            on["lead"][blk] = False
        elif r < 0.22:
            on["drums"][blk] = False
        elif r < 0.27:
            on["chords"][blk] = False

    buses = {part: np.zeros(n_out + sr, dtype=np.float32) for part in parts}

    # Harmony: the chord sounding at each (bar, half-bar).
    def chord_at(bar: int, s: int) -> tuple[int, tuple[int, ...]]:
        idx = bar * p.chords_per_bar + (s * p.chords_per_bar) // 16
        root, quality = p.progression[idx % len(p.progression)]
        return p.key + root, CHORDS[quality]

    # Drums
    kick_sound = p.kick_kind
    drum_gain = {
        "kick": 1.0,
        "snare": 0.8,
        "clap": 0.7,
        "rim": 0.5,
        "hat": 0.3,
        "ohat": 0.3,
        "pedal": 0.2,
        "ride": 0.3,
        "crash": 0.35,
        "timpani": 0.8,
    }
    kick_steps: list[tuple[int, int]] = []
    for bar in range(n_bars):
        if not on["drums"][bar]:
            continue
        fill = st.fill_prob > 0 and bar % 4 == 3 and rng.random() < st.fill_prob
        for name, pattern in p.drums.items():
            sound = synth.drum(kick_sound if name == "kick" else name)
            for s, vel in _hits(pattern, rng, drop=0.04):
                if fill and s >= 12 and name != "kick":
                    continue
                _add(
                    buses["drums"], when(bar, s), sound, drum_gain[name] * vel * float(rng.uniform(0.85, 1.0))
                )
                if name == "kick":
                    kick_steps.append((bar, s))
        if fill:
            snd = synth.drum("snare" if "snare" in p.drums or "clap" in p.drums else "tom")
            for s in range(12, 16):
                _add(buses["drums"], when(bar, s), snd, 0.6 + 0.1 * (s - 12))
        if bar % 4 == 0 and rng.random() < st.crash_prob:
            _add(buses["drums"], when(bar, 0), synth.drum("crash"), 0.4)

    drive = p.drive if p.drive > 0 else None

    # Chords
    octave = 12 * st.chord_octave
    for bar in range(n_bars):
        if not on["chords"][bar]:
            continue
        hits = _hits(p.chord_rhythm, rng)
        for i, (s, vel) in enumerate(hits):
            nxt = hits[i + 1][0] if i + 1 < len(hits) else 16
            dur = int((nxt - s) * step * sr)
            root, quality = chord_at(bar, s)
            base = 48 + (root - 48) % 12 + octave
            midis = tuple(float(base + iv) for iv in quality)
            start = when(bar, s)
            if st.strum_ms > 0:
                for j, m in enumerate(midis):
                    x = synth.note(p.chord_instr, (m,), dur, drive)
                    _add(
                        buses["chords"],
                        start + int(j * st.strum_ms * sr / 1000),
                        x,
                        vel / np.sqrt(len(midis)),
                    )
            else:
                _add(buses["chords"], start, synth.note(p.chord_instr, midis, dur, drive), vel)

    # Comp: arpeggios, organ bubble, scratch guitar
    if p.comp_instr:
        octave = 12 * st.comp_octave
        arp_i = 0
        for bar in range(n_bars):
            if not on["comp"][bar]:
                continue
            hits = _hits(p.comp_rhythm, rng, drop=0.05)
            for i, (s, vel) in enumerate(hits):
                nxt = hits[i + 1][0] if i + 1 < len(hits) else 16
                dur = int((nxt - s) * step * sr)
                root, quality = chord_at(bar, s)
                base = 48 + (root - 48) % 12 + octave
                if st.comp_mode == "arp":
                    tones = [base + iv for iv in quality] + [base + 12]
                    m = (
                        tones[arp_i % len(tones)]
                        if (arp_i // len(tones)) % 2 == 0
                        else tones[-1 - arp_i % len(tones)]
                    )
                    arp_i += 1
                    midis: tuple[float, ...] = (float(m),)
                else:
                    midis = tuple(float(base + iv) for iv in quality)
                _add(buses["comp"], when(bar, s), synth.note(p.comp_instr, midis, dur, drive), vel)

    # Bass
    bass_events: list[tuple[int, int, float]] = []  # (bar, step, midi)
    if st.bass_mode == "follow_kick":
        for bar, s in kick_steps:
            root, _ = chord_at(bar, s)
            bass_events.append((bar, s, float(28 + (root - 28) % 12)))
    else:
        for bar in range(n_bars):
            hits = _hits(p.bass_rhythm, rng)
            for k, (s, _vel) in enumerate(hits):
                root, quality = chord_at(bar, s)
                r0 = 28 + (root - 28) % 12
                mode = st.bass_mode
                if mode == "boogie":
                    m = r0 + (0, 4, 7, 9, 10, 9, 7, 4)[k % 8]
                elif mode == "octave":
                    m = r0 + (12 if k % 2 else 0)
                elif mode == "rootfifth":
                    m = r0 + (7 if k % 2 else 0)
                elif mode == "walking":
                    if s == 0:
                        m = r0
                    elif s == 12:
                        nroot, _ = chord_at(bar + 1, 0)
                        m = 28 + (nroot - 28) % 12 + int(_choice(rng, (-1, 1, -2)))
                    else:
                        m = r0 + int(_choice(rng, (*quality[1:], 2, 5, 9)))
                elif mode == "reggae":
                    m = r0 + int(_choice(rng, (0, 0, 7, 12, 3 if 3 in quality else 4, 10)))
                else:
                    m = r0
                bass_events.append((bar, s, float(m)))
    for i, (bar, s, m) in enumerate(bass_events):
        if not on["bass"][bar]:
            continue
        nb, ns, _ = bass_events[i + 1] if i + 1 < len(bass_events) else (bar + 1, 0, 0)
        steps = min((nb - bar) * 16 + ns - s, 16)
        dur = int(max(steps, 1) * step * sr * 0.92)
        vel = 1.0 if s % 4 == 0 else 0.8
        _add(buses["bass"], when(bar, s), synth.note(p.bass_instr, (m,), dur), vel)

    # Lead: phrases of 1-4 bars separated by rests.
    if p.lead_instr:
        lo, hi = st.lead_register
        scale = p.scale
        unit = st.lead_unit
        events: list[tuple[int, int, float]] = []
        bar = int(rng.integers(0, 2))
        deg = int(rng.integers(0, len(scale))) + len(scale)
        center = int(rng.integers(lo, hi - 6))
        while bar < n_bars:
            phrase = int(rng.integers(1, 5))
            for b in range(bar, min(n_bars, bar + phrase)):
                if not on["lead"][b]:
                    continue
                for s in range(0, 16, unit):
                    strong = 1.3 if s % 4 == 0 else 1.0
                    if rng.random() >= p.lead_density * strong:
                        continue
                    if st.lead_mode == "rap":
                        m = center + int(rng.integers(-2, 3))
                    else:
                        deg += int(_choice(rng, (-2, -1, -1, 0, 1, 1, 2, 3, -3)))
                        octv, pc = divmod(deg, len(scale))
                        m = p.key + 12 * octv + scale[pc] + 36
                        while m > hi:
                            m -= 12
                            deg -= len(scale)
                        while m < lo:
                            m += 12
                            deg += len(scale)
                    events.append((b, s, float(m)))
            bar += phrase + int(rng.integers(0, 3))
        for i, (b, s, m) in enumerate(events):
            nb, ns, _ = events[i + 1] if i + 1 < len(events) else (b + 1, 0, 0)
            steps = min((nb - b) * 16 + ns - s, 8)
            dur = int(max(steps, 1) * step * sr * st.lead_gate)
            vel = float(rng.uniform(0.7, 1.0))
            _add(buses["lead"], when(b, s), synth.note(p.lead_instr, (m,), dur, drive), vel)

    # Mix
    gains = {part: 10.0 ** (p.levels.get(part, -10.0) / 20.0) for part in parts}
    dry = np.zeros(n_out + sr, dtype=np.float64)
    for part in parts:
        bus = buses[part]
        peak = float(np.abs(bus).max())
        if peak > 0:
            dry += (gains[part] / peak) * bus
    if st.echo > 0:  # dub delay: dotted-eighth echoes of the chords
        d = int(3 * step * sr)
        src = buses["chords"] * (gains["chords"] / max(float(np.abs(buses["chords"]).max()), 1e-9))
        for k in range(1, 4):
            dry[d * k :] += (st.echo**k) * src[: dry.shape[0] - d * k]
    dry = dry[:n_out]
    return _master(dry, p, st, sr, rng)


def _fast_len(n: int) -> int:
    """The smallest 2^a * 3^b * 5^c >= n (a fast FFT length)."""
    best = 1 << int(np.ceil(np.log2(n)))
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def _master(dry: np.ndarray, p: _Plan, st: Style, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Reverb, recording EQ, noise, loudness automation, level and soft limiting, in one FFT pass."""
    n = dry.shape[0]
    rt60 = float(rng.uniform(*st.rt60))
    n_ir = int(min(rt60, 3.0) * sr)
    nfft = _fast_len(n + n_ir)
    t_ir = np.arange(n_ir) / sr
    ir = rng.standard_normal(n_ir) * np.exp(-6.9 * t_ir / rt60)
    ir[: int(0.012 * sr)] = 0.0  # pre-delay
    ir /= np.sqrt(np.sum(ir**2))
    wet = float(rng.uniform(*st.reverb))
    spec = np.fft.rfft(dry, nfft)
    spec *= 1.0 + wet * np.fft.rfft(ir, nfft)
    # recording colour: high-pass, low-pass, spectral tilt, one resonance; computed on a coarse grid
    nbins = nfft // 2 + 1
    kc = np.append(np.arange(0, nbins, 32), nbins - 1)
    f = np.maximum(kc * (sr / nfft), 1.0)
    fc_hp = float(rng.uniform(25, 110))
    fc_lp = float(rng.uniform(*st.lowpass))
    tilt = float(rng.uniform(-1.5, 1.5))  # dB per octave around 1 kHz
    bump_f, bump_db = float(np.exp(rng.uniform(np.log(200), np.log(4000)))), float(rng.uniform(-5, 5))
    db = tilt * np.log2(f / 1000.0) + bump_db * np.exp(-0.5 * (np.log2(f / bump_f) / 0.5) ** 2)
    eq = 10.0 ** (db / 20.0) * (f / fc_hp) ** 2 / (1.0 + (f / fc_hp) ** 2) / np.sqrt(1.0 + (f / fc_lp) ** 4)
    # background noise (hiss, or a darker rumble) at a random SNR relative to the dry mix
    shape = 1.0 / np.sqrt(f / 100.0 + 1.0) if rng.random() < 0.6 else np.ones_like(f)
    snr = float(rng.uniform(*st.snr_db))
    sig_pow = float(np.mean(dry**2)) + 1e-12
    noise_pow = 4.0 * float(np.mean(shape**2)) * nbins / nfft**2  # time-domain power of the noise below
    noise_gain = shape * np.sqrt(sig_pow / noise_pow) * 10.0 ** (-snr / 20.0)
    k = np.arange(nbins)
    noise = rng.standard_normal((nbins, 2)).view(np.complex128)[:, 0]
    spec += noise * np.interp(k, kc, noise_gain)
    spec *= np.interp(k, kc, eq)
    y = np.fft.irfft(spec, nfft)[:n]
    # slow loudness automation (crescendos for classical, a little elsewhere)
    depth = float(rng.uniform(*st.swell))
    if depth > 0:
        t = np.arange(n) / sr
        period, phase = float(rng.uniform(8, 20)), float(rng.uniform(0, 2 * np.pi))
        y *= 1.0 + depth * np.sin(2 * np.pi * t / period + phase)
    rms = float(np.sqrt(np.mean(y**2))) + 1e-12
    y *= 10.0 ** (float(rng.uniform(*st.rms_db)) / 20.0) / rms
    y = 0.98 * np.tanh(y / 0.98)
    return y.astype(np.float32)
