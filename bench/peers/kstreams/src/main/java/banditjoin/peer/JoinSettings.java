package banditjoin.peer;

/** The join settings of SPEC §3 (banditjoin's EXP_UNIT_MS, EARLY_REWARD_MS, REWARD_AGG, DEFAULT_REWARD). */
record JoinSettings(long expUnitMs, long earlyRewardMs, String rewardAgg, double defaultReward) {
  /** H: how long after its due time a decision's key is remembered (duplicates, late events). */
  long keyMemoryMs() {
    return Math.max(expUnitMs, earlyRewardMs);
  }
}
