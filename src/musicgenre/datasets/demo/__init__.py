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

Modules: ``theory`` (scales, chords), ``instruments`` (voices), ``styles`` (per-genre style tables),
``synth`` (the synthesiser), ``render`` (one track: plan, arrangement, mix, master) and ``files`` (seeds,
.au encoding, README, manifest and ``make_demo_dataset``).
"""

from musicgenre.datasets.demo.files import (
    DEMO_VERSION,
    MANIFEST_NAME,
    README_NAME,
    encode_au,
    make_demo_dataset,
    track_seed,
)
from musicgenre.datasets.demo.instruments import INSTRUMENTS, Timbre
from musicgenre.datasets.demo.render import render_track
from musicgenre.datasets.demo.styles import NEIGHBOURS, STYLES, Pattern, Style
from musicgenre.datasets.demo.theory import CHORDS, SCALES

__all__ = [
    "CHORDS",
    "DEMO_VERSION",
    "INSTRUMENTS",
    "MANIFEST_NAME",
    "NEIGHBOURS",
    "README_NAME",
    "SCALES",
    "STYLES",
    "Pattern",
    "Style",
    "Timbre",
    "encode_au",
    "make_demo_dataset",
    "render_track",
    "track_seed",
]
