"""A synthetic, deterministic 10-genre dataset in GTZAN layout, for demos, tests and CI without real audio.

Every track is rendered from a per-genre *style* (tempo range, swing, drum patterns on a 16-step grid,
chord progression, scale, instruments for chords/bass/lead, distortion, reverb and recording colour) with
per-track random variation (tempo, key, pattern and instrument choice, mix levels, EQ, noise, song
sections, and now and then an element borrowed from a related genre), so that a classifier has to
generalise across tracks rather than memorise one sound per class.

Synthesis is vectorised numpy: wavetable (additive) and FM voices with ADSR envelopes, noise/sine drum
one-shots, tanh distortion, and one FFT pass per track for reverb, EQ and noise. Everything is driven by
``numpy.random.Generator`` streams seeded from ``(seed, genre, track)``, so the same seed gives
byte-identical files, and each track is independent of how many tracks are generated.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from musicgenre.datasets.gtzan import GTZAN_GENRES
from musicgenre.fileio import write_bytes

#: Bump when the synthesis changes, so that existing demo folders are regenerated.
DEMO_VERSION = 1
MANIFEST_NAME = ".musicgenre-demo.json"
README_NAME = "README.txt"

_TABLE = 2048  # wavetable length (power of two)

# --------------------------------------------------------------------------------------------------------
# Music theory

SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "blues": (0, 3, 5, 6, 7, 10),
    "major_pent": (0, 2, 4, 7, 9),
    "minor_pent": (0, 3, 5, 7, 10),
    "bebop": (0, 2, 4, 5, 7, 9, 10, 11),
}

CHORDS = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "7": (0, 4, 7, 10),
    "m7": (0, 3, 7, 10),
    "maj7": (0, 4, 7, 11),
    "9": (0, 4, 10, 14),
    "m9": (0, 3, 10, 14),
    "5": (0, 7, 12),
    "dim": (0, 3, 6),
}

# --------------------------------------------------------------------------------------------------------
# Instruments


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

# --------------------------------------------------------------------------------------------------------
# Genre styles

Pattern = str  # 16 steps: X (1.0) x (0.8) o (0.55) g (ghost 0.25) ? (random, p=0.35) . (rest)


@dataclass(frozen=True)
class Style:
    """How one genre sounds. Tuples of alternatives are chosen from per track."""

    tempo: tuple[float, float]
    swing: tuple[float, float] = (0.0, 0.0)
    swing_unit: int = 1  # 1: 16th-note swing, 2: 8th-note swing (shuffle)
    humanize_ms: float = 4.0
    drums: dict[str, tuple[Pattern, ...]] = field(default_factory=dict)  # drum -> alternative patterns
    kick_kind: tuple[str, ...] = ("acoustic",)
    fill_prob: float = 0.3
    crash_prob: float = 0.0
    scale: tuple[str, ...] = ("major",)
    progressions: tuple[tuple[tuple[int, str], ...], ...] = (((0, "maj"),),)
    chords_per_bar: tuple[int, ...] = (1,)
    chord_instr: tuple[str, ...] = ("piano",)
    chord_rhythm: tuple[Pattern, ...] = ("x...............",)
    chord_octave: int = 0
    strum_ms: float = 0.0
    comp_instr: tuple[str, ...] = ()  # second chord part (arpeggio, organ bubble, scratch guitar)
    comp_rhythm: tuple[Pattern, ...] = ("x.x.x.x.x.x.x.x.",)
    comp_mode: str = "chord"  # chord | arp
    comp_octave: int = 1
    bass_instr: tuple[str, ...] = ("electric_bass",)
    bass_mode: str = "root"  # root | rootfifth | octave | boogie | walking | follow_kick | reggae | half
    bass_rhythm: tuple[Pattern, ...] = ("x.x.x.x.x.x.x.x.",)
    lead_instr: tuple[str, ...] = ("synth_lead",)
    lead_prob: float = 1.0  # probability that a track has a lead at all
    lead_density: tuple[float, float] = (0.3, 0.5)
    lead_unit: int = 2  # grid of lead onsets in 16th steps
    lead_register: tuple[int, int] = (60, 79)
    lead_mode: str = "melody"  # melody | rap
    lead_gate: float = 0.9
    drive: tuple[float, float] = (0.0, 0.0)  # overrides the distortion of driven instruments
    levels: dict[str, float] = field(default_factory=dict)  # part -> dB
    reverb: tuple[float, float] = (0.1, 0.25)
    rt60: tuple[float, float] = (0.8, 1.6)
    lowpass: tuple[float, float] = (6000.0, 10500.0)
    snr_db: tuple[float, float] = (35.0, 55.0)
    rms_db: tuple[float, float] = (-20.0, -15.0)
    swell: tuple[float, float] = (0.0, 0.15)  # slow loudness automation depth
    echo: float = 0.0  # dub delay on the comp part


_BACKBEAT = "....x.......x..."
_EIGHTHS = "x.x.x.x.x.x.x.x."
_SIXTEENTHS = "xxxxxxxxxxxxxxxx"
_TWELVE_BAR = tuple((r, "7") for r in (0, 0, 0, 0, 5, 5, 0, 0, 7, 5, 0, 7))

STYLES: dict[str, Style] = {
    "blues": Style(
        tempo=(70, 100),
        swing=(0.7, 1.0),
        swing_unit=2,
        humanize_ms=8,
        drums={
            "kick": ("x.......x.......", "x.....o.x......."),
            "snare": (_BACKBEAT, "....x.....g.x..."),
            "ride": ("x.xxx.xxx.xxx.xx", "x.x.x.x.x.x.x.x."),
        },
        scale=("blues", "minor_pent"),
        progressions=(
            _TWELVE_BAR,
            ((0, "7"), (5, "7"), *_TWELVE_BAR[2:]),  # quick change to IV in bar 2
        ),
        chord_instr=("piano", "organ", "guitar_od"),
        chord_rhythm=(_EIGHTHS, "x...x...x...x..."),
        bass_instr=("electric_bass", "upright"),
        bass_mode="boogie",
        bass_rhythm=(_EIGHTHS,),
        lead_instr=("harmonica", "guitar_lead"),
        lead_density=(0.35, 0.55),
        lead_register=(60, 79),
        drive=(1.5, 3.0),
        levels={"drums": -7, "bass": -4, "chords": -7, "comp": -12, "lead": -5},
        reverb=(0.15, 0.3),
        lowpass=(4500, 8000),
        snr_db=(30, 45),
    ),
    "classical": Style(
        tempo=(60, 100),
        humanize_ms=10,
        drums={"timpani": ("x...............", "................")},
        fill_prob=0.0,
        scale=("major", "harmonic_minor"),
        progressions=(
            ((0, "maj"), (5, "maj"), (7, "maj"), (0, "maj")),
            ((0, "maj"), (9, "min"), (2, "min"), (7, "7")),
            ((0, "min"), (5, "min"), (7, "maj"), (0, "min")),
            ((0, "min"), (8, "maj"), (5, "min"), (7, "7")),
        ),
        chords_per_bar=(1, 2),
        chord_instr=("strings",),
        chord_rhythm=("x...............",),
        comp_instr=("harp", "piano", "strings"),
        comp_rhythm=(_EIGHTHS, _SIXTEENTHS, "x...x...x...x..."),
        comp_mode="arp",
        bass_instr=("cello",),
        bass_mode="half",
        bass_rhythm=("x.......x.......",),
        lead_instr=("violin", "flute"),
        lead_prob=0.8,
        lead_density=(0.4, 0.7),
        lead_register=(67, 88),
        lead_gate=1.0,
        levels={"drums": -14, "bass": -8, "chords": -6, "comp": -9, "lead": -6},
        reverb=(0.35, 0.6),
        rt60=(1.8, 3.0),
        lowpass=(5000, 10000),
        snr_db=(32, 50),
        rms_db=(-26, -19),
        swell=(0.2, 0.5),
    ),
    "country": Style(
        tempo=(95, 135),
        swing=(0.0, 0.15),
        drums={
            "kick": ("x.......x.......", "x.....x.x......."),
            "snare": (_BACKBEAT, "....o.......o..."),
            "hat": (_EIGHTHS, "x.xxx.xxx.xxx.xx"),
        },
        scale=("major_pent", "major"),
        progressions=(
            ((0, "maj"), (5, "maj"), (7, "maj"), (0, "maj")),
            ((0, "maj"), (0, "maj"), (5, "maj"), (5, "maj"), (7, "maj"), (7, "maj"), (0, "maj"), (0, "maj")),
            ((0, "maj"), (5, "maj"), (0, "maj"), (7, "maj")),
        ),
        chord_instr=("acoustic",),
        chord_rhythm=("....x.......x...", "x...x...x...x...", "x..xx.x.x..xx.x."),
        strum_ms=12,
        comp_instr=("banjo", "acoustic"),
        comp_rhythm=(_SIXTEENTHS, _EIGHTHS),
        comp_mode="arp",
        comp_octave=1,
        bass_instr=("electric_bass", "upright"),
        bass_mode="rootfifth",
        bass_rhythm=("x.......x.......", "x...x...x...x..."),
        lead_instr=("fiddle", "steel"),
        lead_prob=0.85,
        lead_density=(0.35, 0.6),
        lead_register=(64, 84),
        levels={"drums": -9, "bass": -6, "chords": -6, "comp": -11, "lead": -7},
        reverb=(0.1, 0.25),
        lowpass=(6000, 10500),
    ),
    "disco": Style(
        tempo=(110, 128),
        humanize_ms=2,
        drums={
            "kick": ("x...x...x...x...",),
            "clap": (_BACKBEAT,),
            "hat": (_EIGHTHS, "xxxxxxxxxxxxxxxx"),
            "ohat": ("..x...x...x...x.",),
        },
        kick_kind=("tight",),
        crash_prob=0.3,
        scale=("dorian", "minor"),
        progressions=(
            ((0, "m7"), (0, "m7"), (5, "7"), (5, "7")),
            ((0, "m7"), (5, "m7")),
            ((2, "m7"), (7, "9"), (0, "maj7"), (0, "maj7")),
            ((0, "m9"), (10, "maj7")),
        ),
        chord_instr=("strings", "synth_pad"),
        chord_rhythm=("x...............",),
        comp_instr=("guitar_scratch", "epiano"),
        comp_rhythm=("..x...x...x...x.", ".xx..xx..xx..xx.", "x.xxx.xxx.xxx.xx"),
        comp_octave=1,
        bass_instr=("synth_bass", "electric_bass"),
        bass_mode="octave",
        bass_rhythm=(_EIGHTHS, "x.xxx.xxx.xxx.xx"),
        lead_instr=("brass", "synth_lead", "vocal"),
        lead_density=(0.25, 0.45),
        lead_register=(62, 81),
        levels={"drums": -5, "bass": -5, "chords": -9, "comp": -11, "lead": -8},
        reverb=(0.15, 0.3),
        lowpass=(7000, 11000),
        rms_db=(-17, -13),
    ),
    "hiphop": Style(
        tempo=(80, 100),
        swing=(0.0, 0.5),
        humanize_ms=3,
        drums={
            "kick": ("x......x..x.....", "x.....x...x..x..", "x..x......x....."),
            "clap": (_BACKBEAT,),
            "hat": ("x.x.x.x.x.x.x.x.", "x.x.x.x.xxx.x.x.", "xxxxxxxxxxxxxxxx"),
        },
        kick_kind=("808", "punchy"),
        fill_prob=0.05,
        scale=("minor", "minor_pent", "dorian"),
        progressions=(
            ((0, "m7"), (0, "m7"), (8, "maj7"), (8, "maj7")),
            ((0, "m9"), (5, "m7")),
            ((0, "min"),),
        ),
        chord_instr=("epiano", "piano", "synth_pad"),
        chord_rhythm=("x.........x.....", "x...............", "x.....x........."),
        chord_octave=0,
        bass_instr=("sub",),
        bass_mode="follow_kick",
        lead_instr=("rap",),
        lead_prob=0.9,
        lead_mode="rap",
        lead_density=(0.55, 0.8),
        lead_unit=1,
        lead_register=(47, 56),
        lead_gate=0.8,
        levels={"drums": -4, "bass": -3, "chords": -12, "comp": -14, "lead": -6},
        reverb=(0.05, 0.15),
        lowpass=(4500, 8500),
        snr_db=(28, 42),
        rms_db=(-17, -13),
    ),
    "jazz": Style(
        tempo=(110, 190),
        swing=(0.6, 1.0),
        swing_unit=2,
        humanize_ms=10,
        drums={
            "ride": ("x...x.x.x...x.x.",),
            "pedal": ("....x.......x...",),
            "kick": ("g...g...g...g...", "g.......g......."),
            "snare": ("..?.....?...?..?", "......g.......?."),
        },
        fill_prob=0.1,
        scale=("bebop", "dorian", "mixolydian"),
        progressions=(
            ((2, "m7"), (7, "7"), (0, "maj7"), (0, "maj7")),
            ((0, "maj7"), (9, "m7"), (2, "m7"), (7, "7")),
            ((2, "m7"), (7, "9"), (0, "maj7"), (5, "maj7")),
        ),
        chords_per_bar=(1, 2),
        chord_instr=("epiano", "piano"),
        chord_rhythm=("..x.....x.......", "...x......x.....", "x.....x.....x...", "......x.....x..."),
        bass_instr=("upright",),
        bass_mode="walking",
        bass_rhythm=("x...x...x...x...",),
        lead_instr=("sax", "trumpet"),
        lead_prob=0.9,
        lead_density=(0.55, 0.8),
        lead_register=(58, 82),
        levels={"drums": -10, "bass": -5, "chords": -9, "comp": -12, "lead": -5},
        reverb=(0.2, 0.35),
        lowpass=(4500, 9000),
        snr_db=(30, 45),
        rms_db=(-23, -17),
    ),
    "metal": Style(
        tempo=(130, 200),
        humanize_ms=2,
        drums={
            "kick": (_SIXTEENTHS, _EIGHTHS, "xx.xxx.xxx.xxx.x"),
            "snare": (_BACKBEAT, "........x.......", "x...x...x...x..."),
            "crash": (_EIGHTHS, "x.......x......."),
        },
        kick_kind=("metal",),
        crash_prob=0.6,
        scale=("phrygian", "harmonic_minor", "minor"),
        progressions=(
            ((0, "5"), (8, "5"), (10, "5"), (0, "5")),
            ((0, "5"), (1, "5")),
            ((0, "5"), (5, "5"), (3, "5"), (1, "5")),
        ),
        chords_per_bar=(1, 2),
        chord_instr=("guitar_dist",),
        chord_rhythm=(_SIXTEENTHS, "x.xxx.xxx.xxx.xx", "x..x..x.x..x..x."),
        chord_octave=-1,
        bass_instr=("dist_bass",),
        bass_mode="root",
        bass_rhythm=(_EIGHTHS, _SIXTEENTHS),
        lead_instr=("guitar_lead",),
        lead_prob=0.5,
        lead_density=(0.5, 0.8),
        lead_unit=1,
        lead_register=(62, 86),
        drive=(10.0, 25.0),
        levels={"drums": -6, "bass": -7, "chords": -5, "comp": -10, "lead": -7},
        reverb=(0.05, 0.15),
        lowpass=(6000, 11000),
        rms_db=(-14, -10),
    ),
    "pop": Style(
        tempo=(95, 125),
        humanize_ms=2,
        drums={
            "kick": ("x.......x.x.....", "x..x....x......."),
            "clap": (_BACKBEAT,),
            "hat": (_EIGHTHS, "x.xxx.xxx.xxx.xx"),
        },
        kick_kind=("tight", "punchy"),
        crash_prob=0.25,
        scale=("major_pent", "major"),
        progressions=(
            ((0, "maj"), (7, "maj"), (9, "min"), (5, "maj")),
            ((9, "min"), (5, "maj"), (0, "maj"), (7, "maj")),
            ((0, "maj"), (9, "min"), (5, "maj"), (7, "maj")),
        ),
        chord_instr=("synth_pad", "piano"),
        chord_rhythm=("x...............", _EIGHTHS, "x..x..x.x..x..x."),
        comp_instr=("synth_lead", "piano"),
        comp_rhythm=("x.x.x.x.x.x.x.x.", "x..x..x.x..x..x."),
        comp_mode="arp",
        bass_instr=("synth_bass", "electric_bass"),
        bass_mode="root",
        bass_rhythm=(_EIGHTHS, "x..x..x.x..x..x."),
        lead_instr=("vocal",),
        lead_density=(0.3, 0.5),
        lead_register=(60, 76),
        levels={"drums": -6, "bass": -6, "chords": -9, "comp": -15, "lead": -4},
        reverb=(0.2, 0.35),
        lowpass=(7500, 11000),
        rms_db=(-17, -13),
    ),
    "reggae": Style(
        tempo=(66, 90),
        swing=(0.0, 0.4),
        humanize_ms=5,
        drums={
            "kick": ("........x.......", "x.......x......."),
            "rim": ("........x.......", "....x.......x..."),
            "hat": (_EIGHTHS, "x.xxx.xxx.xxx.xx"),
        },
        fill_prob=0.15,
        scale=("major_pent", "minor_pent", "minor"),
        progressions=(
            ((0, "maj"), (0, "maj"), (5, "maj"), (5, "maj")),
            ((0, "min"), (0, "min"), (5, "min"), (5, "min")),
            ((0, "maj"), (7, "maj")),
        ),
        chord_instr=("guitar_skank",),
        chord_rhythm=("....x.......x...",),
        chord_octave=1,
        comp_instr=("organ",),
        comp_rhythm=("..x...x...x...x.", "..xx..xx..xx..xx"),
        comp_octave=0,
        bass_instr=("sub", "electric_bass"),
        bass_mode="reggae",
        bass_rhythm=("x..x..x...x.x...", "...x..x.x.x....x", "x.....x.x...x..."),
        lead_instr=("melodica", "vocal"),
        lead_prob=0.7,
        lead_density=(0.2, 0.4),
        lead_register=(60, 76),
        levels={"drums": -9, "bass": 0, "chords": -8, "comp": -13, "lead": -7},
        reverb=(0.15, 0.3),
        lowpass=(4500, 8500),
        echo=0.35,
    ),
    "rock": Style(
        tempo=(105, 150),
        humanize_ms=4,
        drums={
            "kick": ("x.......x.x.....", "x......xx.......", "x...x...x...x..."),
            "snare": (_BACKBEAT,),
            "hat": (_EIGHTHS, "o.o.o.o.o.o.o.o."),
        },
        crash_prob=0.5,
        scale=("minor_pent", "mixolydian"),
        progressions=(
            ((0, "5"), (10, "5"), (5, "5"), (0, "5")),
            ((0, "maj"), (5, "maj"), (7, "maj"), (5, "maj")),
            ((9, "min"), (5, "maj"), (0, "maj"), (7, "maj")),
        ),
        chord_instr=("guitar_od",),
        chord_rhythm=(_EIGHTHS, "x..x..x.x..x..x.", "x...x...x...x..."),
        bass_instr=("electric_bass",),
        bass_mode="root",
        bass_rhythm=(_EIGHTHS,),
        lead_instr=("vocal", "guitar_lead"),
        lead_prob=0.85,
        lead_density=(0.3, 0.5),
        lead_register=(60, 79),
        drive=(3.0, 7.0),
        levels={"drums": -5, "bass": -6, "chords": -6, "comp": -12, "lead": -6},
        reverb=(0.1, 0.25),
        lowpass=(6000, 10000),
        rms_db=(-16, -12),
    ),
}

#: Genres whose elements a track sometimes borrows (real genres overlap; so must the synthetic ones).
NEIGHBOURS = {
    "blues": ("jazz", "rock", "country"),
    "classical": ("jazz",),
    "country": ("rock", "blues", "pop"),
    "disco": ("pop", "hiphop"),
    "hiphop": ("reggae", "pop", "disco"),
    "jazz": ("blues", "classical"),
    "metal": ("rock",),
    "pop": ("disco", "rock", "hiphop"),
    "reggae": ("hiphop", "pop"),
    "rock": ("metal", "blues", "country", "pop"),
}

# --------------------------------------------------------------------------------------------------------
# Synthesis


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


# --------------------------------------------------------------------------------------------------------
# Track rendering


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


# --------------------------------------------------------------------------------------------------------
# Files


def track_seed(seed: int, genre_index: int, track_index: int) -> np.random.SeedSequence:
    """The random stream of one track; independent of how many tracks are generated."""
    return np.random.SeedSequence([int(seed), 0x6D67, int(genre_index), int(track_index)])


def encode_au(x: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM Sun .au bytes of a mono float signal in [-1, 1] (deterministic)."""
    pcm = np.clip(np.round(np.asarray(x, dtype=np.float64) * 32767.0), -32768, 32767).astype(np.int16)
    buf = io.BytesIO()
    sf.write(buf, pcm, sample_rate, format="AU", subtype="PCM_16")
    return buf.getvalue()


def _render_file(args: tuple[str, int, int, int, float, int]) -> tuple[str, bytes]:
    genre, g_idx, t_idx, seed, clip_seconds, sr = args
    rng = np.random.default_rng(track_seed(seed, g_idx, t_idx))
    x = render_track(genre, rng, clip_seconds=clip_seconds, sample_rate=sr)
    return f"{genre}/{genre}.{t_idx:05d}.au", encode_au(x, sr)


def _worker_init() -> None:
    """In a rendering worker process: keep freed memory in the heap (glibc) instead of returning every large
    array to the OS, which otherwise costs about a quarter of the time in page faults."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 256 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 512 << 20)  # M_TRIM_THRESHOLD
        libc.mallopt(-2, 64 << 20)  # M_TOP_PAD
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _readme(params: dict, n_files: int, seconds: float) -> str:
    genres = ", ".join(GTZAN_GENRES)
    return f"""\
musicgenre synthetic demo dataset -- NOT REAL MUSIC
===================================================

Every file in this folder is synthetic. It was generated by musicgenre.datasets.demo.make_demo_dataset
(generator version {params["version"]}) to demonstrate and test the toolkit without downloading GTZAN.
Results on it say nothing about real music-genre classification.

Parameters
  seed:              {params["seed"]}
  tracks per genre:  {params["tracks_per_genre"]}
  clip length:       {params["clip_seconds"]} s
  sample rate:       {params["sample_rate"]} Hz, mono, 16-bit PCM Sun .au
  genres:            {genres}
  files:             {n_files} ({seconds / 60:.1f} min of audio)

Layout
  <genre>/<genre>.000NN.au, as in the GTZAN genre collection (track ids start at 00000).

How it was made
  Each genre has a style: a tempo range, swing, drum patterns on a 16-step grid (synthesised kick, snare,
  clap, hi-hats, ride, crash), a chord progression and scale, instruments for chords, accompaniment,
  bass and lead (additive wavetable, FM and formant synthesis), distortion, reverb and recording colour.
  For example: four-on-the-floor kick for disco, swung ride and walking bass for jazz, offbeat skank and
  one-drop for reggae, distorted power chords and double kick for metal, strings and no drums for
  classical, 808 bass and rhythmic formant "rap" for hiphop, shuffle and blues scale for blues.
  Every track varies at random: tempo, key, patterns, instrument choice, section structure, mix levels,
  EQ, reverb, noise level and loudness; about one element in eight is borrowed from a related genre.
  Track (genre g, number k) draws from numpy SeedSequence([seed, 0x6D67, g, k]); the same seed and
  parameters give byte-identical files.

Re-running make_demo_dataset with the same parameters skips files that already have the right content
(their sha256 is kept in the hidden file {MANIFEST_NAME}).
"""


def make_demo_dataset(
    out_dir: str | Path,
    *,
    tracks_per_genre: int = 10,
    clip_seconds: float = 30.0,
    sample_rate: int = 22050,
    seed: int = 0,
    progress: bool = True,
    workers: int | None = None,
) -> Path:
    """Generate the synthetic 10-genre demo set as ``<out_dir>/<genre>/<genre>.000NN.au``; returns ``out_dir``.

    Deterministic: the same ``seed`` and parameters give byte-identical files. Files are written atomically
    (temporary name, then rename). Files that already exist with the right content (checked against the
    sha256 recorded in ``<out_dir>/.musicgenre-demo.json``) are not rendered again, so re-running is cheap.
    Demo files from an earlier run that the new parameters no longer include are removed. A
    ``README.txt`` says that the data are synthetic and how they were made.

    Args:
        out_dir: output folder (created if needed).
        tracks_per_genre: clips per genre (ids 00000 .. tracks_per_genre-1).
        clip_seconds: length of every clip.
        sample_rate: sample rate of the files.
        seed: random seed.
        progress: show a tqdm progress bar.
        workers: rendering processes (default: 1 for up to 20 files, else up to 2).
    """
    if tracks_per_genre < 1 or tracks_per_genre > 100000:
        raise ValueError(f"tracks_per_genre must be in 1..100000, got {tracks_per_genre}")
    if clip_seconds <= 0:
        raise ValueError(f"clip_seconds must be positive, got {clip_seconds}")
    if sample_rate < 8000:
        raise ValueError(f"sample_rate must be at least 8000 Hz, got {sample_rate}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    params = {
        "version": DEMO_VERSION,
        "seed": int(seed),
        "clip_seconds": float(clip_seconds),
        "sample_rate": int(sample_rate),
        "tracks_per_genre": int(tracks_per_genre),
    }
    manifest_path = out_dir / MANIFEST_NAME
    old_files: dict[str, str] = {}
    same_render = False
    if manifest_path.is_file():
        try:
            old = json.loads(manifest_path.read_text(encoding="utf-8"))
            old_files = dict(old.get("files", {}))
            old_params = dict(old.get("params", {}))
            same_render = all(
                old_params.get(k) == params[k] for k in ("version", "seed", "clip_seconds", "sample_rate")
            )
        except (OSError, ValueError, TypeError):
            old_files = {}

    jobs = []
    files: dict[str, str] = {}
    for g_idx, genre in enumerate(GTZAN_GENRES):
        for t_idx in range(tracks_per_genre):
            rel = f"{genre}/{genre}.{t_idx:05d}.au"
            path = out_dir / rel
            reuse = same_render and rel in old_files and path.is_file()
            if reuse and _sha256(path.read_bytes()) == old_files[rel]:
                files[rel] = old_files[rel]
                continue
            jobs.append((genre, g_idx, t_idx, int(seed), float(clip_seconds), int(sample_rate)))

    if workers is None:
        workers = 1 if len(jobs) <= 20 else min(2, os.cpu_count() or 1)
    if "fork" not in multiprocessing.get_all_start_methods():
        workers = 1
    bar = tqdm(total=len(jobs), desc="demo dataset", unit="track", disable=not progress, leave=False)
    try:

        def store(rel: str, data: bytes) -> None:
            path = out_dir / rel
            digest = _sha256(data)
            if not (path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data):
                write_bytes(path, data)
            files[rel] = digest
            bar.update(1)

        if workers <= 1 or len(jobs) <= 1:
            for job in jobs:
                store(*_render_file(job))
        else:
            # fork (Linux) keeps this safe to call from scripts without a __main__ guard; elsewhere the
            # tracks are rendered in this process.
            with ProcessPoolExecutor(
                max_workers=workers, mp_context=multiprocessing.get_context("fork"), initializer=_worker_init
            ) as pool:
                for rel, data in pool.map(_render_file, jobs, chunksize=1):
                    store(rel, data)
    finally:
        bar.close()

    for rel in sorted(set(old_files) - set(files)):  # demo files from an earlier, larger run
        stale = out_dir / rel
        if stale.is_file() and stale.parent.parent == out_dir:
            stale.unlink()

    files = dict(sorted(files.items()))
    seconds = len(files) * float(clip_seconds)
    readme = _readme(params, len(files), seconds).encode("utf-8")
    if not ((out_dir / README_NAME).is_file() and (out_dir / README_NAME).read_bytes() == readme):
        write_bytes(out_dir / README_NAME, readme)
    manifest = (json.dumps({"params": params, "files": files}, indent=1, sort_keys=True) + "\n").encode(
        "utf-8"
    )
    if not (manifest_path.is_file() and manifest_path.read_bytes() == manifest):
        write_bytes(manifest_path, manifest)
    return out_dir
