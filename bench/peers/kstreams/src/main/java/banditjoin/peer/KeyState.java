package banditjoin.peer;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * What the store keeps for one decision key: its decision while pending (body, rewards counted,
 * override and activation), only its time once released (to recognise duplicates and late events
 * for H), or the rewards, overrides and activations that came before any decision (held up to G).
 */
final class KeyState {
  enum Status { PENDING, RELEASED, HELD }

  /** A reward, override or activation: counted for a pending decision, or held for one to come. */
  record FollowUp(String type, long timeMs, double reward, String id) {}

  Status status;
  long decisionMs;
  long offset;
  boolean deferred;
  boolean overridden;
  boolean activated;
  /** The decision's fields as JSON text, without its "type" (PENDING only). */
  String body;
  /** PENDING: the rewards counted, in log order; HELD: every follow-up held, in log order. */
  final List<FollowUp> events = new ArrayList<>();

  static KeyState pending(long decisionMs, long offset, String body, boolean deferred) {
    KeyState state = new KeyState();
    state.status = Status.PENDING;
    state.decisionMs = decisionMs;
    state.offset = offset;
    state.body = body;
    state.deferred = deferred;
    return state;
  }

  static KeyState held() {
    KeyState state = new KeyState();
    state.status = Status.HELD;
    return state;
  }

  /** Forgets the decision's details once released: only its time is still needed. */
  void release() {
    status = Status.RELEASED;
    body = null;
    events.clear();
  }

  /** Counts a reward once per id; false for a repeated id. */
  boolean count(FollowUp reward) {
    if (reward.id() != null) {
      for (FollowUp counted : events) if (reward.id().equals(counted.id())) return false;
    }
    events.add(reward);
    return true;
  }

  byte[] encode() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(body == null ? 32 : body.length() + 64);
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeByte(status.ordinal());
      out.writeLong(decisionMs);
      out.writeLong(offset);
      out.writeByte((deferred ? 1 : 0) | (overridden ? 2 : 0) | (activated ? 4 : 0));
      writeString(out, body);
      out.writeInt(events.size());
      for (FollowUp event : events) {
        out.writeUTF(event.type());
        out.writeLong(event.timeMs());
        out.writeDouble(event.reward());
        writeString(out, event.id());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  static KeyState decode(byte[] encoded) {
    KeyState state = new KeyState();
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(encoded))) {
      state.status = Status.values()[in.readByte()];
      state.decisionMs = in.readLong();
      state.offset = in.readLong();
      int flags = in.readByte();
      state.deferred = (flags & 1) != 0;
      state.overridden = (flags & 2) != 0;
      state.activated = (flags & 4) != 0;
      state.body = readString(in);
      int count = in.readInt();
      for (int i = 0; i < count; i++) {
        state.events.add(new FollowUp(in.readUTF(), in.readLong(), in.readDouble(), readString(in)));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return state;
  }

  /** A string of any length (writeUTF stops at 64 KiB; a context may be as large), or null. */
  private static void writeString(DataOutputStream out, String text) throws IOException {
    if (text == null) {
      out.writeInt(-1);
      return;
    }
    byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
    out.writeInt(utf8.length);
    out.write(utf8);
  }

  private static String readString(DataInputStream in) throws IOException {
    int length = in.readInt();
    if (length < 0) return null;
    return new String(in.readNBytes(length), StandardCharsets.UTF_8);
  }
}
