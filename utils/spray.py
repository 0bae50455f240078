"""Spectral relevance analysis (SpRAy): cluster many explanations to find a model's strategies.

Lapuschkin et al. (2019, *Unmasking Clever Hans predictors and assessing what machines
really learn*, Nature Communications) explain every prediction of one class, compare the
explanation maps with a k-nearest-neighbour graph and cluster that graph spectrally
(Ng, Jordan & Weiss, 2001, *On spectral clustering: analysis and an algorithm*, NeurIPS;
von Luxburg, 2007, *A tutorial on spectral clustering*, Statistics and Computing). The
eigengap of the graph Laplacian proposes the number of strategies, and a cluster whose maps
all point at the same odd place (a copyright tag, a marker) is a candidate Clever Hans
strategy for a human to inspect.

:func:`spray_features` flattens and normalises the maps, :func:`knn_affinity` builds the
graph, :func:`spectral_embedding` returns the eigenvalues and the embedding of its
normalised Laplacian, :func:`eigengap` picks the number of clusters,
:func:`spectral_relevance_analysis` runs all of it, and :func:`cluster_purity_recall`
scores clusters against a known ground truth (only available when one planted the
shortcut oneself).

Examples
--------
>>> maps = np.zeros((6, 4, 4)); maps[:3, 0, 0] = 1.0; maps[3:, 3, 3] = 1.0
>>> maps += 0.01 * np.random.default_rng(0).random(maps.shape)
>>> result = spectral_relevance_analysis(maps, n_neighbors=3)
>>> result.n_clusters
2
>>> len(set(result.labels[:3].tolist())), len(set(result.labels.tolist()))
(1, 2)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._common import describe, finite_array, integer


def spray_features(maps: Any, pool: int = 1) -> np.ndarray:
    """Return attribution maps as rows of unit length, optionally sum-pooled first.

    Parameters
    ----------
    maps : array-like or torch.Tensor
        ``(n, H, W)`` or ``(n, C, H, W)`` maps (channels are summed), at least 2 maps.
    pool : int, default 1
        Sum over ``pool x pool`` pixel blocks before flattening (SpRAy's downsizing);
        ``H`` and ``W`` must be multiples of it.

    Returns
    -------
    numpy.ndarray
        ``(n, H * W / pool**2)`` float64 rows with Euclidean norm 1, so that distances
        compare the *shape* of the maps and not their scale.

    Raises
    ------
    TypeError
        If ``maps`` is not numbers or ``pool`` not an integer.
    ValueError
        For a wrong shape, NaN/inf, a pool that does not divide the sides, or a map that is
        zero everywhere.
    """
    maps = finite_array(maps, "maps")
    if maps.ndim not in (3, 4) or len(maps) < 2:
        raise ValueError(f"maps: expected at least 2 maps of shape (n, H, W) or (n, C, H, W), "
                         f"got shape {maps.shape}")  # fmt: skip
    if maps.ndim == 4:
        maps = maps.sum(axis=1)
    n, height, width = maps.shape
    pool = integer(pool, "pool", minimum=1)
    if height % pool or width % pool:
        raise ValueError(f"pool: expected a divisor of the map sides {(height, width)}, "
                         f"got {pool}")  # fmt: skip
    pooled = maps.reshape(n, height // pool, pool, width // pool, pool).sum(axis=(2, 4))
    rows = pooled.reshape(n, -1)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError(f"maps: map(s) {np.flatnonzero(norms[:, 0] == 0)[:5].tolist()} are "
                         "zero everywhere and cannot be normalised")  # fmt: skip
    return rows / norms


def knn_affinity(features: Any, n_neighbors: int = 10) -> np.ndarray:
    r"""Return the symmetric k-nearest-neighbour affinity of the rows of ``features``.

    :math:`C_{ij} = 1` if row :math:`j` is among the ``n_neighbors`` rows closest to row
    :math:`i` in Euclidean distance (row :math:`i` itself included), and
    :math:`A = (C + C^\top) / 2`: 1 for mutual neighbours, 0.5 for one-sided ones. The same
    graph as scikit-learn's ``SpectralClustering(affinity="nearest_neighbors")``.

    Parameters
    ----------
    features : array-like
        ``(n, d)``, one row per sample.
    n_neighbors : int, default 10
        In ``[2, n]`` (the row itself is one of them).

    Returns
    -------
    numpy.ndarray
        ``(n, n)`` symmetric float64 matrix with entries in {0, 0.5, 1}.

    Raises
    ------
    TypeError
        If ``features`` is not numbers or ``n_neighbors`` not an integer.
    ValueError
        For a shape that is not ``(n, d)`` with ``n >= 2``, NaN/inf, or ``n_neighbors``
        outside ``[1, n]``.
    """
    features = finite_array(features, "features")
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"features: expected a matrix (n, d) with n >= 2, got shape "
                         f"{features.shape}")  # fmt: skip
    n = len(features)
    n_neighbors = integer(n_neighbors, "n_neighbors", minimum=2, maximum=n)
    squared = (features**2).sum(axis=1)
    distances = squared[:, None] + squared[None, :] - 2.0 * features @ features.T
    np.fill_diagonal(distances, -np.inf)  # each row is its own first neighbour
    nearest = np.argsort(distances, axis=1, kind="stable")[:, :n_neighbors]
    connectivity = np.zeros((n, n))
    connectivity[np.arange(n)[:, None], nearest] = 1.0
    return 0.5 * (connectivity + connectivity.T)


def _square_affinity(affinity: Any) -> np.ndarray:
    affinity = finite_array(affinity, "affinity")
    if affinity.ndim != 2 or affinity.shape[0] != affinity.shape[1] or len(affinity) < 2:
        raise ValueError(f"affinity: expected a square matrix (n, n) with n >= 2, got "
                         f"{describe(affinity)}")  # fmt: skip
    if not np.allclose(affinity, affinity.T) or (affinity < 0).any():
        raise ValueError("affinity: expected a symmetric matrix without negative entries")
    affinity = affinity.copy()
    np.fill_diagonal(affinity, 0.0)  # self-loops do not count, as in SciPy and scikit-learn
    if (affinity.sum(axis=1) == 0).any():
        raise ValueError("affinity: every sample needs a non-zero affinity to another sample "
                         "(an isolated sample has no degree)")  # fmt: skip
    return affinity


def spectral_embedding(affinity: Any, n_components: int | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    r"""Return the eigenvalues and the spectral embedding of a graph.

    The normalised Laplacian :math:`L = I - D^{-1/2} A D^{-1/2}` (:math:`D` the diagonal
    of the degrees :math:`d_i = \sum_{j \ne i} A_{ij}`; the diagonal of :math:`A`, the
    self-loops, is ignored as in ``scipy.sparse.csgraph.laplacian``) has eigenvalues
    :math:`0 = \lambda_1 \le \lambda_2 \le \dots \le 2`; as many of them are 0 as the graph
    has connected components. The embedding of sample :math:`i` is row :math:`i` of
    :math:`D^{-1/2} U`, with :math:`U` the eigenvectors of the ``n_components`` smallest
    eigenvalues (as in scikit-learn's ``spectral_embedding(..., drop_first=False)``;
    each column's sign is fixed so that its entry of largest magnitude is positive).

    Parameters
    ----------
    affinity : array-like
        ``(n, n)`` symmetric, non-negative, every row with a non-zero entry off the
        diagonal.
    n_components : int, optional
        Number of columns of the embedding, in ``[1, n]``; default all ``n``.

    Returns
    -------
    eigenvalues : numpy.ndarray
        ``(n,)`` ascending.
    embedding : numpy.ndarray
        ``(n, n_components)``.

    Raises
    ------
    TypeError
        If ``affinity`` is not numbers or ``n_components`` not an integer.
    ValueError
        If ``affinity`` is not square, symmetric and non-negative, has an isolated sample,
        or ``n_components`` is out of range.
    """
    affinity = _square_affinity(affinity)
    n = len(affinity)
    n_components = n if n_components is None else integer(n_components, "n_components",
                                                           minimum=1, maximum=n)  # fmt: skip
    scale = 1.0 / np.sqrt(affinity.sum(axis=1))
    laplacian = np.eye(n) - scale[:, None] * affinity * scale[None, :]
    eigenvalues, vectors = np.linalg.eigh(laplacian)
    embedding = vectors[:, :n_components] * scale[:, None]
    largest = np.argmax(np.abs(embedding), axis=0)
    embedding *= np.sign(embedding[largest, np.arange(n_components)])
    return np.clip(eigenvalues, 0.0, None), embedding


def eigengap(eigenvalues: Any, max_clusters: int = 10) -> int:
    r"""Return the number of clusters :math:`k` with the largest eigengap.

    With the eigenvalues sorted ascending, :math:`k = \arg\max_{1 \le k \le K}
    (\lambda_{k+1} - \lambda_k)`, :math:`K` = ``max_clusters`` (von Luxburg, 2007, Sec. 8.3):
    the first :math:`k` eigenvalues are close to 0 (nearly separate groups) and the next
    one is clearly larger. ``k = 1`` means the graph shows no cluster structure.

    Parameters
    ----------
    eigenvalues : array-like
        ``(m,)`` Laplacian eigenvalues, at least 2; sorted here.
    max_clusters : int, default 10
        Largest :math:`k` considered, ``>= 1``; capped at ``m - 1``.

    Returns
    -------
    int

    Raises
    ------
    TypeError
        If ``eigenvalues`` is not numbers or ``max_clusters`` not an integer.
    ValueError
        If ``eigenvalues`` is not 1-D with at least 2 values, or ``max_clusters < 1``.
    """
    eigenvalues = finite_array(eigenvalues, "eigenvalues")
    if eigenvalues.ndim != 1 or len(eigenvalues) < 2:
        raise ValueError(f"eigenvalues: expected a vector of at least 2 values, got shape "
                         f"{eigenvalues.shape}")  # fmt: skip
    max_clusters = integer(max_clusters, "max_clusters", minimum=1)
    top = min(max_clusters, len(eigenvalues) - 1)
    gaps = np.diff(np.sort(eigenvalues)[: top + 1])
    return int(np.argmax(gaps)) + 1


@dataclass(frozen=True)
class SprayResult:
    """Result of :func:`spectral_relevance_analysis`.

    Attributes
    ----------
    labels : numpy.ndarray
        ``(n,)`` cluster of each map, ``0 .. n_clusters - 1``.
    n_clusters : int
        Number of clusters used (the eigengap's choice unless given).
    eigengap_choice : int
        What :func:`eigengap` proposed, also when ``n_clusters`` was given.
    eigenvalues : numpy.ndarray
        ``(n,)`` ascending eigenvalues of the normalised Laplacian.
    embedding : numpy.ndarray
        ``(n, max(n_clusters, 3))`` spectral embedding; columns 1 and 2 give a 2-D view.
    affinity : numpy.ndarray
        ``(n, n)`` the k-nearest-neighbour graph.
    """

    labels: np.ndarray
    n_clusters: int
    eigengap_choice: int
    eigenvalues: np.ndarray
    embedding: np.ndarray
    affinity: np.ndarray


def spectral_relevance_analysis(
    maps: Any,
    n_clusters: int | None = None,
    n_neighbors: int = 10,
    max_clusters: int = 10,
    pool: int = 1,
    seed: int = 0,
) -> SprayResult:
    """Cluster attribution maps spectrally (SpRAy, Lapuschkin et al., 2019).

    :func:`spray_features` (unit-length maps) → :func:`knn_affinity` →
    :func:`spectral_embedding` → :func:`eigengap` (unless ``n_clusters`` is given) →
    k-means (scikit-learn, 10 restarts, ``random_state=seed``) on the first
    ``n_clusters`` columns of the embedding.

    Parameters
    ----------
    maps : array-like or torch.Tensor
        ``(n, H, W)`` or ``(n, C, H, W)``, the explanations of one class.
    n_clusters : int, optional
        Force this number of clusters, in ``[1, n]``; default: the eigengap's choice.
    n_neighbors : int, default 10
        Neighbours of the graph, in ``[2, n]``.
    max_clusters : int, default 10
        Largest number of clusters the eigengap considers.
    pool : int, default 1
        Sum-pooling of the maps before comparing them.
    seed : int, default 0
        Seed of k-means.

    Returns
    -------
    SprayResult

    Raises
    ------
    TypeError, ValueError
        From the input checks of the steps (naming the parameter).
    """
    from sklearn.cluster import KMeans

    features = spray_features(maps, pool)
    n = len(features)
    if n_clusters is not None:
        n_clusters = integer(n_clusters, "n_clusters", minimum=1, maximum=n)
    max_clusters = integer(max_clusters, "max_clusters", minimum=1)
    seed = integer(seed, "seed", minimum=0)
    affinity = knn_affinity(features, n_neighbors)
    eigenvalues, embedding = spectral_embedding(affinity)
    choice = eigengap(eigenvalues, max_clusters)
    k = choice if n_clusters is None else n_clusters
    if k == 1:
        labels = np.zeros(n, dtype=int)
    else:
        kmeans = KMeans(n_clusters=k, n_init=10, random_state=seed)
        labels = kmeans.fit_predict(embedding[:, :k]).astype(int)
    return SprayResult(labels=labels, n_clusters=k, eigengap_choice=choice,
                       eigenvalues=eigenvalues, embedding=embedding[:, : max(k, 3)],
                       affinity=affinity)  # fmt: skip


def cluster_purity_recall(labels: Any, truth: Any) -> dict[str, np.ndarray | int]:
    """Score each cluster against a known binary property (e.g. "carries the marker").

    purity = share of the cluster's samples with the property; recall = share of all
    samples with the property that fall into the cluster; F1 = their harmonic mean.

    Parameters
    ----------
    labels : array-like
        ``(n,)`` integer cluster labels.
    truth : array-like of bool
        ``(n,)`` the property (True/False or 0/1), at least one True.

    Returns
    -------
    dict
        ``"cluster"``, ``"size"``, ``"purity"``, ``"recall"``, ``"f1"``: arrays over the
        clusters in ascending label order; ``"best"``: the position (in these arrays) of the
        cluster with the highest F1.

    Raises
    ------
    TypeError
        If the inputs are not numbers.
    ValueError
        If the shapes differ, labels are not integers, ``truth`` is not 0/1 or has no True.
    """
    labels = finite_array(labels, "labels")
    truth = finite_array(truth, "truth")
    if labels.ndim != 1 or truth.shape != labels.shape:
        raise ValueError(f"labels and truth: expected two vectors of the same length, got "
                         f"shapes {labels.shape} and {truth.shape}")  # fmt: skip
    if (labels != np.round(labels)).any():
        raise ValueError("labels: expected integer cluster labels")
    if not np.isin(truth, (0, 1)).all():
        raise ValueError("truth: expected booleans (or 0/1)")
    truth = truth.astype(bool)
    if not truth.any():
        raise ValueError("truth: expected at least one sample with the property (True)")
    clusters = np.unique(labels).astype(int)
    size = np.array([(labels == c).sum() for c in clusters])
    hits = np.array([truth[labels == c].sum() for c in clusters])
    purity, recall = hits / size, hits / truth.sum()
    with np.errstate(invalid="ignore"):
        f1 = np.where(hits > 0, 2 * purity * recall / (purity + recall), 0.0)
    return {"cluster": clusters, "size": size, "purity": purity, "recall": recall, "f1": f1,
            "best": int(np.argmax(f1))}  # fmt: skip
