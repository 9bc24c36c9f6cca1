#!/bin/sh
# Detection quality of mlads against scikit-learn's IsolationForest on the
# labelled sets of the shared data, same time-ordered split for both.
#
#   bench/eval/run.sh [DATA_DIR]        (default: ../shared/data)
#
# Installs numpy and scikit-learn for the baseline when they are missing.
set -eu
cd "$(dirname "$0")/../.."
data=${1:-../shared/data}
python=${PYTHON:-python3}
if ! "$python" -c 'import numpy, sklearn' 2>/dev/null; then
	"$python" -m pip install --quiet numpy scikit-learn
fi
go run ./cmd/mlads eval --data "$data" --baseline bench/eval/iforest.py --python "$python"
