#!/bin/sh
# Detection quality of mlads against peer detectors (scikit-learn's
# IsolationForest, PyOD's KNN, LOF, HBOS, ECOD and COPOD) on the labelled
# sets of the shared data, same features and time-ordered split for all;
# once with the per-flow layer alone and once with the behavioural layer
# merged (--behavior), as the README's tables show.
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
go build -o "${TMPDIR:-/tmp}/mlads-eval" ./cmd/mlads
for layer in "" --behavior; do
	echo "== mlads eval $layer"
	"${TMPDIR:-/tmp}/mlads-eval" eval --data "$data" --peers bench/eval/peers.py --python "$python" $layer
	echo
done
