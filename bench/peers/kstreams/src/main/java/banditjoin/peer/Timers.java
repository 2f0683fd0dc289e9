package banditjoin.peer;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.utils.Bytes;

/**
 * Keys of the timer store, ordered by time in the store's byte order (RocksDB compares keys as
 * unsigned bytes; times and offsets are positive): time, kind, the event's offset (log order
 * among equal times), decision key.
 */
final class Timers {
  /** A pending decision falls due (t_d + E). */
  static final byte DUE = 0;
  /** Held events become orphans (t + G + 1). */
  static final byte ORPHAN = 1;
  /** A released decision's key is forgotten (t_d + E + H). */
  static final byte FORGET = 2;

  private static final int HEADER = Long.BYTES + 1 + Long.BYTES;

  record Timer(long timeMs, byte kind, long offset, String key) {}

  private Timers() {}

  static Bytes key(long timeMs, byte kind, long offset, String key) {
    byte[] utf8 = key.getBytes(StandardCharsets.UTF_8);
    return Bytes.wrap(
        ByteBuffer.allocate(HEADER + utf8.length).putLong(timeMs).put(kind).putLong(offset).put(utf8).array());
  }

  static Timer decode(Bytes stored) {
    ByteBuffer buffer = ByteBuffer.wrap(stored.get());
    long timeMs = buffer.getLong();
    byte kind = buffer.get();
    long offset = buffer.getLong();
    return new Timer(timeMs, kind, offset, new String(stored.get(), HEADER, buffer.remaining(), StandardCharsets.UTF_8));
  }

  static long timeOf(Bytes stored) {
    return ByteBuffer.wrap(stored.get()).getLong();
  }
}
