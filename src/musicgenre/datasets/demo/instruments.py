"""Instruments of the synthetic demo set: the synthesised voices (``Timbre``) and vowel formants."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Timbre:
    """A synthesised instrument voice."""

    kind: str = "table"  # table (additive wavetable) | fm | vocal (formant wavetable)
    slope: float = 1.0  # harmonic k has amplitude k**-slope
    even: float = 1.0  # weight of even harmonics (0: odd only, like a square wave or reed)
    pluck_pos: float = 0.0  # >0: comb weighting |sin(pi k p)| of a plucked string
    bright_tau: float = 0.0  # >0: bright -> dark crossfade time constant (plucked/filter envelope)
    max_harm: int = 24
    attack: float = 0.005
    decay: float = 0.4  # time constant of the decay to the sustain level
    sustain: float = 0.7
    release: float = 0.05
    vibrato: float = 0.0  # depth in semitones
    vib_rate: float = 5.5
    detune: float = 0.0  # cents of a second, detuned voice
    breath: float = 0.0  # amount of enveloped noise
    fm_ratio: float = 1.0
    fm_index: float = 0.0
    fm_index_end: float = 0.0
    fm_tau: float = 0.3
    drive: float = 0.0  # tanh distortion gain (0: clean)
    gate: float = 1.0  # fraction of the note length that the key is held


INSTRUMENTS: dict[str, Timbre] = {
    # keys and chord instruments
    "piano": Timbre(slope=1.3, bright_tau=0.15, decay=0.9, sustain=0.0, release=0.08, attack=0.003, detune=2),
    "epiano": Timbre(
        kind="fm", fm_ratio=1.0, fm_index=2.5, fm_index_end=0.3, fm_tau=0.3, decay=1.2, sustain=0.1
    ),
    "organ": Timbre(
        slope=0.6, even=0.7, max_harm=8, attack=0.01, sustain=1.0, decay=1.0, vibrato=0.05, vib_rate=6.5
    ),
    "strings": Timbre(
        slope=1.0, max_harm=30, attack=0.3, decay=1.0, sustain=0.9, release=0.4, vibrato=0.12, detune=9
    ),
    "synth_pad": Timbre(slope=1.0, max_harm=24, attack=0.06, sustain=0.85, release=0.2, detune=15),
    "guitar_clean": Timbre(pluck_pos=0.18, slope=0.8, bright_tau=0.08, decay=0.6, sustain=0.0, attack=0.002),
    "acoustic": Timbre(
        pluck_pos=0.12, slope=0.6, bright_tau=0.12, decay=0.8, sustain=0.0, attack=0.002, detune=4
    ),
    "guitar_od": Timbre(pluck_pos=0.2, slope=0.9, bright_tau=0.1, decay=1.5, sustain=0.4, drive=4.0),
    "guitar_dist": Timbre(pluck_pos=0.2, slope=0.8, decay=2.0, sustain=0.6, drive=12.0, detune=10),
    "guitar_skank": Timbre(pluck_pos=0.1, slope=0.6, bright_tau=0.03, decay=0.08, sustain=0.0, gate=0.5),
    "guitar_scratch": Timbre(pluck_pos=0.1, slope=0.5, decay=0.035, sustain=0.0, gate=0.4),
    "banjo": Timbre(pluck_pos=0.08, slope=0.4, bright_tau=0.05, decay=0.25, sustain=0.0, attack=0.001),
    "harp": Timbre(pluck_pos=0.3, slope=1.5, bright_tau=0.2, decay=1.2, sustain=0.0),
    # basses
    "upright": Timbre(slope=2.2, max_harm=8, bright_tau=0.05, decay=0.7, sustain=0.0, attack=0.01),
    "electric_bass": Timbre(slope=1.8, max_harm=12, pluck_pos=0.2, decay=1.0, sustain=0.3),
    "synth_bass": Timbre(slope=1.0, max_harm=20, bright_tau=0.1, decay=0.3, sustain=0.5),
    "sub": Timbre(slope=4.0, max_harm=3, decay=1.5, sustain=0.6),
    "cello": Timbre(slope=1.1, max_harm=24, attack=0.15, sustain=0.9, release=0.3, vibrato=0.12),
    "dist_bass": Timbre(slope=1.5, max_harm=16, decay=1.0, sustain=0.6, drive=3.0),
    # leads
    "harmonica": Timbre(slope=1.0, even=0.3, vibrato=0.2, vib_rate=5.0, breath=0.1, attack=0.02, sustain=0.9),
    "violin": Timbre(slope=0.9, max_harm=24, vibrato=0.25, attack=0.06, sustain=0.9, release=0.15),
    "fiddle": Timbre(slope=0.8, max_harm=24, vibrato=0.15, attack=0.03, sustain=0.85, release=0.08),
    "flute": Timbre(slope=3.0, max_harm=4, breath=0.15, vibrato=0.15, attack=0.05, sustain=0.9, release=0.1),
    "sax": Timbre(
        kind="fm", fm_index=2.0, fm_index_end=1.5, fm_tau=0.5, breath=0.08, vibrato=0.15, attack=0.03
    ),
    "trumpet": Timbre(kind="fm", fm_index=3.5, fm_index_end=2.5, fm_tau=0.3, attack=0.04, sustain=0.8),
    "brass": Timbre(kind="fm", fm_index=3.0, fm_index_end=2.0, attack=0.03, decay=0.2, sustain=0.7, detune=8),
    "synth_lead": Timbre(slope=1.0, even=0.0, vibrato=0.1, detune=6, sustain=0.9),
    "guitar_lead": Timbre(slope=0.8, sustain=0.8, decay=1.0, vibrato=0.2, vib_rate=6.0, drive=8.0),
    "vocal": Timbre(kind="vocal", vibrato=0.3, attack=0.05, sustain=0.9, breath=0.05, release=0.1),
    "rap": Timbre(kind="vocal", attack=0.01, decay=0.15, sustain=0.6, breath=0.15, gate=0.8),
    "melodica": Timbre(slope=1.2, even=0.5, vibrato=0.08, attack=0.02, sustain=0.9),
    "steel": Timbre(slope=2.0, vibrato=0.1, attack=0.08, sustain=0.9, release=0.2),
}

_VOWELS = {
    "a": ((730, 1090, 2440), (1.0, 0.5, 0.25)),
    "e": ((530, 1840, 2480), (1.0, 0.4, 0.3)),
    "i": ((270, 2290, 3010), (1.0, 0.25, 0.2)),
    "o": ((570, 840, 2410), (1.0, 0.6, 0.15)),
    "u": ((300, 870, 2240), (1.0, 0.3, 0.1)),
}
_FORMANT_BW = (90.0, 110.0, 150.0)
