"""Genre styles of the synthetic demo set: how each genre sounds, and which genres it borrows from.

Pure data: one ``Style`` per genre, with tuples of alternatives that each track chooses from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
