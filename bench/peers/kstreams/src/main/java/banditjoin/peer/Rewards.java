package banditjoin.peer;

import java.util.Arrays;
import java.util.List;

/** REWARD_AGG over a decision's counted rewards, in log order (SPEC §3). */
final class Rewards {
  private Rewards() {}

  static double combine(String aggregation, List<KeyState.FollowUp> rewards) {
    double[] values = rewards.stream().mapToDouble(KeyState.FollowUp::reward).toArray();
    return switch (aggregation) {
      case "last" -> values[values.length - 1];
      case "first" -> values[0];
      case "sum" -> sum(values);
      case "mean" -> sum(values) / values.length;
      case "min" -> Arrays.stream(values).min().getAsDouble();
      case "max" -> Arrays.stream(values).max().getAsDouble();
      case "median" -> median(values);
      default -> throw new IllegalArgumentException("REWARD_AGG " + aggregation);
    };
  }

  /** Added in log order, as banditjoin adds them (a stream's sum() compensates, so its last bits can differ). */
  private static double sum(double[] values) {
    double sum = 0;
    for (double value : values) sum += value;
    return sum;
  }

  private static double median(double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    int mid = sorted.length / 2;
    return sorted.length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  }

  /** A number as JavaScript's JSON.stringify writes it, for the integral values a reward usually is ("1", not "1.0"). */
  static String json(double value) {
    if (value == Math.rint(value) && Math.abs(value) < 1e15) return Long.toString((long) value);
    return Double.toString(value);
  }
}
