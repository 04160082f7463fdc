#!/usr/bin/env bash
# A real single-node Apache Kafka 4.x broker (KRaft) for the test suite and benchmarks.
#
#   tests/kafka/kafka.sh start DIR   resolve the jars (Maven, cached in ~/.m2), format a fresh
#                                    store in DIR, start the broker on free loopback ports,
#                                    wait until it answers; writes DIR/bootstrap (host:port)
#                                    and DIR/pid. A second listener takes SASL_PLAINTEXT with
#                                    mechanism PLAIN, user mephisto, password mephisto-secret
#                                    (a test broker's fixed credentials): DIR/sasl_bootstrap
#   tests/kafka/kafka.sh stop DIR    stop the broker by its recorded PID (TERM, then KILL)
#
# Needs java (17+), mvn, kcat and python3 (free ports). Fails loudly when it cannot start.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:?usage: kafka.sh start|stop DIR}
dir=${2:?usage: kafka.sh start|stop DIR}

fail() { echo "kafka.sh: $*" >&2; exit 1; }

stop() {
  [ -f "$dir/pid" ] || { echo "kafka.sh: no broker recorded in $dir"; return 0; }
  local pid; pid=$(cat "$dir/pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && { echo "kafka.sh: broker $pid ignored TERM, killing"; kill -KILL "$pid" || true; }
  fi
  rm -f "$dir/pid" "$dir/bootstrap" "$dir/sasl_bootstrap"
  echo "kafka.sh: broker $pid stopped"
}

start() {
  for tool in java mvn kcat python3; do
    command -v "$tool" >/dev/null || fail "$tool is missing (make deps installs it)"
  done
  [ -f "$dir/pid" ] && stop
  mkdir -p "$dir"
  local libs=${MEPHISTO_KAFKA_LIBS:-$dir/libs}
  if [ ! -f "$libs/.complete" ]; then
    echo "kafka.sh: resolving Kafka jars into $libs"
    mvn -B -q -f "$here/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$libs" || fail "Maven could not resolve the Kafka jars"
    touch "$libs/.complete"
  fi
  read -r port cport sport < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
  local data="$dir/data"
  rm -rf "$data" && mkdir -p "$data"
  cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport,SASL_PLAINTEXT://127.0.0.1:$sport
advertised.listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport,SASL_PLAINTEXT://127.0.0.1:$sport
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_mephisto="mephisto-secret";
log.dirs=$data
num.partitions=8
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
log.segment.bytes=67108864
log.cleaner.backoff.ms=1000
PROPS
  cat > "$dir/log4j2.properties" <<'PROPS'
rootLogger.level=INFO
rootLogger.appenderRef.file.ref=file
appender.file.type=File
appender.file.name=file
appender.file.fileName=${sys:kafka.logs.dir}/server.log
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
logger.kafka.name=kafka
logger.kafka.level=INFO
logger.apache.name=org.apache.kafka
logger.apache.level=WARN
PROPS
  local cp="$libs/*"
  local jvm=(-Xms512m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
             "-Dlog4j2.configurationFile=$dir/log4j2.properties" "-Dkafka.logs.dir=$dir")
  local id; id=$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
  [ -n "$id" ] || fail "StorageTool random-uuid failed"
  java -cp "$cp" "${jvm[@]}" kafka.tools.StorageTool format --standalone -t "$id" \
    -c "$dir/server.properties" > "$dir/format.log" 2>&1 \
    || { cat "$dir/format.log" >&2; fail "formatting the KRaft store failed"; }
  nohup java -cp "$cp" "${jvm[@]}" kafka.Kafka "$dir/server.properties" \
    > "$dir/stdout.log" 2>&1 < /dev/null &
  echo $! > "$dir/pid"
  for _ in $(seq 240); do
    if kcat -b "127.0.0.1:$port" -L -m 2 >/dev/null 2>&1; then
      echo "127.0.0.1:$sport" > "$dir/sasl_bootstrap"
      echo "127.0.0.1:$port" > "$dir/bootstrap"
      echo "kafka.sh: Kafka $(ls "$libs" | sed -n 's/^kafka_2.13-\(.*\)\.jar$/\1/p') up at 127.0.0.1:$port (pid $(cat "$dir/pid"), logs in $dir)"
      return 0
    fi
    kill -0 "$(cat "$dir/pid")" 2>/dev/null || { tail -30 "$dir/stdout.log" "$dir/server.log" >&2 || true; fail "the broker exited"; }
    sleep 0.5
  done
  tail -30 "$dir/server.log" >&2 || true
  stop
  fail "the broker did not answer within 120 s"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) fail "unknown command $cmd" ;;
esac
