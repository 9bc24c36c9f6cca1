#!/usr/bin/env bash
# Flows/s through a consumer group of 1 and 2 `mlads run` processes on a
# real Kafka broker, their ratio, and where a flow's time goes in one
# process (parse, codec, score; the rest is the broker and the clients).
#
#   bench/kafka/run.sh [FLOWS]        (default 1000000)
#
# Uses $KAFKA_BOOTSTRAP when set; otherwise starts a broker of its own from
# ../shared/kafkanode (Java 17+) and stops it at the end. Needs ../shared/data
# (the labelled Stratosphere conn logs: the model is trained on 011, the
# stream is 012 repeated with shifted times).
set -euo pipefail
cd "$(dirname "$0")/../.."
flows=${1:-1000000}
if [ -z "${KAFKA_BOOTSTRAP:-}" ]; then
  export KAFKANODE_WORK="${KAFKANODE_WORK:-$(mktemp -d)/kafkanode}"
  trap 'bash ../shared/kafkanode/kafkanode-ci.sh stop >/dev/null 2>&1 || true' EXIT
  KAFKA_BOOTSTRAP=$(KAFKANODE_PORT=0 KAFKANODE_LOG_LEVEL=WARN bash ../shared/kafkanode/kafkanode-ci.sh start)
  export KAFKA_BOOTSTRAP
fi
echo "broker $KAFKA_BOOTSTRAP, $flows flows, load: $(cut -d' ' -f1-3 /proc/loadavg)"
out=$(mktemp)
KAFKA_BENCH_FLOWS=$flows go test -run '^$' -bench 'KafkaGroup|KafkaStages' -benchtime 1x -timeout 60m ./internal/app/ \
  | grep -E '^Benchmark' | tee "$out"
go test -run '^$' -bench 'KafkaStages' ./internal/app/ | grep -E '^Benchmark' | tee -a "$out"
awk '
  /KafkaGroup\/procs=1/ { for (i=1;i<=NF;i++) if ($(i+1)=="flows/s") one=$i }
  /KafkaGroup\/procs=2/ { for (i=1;i<=NF;i++) if ($(i+1)=="flows/s") two=$i }
  /KafkaStages\/parse/  { for (i=1;i<=NF;i++) if ($(i+1)=="flows/s") parse=$i }
  /KafkaStages\/codec/  { for (i=1;i<=NF;i++) if ($(i+1)=="flows/s") codec=$i }
  /KafkaStages\/score/  { for (i=1;i<=NF;i++) if ($(i+1)=="flows/s") score=$i }
  END {
    printf "group: 1 process %.0f flows/s, 2 processes %.0f flows/s, ratio %.2f\n", one, two, two/one
    us = 1e6/one; p = 1e6/parse; c = 1e6/codec; s = 1e6/score
    printf "per flow, 1 process: %.1f us in all = parse %.1f + codec %.1f + score %.1f + broker and clients %.1f (%.0f%%)\n", us, p, c, s, us-p-c-s, 100*(us-p-c-s)/us
  }' "$out"
