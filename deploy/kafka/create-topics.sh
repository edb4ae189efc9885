#!/usr/bin/env bash
# Creates the ComplaintOps topics on an Apache Kafka cluster (run once; safe to run again).
#
# Runs in the apache/kafka image (the kafka-topics service of docker-compose.yml)
# or anywhere Kafka's command-line tools are installed:
#
#   BOOTSTRAP=broker1:9092 KAFKA_BIN=/opt/kafka/bin ./create-topics.sh
#
# Partitions are the unit of parallelism: at most one consumer of a group
# reads a partition, so TOPIC_PARTITIONS caps how many consumer-metrics (and
# consumer-store) replicas do useful work. Events are keyed by case id, so
# every event of a case lands on one partition, in order. Existing topics are
# left alone: adding partitions later moves cases to other partitions (see
# docs/operations.md, "Scale").
set -euo pipefail

BOOTSTRAP="${BOOTSTRAP:-kafka:9092}"
KAFKA_BIN="${KAFKA_BIN:-/opt/kafka/bin}"
TOPIC="${TOPIC:-complaints.case-events}"
TOPIC_PARTITIONS="${TOPIC_PARTITIONS:-12}"
TOPIC_RETENTION_MS="${TOPIC_RETENTION_MS:-1209600000}"   # 14 days
DLQ_TOPIC="${DLQ_TOPIC:-complaints.case-events.dlq}"
DLQ_PARTITIONS="${DLQ_PARTITIONS:-3}"
DLQ_RETENTION_MS="${DLQ_RETENTION_MS:-2592000000}"       # 30 days
REPLICATION="${REPLICATION:-1}"

topics() {
  "${KAFKA_BIN}/kafka-topics.sh" --bootstrap-server "${BOOTSTRAP}" "$@"
}

create() {
  local name="$1" partitions="$2" retention_ms="$3"
  topics --create --if-not-exists \
    --topic "${name}" \
    --partitions "${partitions}" \
    --replication-factor "${REPLICATION}" \
    --config "retention.ms=${retention_ms}" \
    --config "cleanup.policy=delete"
  local actual
  actual="$(topics --describe --topic "${name}" | grep -c 'Partition: ' || true)"
  if [ "${actual}" -lt "${partitions}" ]; then
    echo "notice: ${name} exists with ${actual} partitions (wanted ${partitions}); left unchanged" >&2
  fi
  echo "${name}: ${actual} partitions"
}

create "${TOPIC}" "${TOPIC_PARTITIONS}" "${TOPIC_RETENTION_MS}"
create "${DLQ_TOPIC}" "${DLQ_PARTITIONS}" "${DLQ_RETENTION_MS}"
