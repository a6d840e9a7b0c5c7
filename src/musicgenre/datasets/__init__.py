"""Datasets: folder-of-genres index, validation, the synthetic demo set, GTZAN download and split lists."""

from musicgenre.datasets.demo import make_demo_dataset
from musicgenre.datasets.download import (
    ArchiveError,
    DownloadError,
    download_file,
    extract_archive,
    file_digest,
    verify_file,
)
from musicgenre.datasets.gtzan import (
    GTZAN_GENRES,
    GTZAN_MD5,
    GTZAN_URLS,
    download_gtzan,
    gtzan_music_dir,
    is_gtzan_complete,
)
from musicgenre.datasets.index import DatasetIndex, Track, scan_dataset
from musicgenre.datasets.split_lists import (
    SPLIT_SIDES,
    SplitListReport,
    match_split_lists,
    read_split_list,
    read_split_lists,
    split_list_report,
    track_id_from_entry,
)
from musicgenre.datasets.validate import Problem, ValidationReport, validate_dataset

__all__ = [
    "GTZAN_GENRES",
    "GTZAN_MD5",
    "GTZAN_URLS",
    "SPLIT_SIDES",
    "ArchiveError",
    "DatasetIndex",
    "DownloadError",
    "Problem",
    "SplitListReport",
    "Track",
    "ValidationReport",
    "download_file",
    "download_gtzan",
    "extract_archive",
    "file_digest",
    "gtzan_music_dir",
    "is_gtzan_complete",
    "make_demo_dataset",
    "match_split_lists",
    "read_split_list",
    "read_split_lists",
    "scan_dataset",
    "split_list_report",
    "track_id_from_entry",
    "validate_dataset",
    "verify_file",
]
