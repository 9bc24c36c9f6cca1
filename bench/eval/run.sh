#!/bin/sh
# Detection quality of mlads against peer detectors (scikit-learn's
# IsolationForest, PyOD's KNN, LOF, HBOS, ECOD and COPOD) on the labelled
# sets of the shared data, same features and time-ordered split for all.
#
#   bench/eval/run.sh [DATA_DIR]        (default: ../shared/data)
#
# Installs numpy, scikit-learn and PyOD for the peers when they are missing.
set -eu
cd "$(dirname "$0")/../.."
data=${1:-../shared/data}
python=${PYTHON:-python3}
if ! "$python" -c 'import numpy, sklearn, pyod' 2>/dev/null; then
	"$python" -m pip install --quiet numpy scikit-learn pyod
fi
go run ./cmd/mlads eval --data "$data" --peers bench/eval/peers.py --python "$python"
