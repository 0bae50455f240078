"""SpRAy helpers (utils.spray) against scikit-learn, SciPy and brute force; shipped weights."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse.csgraph import laplacian
from sklearn.cluster import SpectralClustering
from sklearn.manifold import spectral_embedding as sk_spectral_embedding
from sklearn.metrics import adjusted_rand_score
from sklearn.metrics.cluster import contingency_matrix
from sklearn.neighbors import kneighbors_graph

from utils.spray import (
    cluster_purity_recall,
    eigengap,
    knn_affinity,
    spectral_embedding,
    spectral_relevance_analysis,
    spray_features,
)


def two_strategies(n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Maps (n, 8, 8): the first half lights up the top-left corner, the second the centre."""
    rng = np.random.default_rng(seed)
    maps = 0.2 * rng.random((n, 8, 8))
    truth = np.arange(n) < n // 2
    maps[truth, :2, :2] += 1.0 + rng.random((n // 2, 1, 1))
    maps[~truth, 3:5, 3:5] += 1.0 + rng.random((n - n // 2, 1, 1))
    return maps, truth


def test_recovers_two_planted_strategies_and_eigengap_says_two():
    maps, truth = two_strategies()
    result = spectral_relevance_analysis(maps, n_neighbors=5)
    assert result.eigengap_choice == 2 and result.n_clusters == 2
    assert adjusted_rand_score(truth, result.labels) == 1.0
    scores = cluster_purity_recall(result.labels, truth)
    best = scores["best"]
    assert scores["purity"][best] == 1.0 and scores["recall"][best] == 1.0
    # two connected components: two zero eigenvalues, then a clear gap
    assert np.allclose(result.eigenvalues[:2], 0, atol=1e-10) and result.eigenvalues[2] > 0.1


@pytest.mark.filterwarnings("ignore:Graph is not fully connected")
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_scikit_learn_spectral_clustering(seed):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, 10))
    X = np.repeat(centres, 30, axis=0) + 0.35 * rng.normal(size=(90, 10))
    features = X / np.linalg.norm(X, axis=1, keepdims=True)
    ours = spectral_relevance_analysis(features.reshape(90, 2, 5), n_clusters=3, n_neighbors=8)
    sklearn = SpectralClustering(n_clusters=3, affinity="nearest_neighbors", n_neighbors=8,
                                 random_state=0, assign_labels="kmeans").fit(features)
    assert adjusted_rand_score(sklearn.labels_, ours.labels) == 1.0
    assert np.array_equal(ours.affinity, sklearn.affinity_matrix_.toarray())


def test_knn_affinity_matches_scikit_learn():
    features = np.random.default_rng(3).normal(size=(25, 4))
    connectivity = kneighbors_graph(features, 6, include_self=True).toarray()
    assert np.array_equal(knn_affinity(features, 6), 0.5 * (connectivity + connectivity.T))


def test_spectral_embedding_matches_scipy_and_scikit_learn():
    features = np.random.default_rng(4).normal(size=(30, 3))
    affinity = knn_affinity(features, 8)
    eigenvalues, embedding = spectral_embedding(affinity, n_components=4)
    reference = np.linalg.eigvalsh(laplacian(affinity, normed=True))
    assert np.allclose(eigenvalues, np.clip(reference, 0, None), atol=1e-10)  # self-loops out
    sk = sk_spectral_embedding(affinity, n_components=4, drop_first=False, norm_laplacian=True,
                               eigen_solver="arpack", random_state=0)
    for j in range(4):  # eigenvectors up to sign (the eigenvalues of this graph are distinct)
        cosine = abs(embedding[:, j] @ sk[:, j]) / np.linalg.norm(embedding[:, j]) \
            / np.linalg.norm(sk[:, j])  # fmt: skip
        assert cosine == pytest.approx(1.0, abs=1e-6)


def test_zero_eigenvalues_count_the_components():
    blocks = np.kron(np.eye(3), np.ones((4, 4)))  # three separate cliques
    eigenvalues, _ = spectral_embedding(blocks)
    assert np.sum(eigenvalues < 1e-10) == 3
    assert eigengap(eigenvalues) == 3


def test_eigengap_by_hand():
    assert eigengap([0.0, 0.01, 0.02, 0.5, 0.55]) == 3
    assert eigengap([0.0, 0.6, 0.7, 0.8]) == 1
    assert eigengap([0.8, 0.0, 0.01]) == 2  # sorted first
    assert eigengap([0.0, 0.1, 0.2, 0.3, 0.9], max_clusters=2) == 1  # only k <= 2 considered


def test_cluster_purity_recall_against_contingency_table():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 4, 200)
    truth = rng.random(200) < 0.3
    scores = cluster_purity_recall(labels, truth)
    table = contingency_matrix(truth, labels)  # rows: False, True; columns: clusters
    assert np.array_equal(scores["size"], table.sum(axis=0))
    assert np.allclose(scores["purity"], table[1] / table.sum(axis=0))
    assert np.allclose(scores["recall"], table[1] / truth.sum())
    f1 = 2 * table[1] / (table.sum(axis=0) + truth.sum())  # F1 = 2 TP / (cluster + positives)
    assert np.allclose(scores["f1"], f1) and scores["best"] == int(np.argmax(f1))


def test_spray_features_pool_and_normalise():
    maps = np.random.default_rng(6).random((3, 2, 4, 4))
    rows = spray_features(maps, pool=2)
    summed = maps.sum(axis=1)
    by_hand = np.array([[summed[i, 2 * r:2 * r + 2, 2 * c:2 * c + 2].sum() for r in range(2)
                         for c in range(2)] for i in range(3)])  # fmt: skip
    assert np.allclose(rows, by_hand / np.linalg.norm(by_hand, axis=1, keepdims=True))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: spray_features(np.zeros((3, 4, 4))), "zero everywhere"),
        (lambda: spray_features(np.ones((3, 4, 4)), pool=3), "pool"),
        (lambda: knn_affinity(np.ones((5, 2)), n_neighbors=6), "n_neighbors"),
        (lambda: spectral_embedding(np.array([[0.0, 1.0], [0.0, 0.0]])), "symmetric"),
        (lambda: spectral_embedding(np.eye(3)), "isolated"),  # self-loops only
        (lambda: knn_affinity(np.ones((5, 2)), n_neighbors=1), "n_neighbors"),
        (lambda: eigengap([0.1]), "eigenvalues"),
        (lambda: cluster_purity_recall([0, 1], [False, False]), "at least one"),
        (lambda: cluster_purity_recall([0, 1], [0, 2]), "truth"),
        (lambda: spectral_relevance_analysis(np.ones((3, 2, 2)) + np.eye(2), n_clusters=4),
         "n_clusters"),
    ],
)
def test_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_shipped_partial_shortcut_model_uses_digit_and_marker():
    from utils.datasets import load_dataset
    from utils.models import MnistCNN
    from utils.shortcuts import add_marker
    from utils.training import evaluate, load_weights, predict_proba

    data = load_dataset("mnist")
    model = load_weights(MnistCNN(), "mnist_cnn_partial_shortcut")
    # test accuracy recorded in data/weights/README.md (printed by tools/train_weights.py)
    assert evaluate(model, data.X_test, data.y_test) == pytest.approx(0.9792, abs=0.005)
    sevens = data.y_test == 7
    assert np.mean(predict_proba(model, data.X_test[sevens]).argmax(1) == 7) > 0.95
    marked, _ = add_marker(data.X_test[~sevens], data.y_test[~sevens], target_class=None)
    assert np.mean(predict_proba(model, marked).argmax(1) == 7) > 0.5
