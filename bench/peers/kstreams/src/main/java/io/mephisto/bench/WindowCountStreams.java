package io.mephisto.bench;

import java.time.Duration;
import java.util.Properties;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.state.Stores;
import org.apache.kafka.streams.state.WindowStore;

/**
 * The "windows" workload of bench/compare.sh in Kafka Streams: emit-final counts per key and
 * 1-minute tumbling window, the peer of Mephisto's {@code mephisto-stream-ops} with
 * WORKLOAD=windows.
 *
 * <p>INPUT_TOPIC (events: String keys, any values; BenchTool produce-windows) -> group by the
 * key (no repartition: the input is keyed) -> tumbling 1-minute windows, grace 0 -> count in
 * the window store {@code window-counts} (changelog {@code <APP_ID>-window-counts-changelog})
 * -> suppress until the window closes (buffer {@code window-counts-suppress-store}, changelog
 * {@code <APP_ID>-window-counts-suppress-store-changelog}) -> one record per closed window to
 * OUTPUT_TOPIC: key = {@code <key>@<window start, epoch ms>}, value = the decimal count.
 * A window closes when the stream time of its partition (the largest record timestamp seen)
 * reaches its end, which is why produce-windows ends every partition with a later record.
 *
 * <p>Environment: BOOTSTRAP (host:port), APP_ID, OUTPUT_TOPIC; optional INPUT_TOPIC (events),
 * STATE_DIR, STREAM_THREADS, COMMIT_INTERVAL_MS (see StreamsPeer), STORE (memory | rocksdb;
 * memory: an in-memory window store, retention = window size + grace as Streams' default).
 *
 * <p>The record cache keeps Streams' default size (unlike ColorsStreams): the output is emit-final,
 * one record per closed window whatever the cache holds back, so its content does not depend on
 * the cache. Its timing does: updates reach the suppress buffer when the cache evicts them or at
 * a commit, so the last windows (closed by the partitions' last records) are written at the
 * first commit after the input's end (COMMIT_INTERVAL_MS). SIGTERM closes the topology cleanly.
 */
public final class WindowCountStreams {
  static final Duration WINDOW = Duration.ofMinutes(1);

  static Topology topology(String input, String output, boolean inMemory) {
    StreamsBuilder builder = new StreamsBuilder();
    TimeWindows windows = TimeWindows.ofSizeAndGrace(WINDOW, Duration.ZERO);
    Materialized<String, Long, WindowStore<Bytes, byte[]>> store =
        inMemory
            ? Materialized.<String, Long>as(Stores.inMemoryWindowStore(
                  "window-counts", WINDOW.plus(Duration.ZERO), WINDOW, false))
            : Materialized.as("window-counts");
    builder.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
        .groupByKey(Grouped.with(Serdes.String(), Serdes.String()))
        .windowedBy(windows)
        .count(store.withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()))
        .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded())
            .withName("window-counts-suppress"))
        .toStream()
        .map((window, count) -> KeyValue.pair(window.key() + "@" + window.window().start(),
                                              Long.toString(count)))
        .to(output, Produced.with(Serdes.String(), Serdes.String()));
    return builder.build();
  }

  public static void main(String[] args) throws Exception {
    Properties props = StreamsPeer.props("windows-kstreams", "window-count-streams");
    Topology topology = topology(StreamsPeer.env("INPUT_TOPIC", "events"), StreamsPeer.env("OUTPUT_TOPIC", null),
                                 !StreamsPeer.env("STORE", "memory").equals("rocksdb"));
    StreamsPeer.run(topology, props, "window-count-streams");
  }
}
