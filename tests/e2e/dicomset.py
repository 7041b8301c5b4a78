"""A DICOM-like data set for the off-host backup tests and benchmark: real DICOM files (pydicom,
pinned in requirements.txt), laid out as a PACS stores them (patient / study / series / instance),
each with a random pixel payload (incompressible, as compressed images are). The full set is about
2,000 files and 2 GB; tests use a smaller one by parameter. `change()` is a night at the hospital:
a few files rewritten and a few new ones.
"""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path

from pydicom.dataset import FileMetaDataset, Dataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid


def _write(path: Path, patient: int, study: str, series: str, number: int, size: int) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientID = f"P{patient:05d}"
    ds.PatientName = f"Test^Patient{patient}"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    ds.Modality = "OT"
    ds.InstanceNumber = number
    side = max(8, int((size // 2) ** 0.5))  # 16-bit pixels: about `size` bytes
    ds.Rows = ds.Columns = side
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelData = os.urandom(side * side * 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def generate(root: Path, files: int = 2000, file_bytes: int = 1_000_000, seed: int = 26) -> list[Path]:
    """`files` DICOM files of about `file_bytes` each (0.5x to 1.5x) under root: by default about
    2,000 files and 2 GB."""
    rng = random.Random(seed)
    out = []
    per_series = 50
    study = series = ""
    for i in range(files):
        patient = i // (per_series * 4)
        if i % (per_series * 4) == 0:
            study = generate_uid()
        if i % per_series == 0:
            series = generate_uid()
        path = root / f"P{patient:05d}" / study[-12:] / series[-12:] / f"IM{i:06d}.dcm"
        _write(path, patient, study, series, i % per_series + 1, int(file_bytes * rng.uniform(0.5, 1.5)))
        out.append(path)
    return out


def change(root: Path, fraction: float = 0.01, seed: int = 1) -> tuple[list[Path], list[Path]]:
    """A night: `fraction` of the files rewritten (new pixels), and as many new files added to the
    last series. Returns (changed, added)."""
    rng = random.Random(seed)
    existing = sorted(root.rglob("*.dcm"))
    n = max(1, int(len(existing) * fraction))
    changed = rng.sample(existing, n)
    for p in changed:
        size = p.stat().st_size
        _write(p, 0, generate_uid(), generate_uid(), 1, size)
    last = existing[-1].parent
    added = []
    for k in range(n):
        p = last / f"NEW{seed:03d}{k:04d}.dcm"
        _write(p, 0, generate_uid(), generate_uid(), k + 1, existing[0].stat().st_size)
        added.append(p)
    return changed, added


def checksums(root: Path) -> dict[str, str]:
    """sha256 of every file under root, by path relative to it (the manifest's format)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}
