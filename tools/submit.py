"""Check a homework notebook before handing it in; write ``<ID>_<homework>.ipynb``.

Usage (see GRADING.md)::

    python tools/submit.py xai-for-1d-data/06_ecg_comparison_homework.ipynb [--out DIR] [--force]

Exit status 0 when the file to hand in was written and nothing is missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.grading.submit import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
