#!/usr/bin/env bash
# Submit a batch run of course notebooks to SLURM with the options from hpc/site.env.
#   bash hpc/submit.sh xai-for-image-data                 # a whole day
#   bash hpc/submit.sh xai-for-1d-data/01_cam_for_signals.ipynb
# Extra sbatch options go before the notebooks: bash hpc/submit.sh --mail-type=END DAY
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=site.env
source "${XAI_SITE_ENV:-$here/site.env}"
options=(--job-name=xai-course --nodes=1 --ntasks=1 "--cpus-per-task=${CPUS_PER_TASK:-8}"
         "--time=${TIME:-01:00:00}" "--output=${OUTPUT_DIR:-runs}/slurm-%j.out")
[ -n "${ACCOUNT:-}" ] && options+=("--account=$ACCOUNT")
[ -n "${PARTITION:-}" ] && options+=("--partition=$PARTITION")
[ -n "${RESERVATION:-}" ] && options+=("--reservation=$RESERVATION")
[ "${GPUS:-0}" != "0" ] && options+=("--gpus=$GPUS")
while [ $# -gt 0 ] && [ "${1#--}" != "$1" ]; do options+=("$1"); shift; done
if [ $# -eq 0 ]; then
    echo "usage: bash hpc/submit.sh [sbatch options] NOTEBOOK_OR_DAY_FOLDER..." >&2
    exit 2
fi
cd "$here/.."
mkdir -p "${OUTPUT_DIR:-runs}"
exec sbatch "${options[@]}" hpc/run_notebooks.sbatch "$@"
