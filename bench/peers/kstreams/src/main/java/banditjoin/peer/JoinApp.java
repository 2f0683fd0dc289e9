package banditjoin.peer;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.state.Stores;

/**
 * The Kafka Streams peer of banditjoin's partition owner: reads the events topic, joins each
 * partition (JoinProcessor) and writes the joined records to its own output topic, exactly once.
 *
 * <pre>java -cp 'target/kstreams-peer.jar:target/lib/*' banditjoin.peer.JoinApp \
 *   --bootstrap HOST:PORT --input EVENTS --output JOINED --application-id ID --state-dir DIR \
 *   [--exp-unit-ms 10000] [--early-reward-ms 120000] [--reward-agg last] [--default-reward 0]</pre>
 *
 * Prints "kstreams peer is running" on standard output once the application runs; SIGTERM closes it.
 */
public final class JoinApp {
  private JoinApp() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> options = parse(args);
    String bootstrap = required(options, "bootstrap");
    String input = required(options, "input");
    String output = required(options, "output");
    JoinSettings settings = new JoinSettings(
        Long.parseLong(options.getOrDefault("exp-unit-ms", "10000")),
        Long.parseLong(options.getOrDefault("early-reward-ms", "120000")),
        options.getOrDefault("reward-agg", "last"),
        Double.parseDouble(options.getOrDefault("default-reward", "0")));
    Duration punctuateEvery = Duration.ofMillis(Long.parseLong(options.getOrDefault("punctuate-ms", "100")));

    createOutputTopic(bootstrap, input, output);

    Properties config = new Properties();
    config.put(StreamsConfig.APPLICATION_ID_CONFIG, required(options, "application-id"));
    config.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    config.put(StreamsConfig.STATE_DIR_CONFIG, required(options, "state-dir"));
    config.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    config.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, options.getOrDefault("threads", "1"));
    config.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");

    Topology topology = new Topology();
    topology.addSource("events", Serdes.String().deserializer(), Serdes.String().deserializer(), input);
    topology.addProcessor("join", () -> new JoinProcessor(settings, punctuateEvery), "events");
    // Persistent (RocksDB, the default), logged to changelog topics, cached in memory before both.
    topology.addStateStore(
        Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(JoinProcessor.KEYS), Serdes.String(), Serdes.ByteArray())
            .withCachingEnabled(),
        "join");
    topology.addStateStore(
        Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(JoinProcessor.TIMERS), Serdes.Bytes(), Serdes.ByteArray())
            .withCachingEnabled(),
        "join");
    topology.addSink("joined", output, Serdes.String().serializer(), Serdes.String().serializer(), "join");

    CountDownLatch closed = new CountDownLatch(1);
    KafkaStreams streams = new KafkaStreams(topology, config);
    streams.setStateListener((now, before) -> {
      if (now == KafkaStreams.State.RUNNING && before != KafkaStreams.State.RUNNING) {
        System.out.println("kstreams peer is running");
      }
      if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) closed.countDown();
    });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      streams.close(Duration.ofSeconds(10));
      closed.countDown();
    }));
    streams.start();
    closed.await();
    if (streams.state() == KafkaStreams.State.ERROR) System.exit(1);
  }

  /** The output topic with as many partitions as the input (Kafka Streams does not create sink topics). */
  private static void createOutputTopic(String bootstrap, String input, String output) throws Exception {
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
      int partitions = admin.describeTopics(List.of(input)).allTopicNames().get().get(input).partitions().size();
      try {
        admin.createTopics(List.of(new NewTopic(output, java.util.Optional.of(partitions), java.util.Optional.empty()))).all().get();
      } catch (java.util.concurrent.ExecutionException e) {
        if (!(e.getCause() instanceof TopicExistsException)) throw e;
      }
    }
  }

  private static Map<String, String> parse(String[] args) {
    Map<String, String> options = new HashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      if (!args[i].startsWith("--")) throw new IllegalArgumentException("expected --name value, got " + args[i]);
      options.put(args[i].substring(2), args[i + 1]);
    }
    return options;
  }

  private static String required(Map<String, String> options, String name) {
    String value = options.get(name);
    if (value == null) throw new IllegalArgumentException("--" + name + " is required");
    return value;
  }
}
