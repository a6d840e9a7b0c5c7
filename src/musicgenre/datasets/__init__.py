"""Datasets: folder-of-genres index, validation, the synthetic demo set, GTZAN download and split lists."""

from musicgenre.datasets.index import DatasetIndex, Track, scan_dataset

__all__ = ["DatasetIndex", "Track", "scan_dataset"]
