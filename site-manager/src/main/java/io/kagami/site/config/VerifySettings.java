package io.kagami.site.config;

/**
 * Continuous verification of the standby's replica ({@code verify:} in the YAML): how fast a
 * primary walks its volumes placing verification points (see {@code
 * io.kagami.journal.VerifyPoint}).
 *
 * @param rateBytesPerSecond region bytes checked per second and volume ({@code verify.rate}); 0
 *     turns the continuous passes off ({@code kagami verify} still starts one at {@link
 *     #ON_DEMAND_RATE} then)
 */
public record VerifySettings(long rateBytesPerSecond) {
  /**
   * Default: a 100 GiB volume is walked in about an hour and a half, for ~2 % of one core. The
   * points are journal entries, but never read as writes: a volume's newest write, its lag and its
   * age, a drill's or a recovery's point and its time all skip them.
   */
  public static final long DEFAULT_RATE = 20L << 20;

  /** A pass started on demand while the continuous rate is off runs at this rate. */
  public static final long ON_DEMAND_RATE = 20L << 20;

  /** The most a volume may be verified per second: 4 GiB/s (more is not a rate but a typo). */
  public static final long MAX_RATE = 4L << 30;

  public static final VerifySettings DEFAULT = new VerifySettings(DEFAULT_RATE);

  /** The rate a pass runs at: the configured one, or the on-demand rate while that is off. */
  public long passRate() {
    return rateBytesPerSecond > 0 ? rateBytesPerSecond : ON_DEMAND_RATE;
  }
}
