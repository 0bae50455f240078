"""How good is an explanation? The course's evaluation metrics, one function per concept.

Every metric of the course lives here, for all three data types, with one convention (the
module docstrings give the details):

* **maps** have the input's spatial shape (a table row ``(F,)``, a signal ``(T,)``, an image
  ``(H, W)``; a batch adds a leading axis); inputs are ``(n, *channels, *spatial)``;
* **masks** are boolean arrays of the map's shape (or one that broadcasts to it);
* **sign**: scores use ``|a|`` unless ``positive=True`` (only ``max(a, 0)``); perturbation
  orders rank the signed value, highest first;
* **ties** never decide a score: perturbation orders average over random tie-breaks, the
  pointing game shares tied maxima.

============================  ====================================================
module                        question and functions
============================  ====================================================
:mod:`.faithfulness`          does removing / adding what the map ranks first change
                              the output? :func:`deletion_curves`,
                              :func:`insertion_curves`, :func:`deletion_auc`,
                              :func:`completeness_gap`, ...
:mod:`.road`                  the same without out-of-distribution inputs:
                              :func:`road_curves`, :func:`noisy_linear_imputation`
:mod:`.localisation`          does the map point at the planted evidence?
                              :func:`mass_in_region`, :func:`pointing_game`,
                              :func:`region_fraction`, :func:`interval_mask`
:mod:`.randomisation`         does the map depend on the model (Adebayo et al. 2018)?
                              :func:`randomize_layers`, :func:`rank_correlation`, ...
:mod:`.robustness`            does a small input change move the map?
                              :func:`max_sensitivity`
:mod:`.complexity`            how concentrated is the map? :func:`sparseness`,
                              :func:`entropy_complexity`
============================  ====================================================

Like :mod:`utils`, the package imports its modules on first use (the localisation and
complexity metrics do not load torch). The names are also available as ``utils.<name>``.
"""

from __future__ import annotations

from .._lazy import lazy_exports

#: Public name -> the module of this package that defines it.
_WHERE: dict[str, str] = {
    "area_under_curve": "faithfulness",
    "completeness_gap": "faithfulness",
    "deletion_auc": "faithfulness",
    "deletion_curve": "faithfulness",
    "deletion_curves": "faithfulness",
    "insertion_curves": "faithfulness",
    "patch_scores": "faithfulness",
    "tie_break_orders": "faithfulness",
    "noisy_linear_imputation": "road",
    "road_curves": "road",
    "interval_mask": "localisation",
    "mass_in_region": "localisation",
    "pointing_game": "localisation",
    "region_fraction": "localisation",
    "agreement_matrix": "randomisation",
    "mean_rank_correlation": "randomisation",
    "randomize_layers": "randomisation",
    "rank_correlation": "randomisation",
    "max_sensitivity": "robustness",
    "entropy_complexity": "complexity",
    "sparseness": "complexity",
}

__all__ = sorted(_WHERE)


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, globals())
