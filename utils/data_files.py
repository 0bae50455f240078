"""Locate the files in ``data/`` and verify their SHA-256 checksums."""

from __future__ import annotations

import hashlib
import os
from functools import cache
from pathlib import Path

from ._common import as_path, describe

#: Environment variable that points to another data folder (e.g. a shared copy on HPC).
DATA_ENV_VAR = "XAI_DATA_DIR"


def data_dir() -> Path:
    """Return the course's data folder (``XAI_DATA_DIR`` or ``<repo>/data``)."""
    override = os.environ.get(DATA_ENV_VAR)
    return Path(override) if override else Path(__file__).resolve().parents[1] / "data"


def sha256sum(path: str | Path) -> str:
    """Return the SHA-256 hex digest of a file, read in chunks.

    Raises
    ------
    TypeError
        If ``path`` is not a str or path-like object.
    FileNotFoundError
        If there is no file at ``path``.
    """
    path = as_path(path, "path")
    if not path.is_file():
        raise FileNotFoundError(f"path: expected a file, found none at {path}")
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _lf_digest(path: Path) -> str:
    """SHA-256 of a file with CRLF line endings turned back into LF."""
    return hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()


@cache
def _registry(folder: Path) -> dict[str, str]:
    listing = folder / "checksums.sha256"
    if not listing.is_file():
        raise FileNotFoundError(
            f"Checksum list {listing} is missing; the data folder is incomplete. "
            "Re-clone the course or set XAI_DATA_DIR to a complete copy."
        )
    entries = {}
    for line in listing.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            entries[name.strip()] = digest
    return entries


def data_path(name: str) -> Path:
    """Return the path of a shipped data file after checking its SHA-256.

    Parameters
    ----------
    name : str
        File name relative to the data folder, e.g. ``"adult.csv"`` or
        ``"weights/mnist_cnn.safetensors"``.

    Returns
    -------
    pathlib.Path
        The verified file.

    Raises
    ------
    TypeError
        If ``name`` is not a string.
    KeyError
        If the file is not listed in ``data/checksums.sha256``.
    FileNotFoundError
        If the file is listed but missing.
    ValueError
        If the file's checksum does not match (corrupted or modified file).
    """
    if not isinstance(name, str):
        raise TypeError(f"name: expected a file name (str) such as 'adult.csv', got "
                        f"{describe(name)}")  # fmt: skip
    folder = data_dir()
    registry = _registry(folder)
    if name not in registry:
        raise KeyError(f"name: {name!r} is not a known data file; known files: "
                       f"{sorted(registry)}")  # fmt: skip
    path = folder / name
    if not path.is_file():
        raise FileNotFoundError(
            f"Data file {path} is missing. Restore it with `git checkout -- data/{name}` "
            "or regenerate it with the command listed in data/README.md."
        )
    actual = sha256sum(path)
    if actual != registry[name] and _lf_digest(path) == registry[name]:
        raise ValueError(
            f"Checksum mismatch for {path}: its line endings were converted to CRLF (Git "
            "for Windows with core.autocrlf does this to files without .gitattributes). "
            "Restore the original bytes: `git rm --cached -r data && git checkout -- data` "
            "in a checkout that has the course's .gitattributes, or re-clone the course."
        )
    if actual != registry[name]:
        raise ValueError(
            f"Checksum mismatch for {path}: expected sha256 {registry[name][:12]}..., "
            f"got {actual[:12]}... The file is corrupted or was modified; restore it "
            f"with `git checkout -- data/{name}`."
        )
    return path
