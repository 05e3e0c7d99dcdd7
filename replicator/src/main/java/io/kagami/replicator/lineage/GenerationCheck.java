package io.kagami.replicator.lineage;

/**
 * The rule a standby applies to a primary's generation in the WAN handshake, as a pure decision:
 * whether the history held here and the one offered are one line (continue, or adopt the
 * primary's), whether this site is an old primary coming back with writes after the fork that the
 * operator allowed to discard (failback), or whether they diverged (refuse, with the reason and
 * what to do). Two histories are never merged silently. No I/O; any thread.
 */
public final class GenerationCheck {
  private GenerationCheck() {}

  /** What to do with an offered generation. */
  public sealed interface Verdict permits Continue, Adopt, Failback, Refuse {}

  /** The same line of history (or the primary offers none): nothing changes. */
  public record Continue() implements Verdict {}

  /** Take the primary's generation: this standby holds nothing past where the primary's began. */
  public record Adopt(long generation) implements Verdict {}

  /**
   * This site held the primary's prior generation and went on past {@code forkSeq}; the operator
   * consented to discard those writes (after saving them aside), then adopt {@code generation}.
   */
  public record Failback(long generation, long forkSeq) implements Verdict {}

  /** The histories diverged; {@code reason} says how, and what the operator can do. */
  public record Refuse(String reason) implements Verdict {}

  /**
   * Decides for {@code volume}, which holds generation {@code mine} (0: none yet) through seq
   * {@code heldThrough}, when a primary offers {@code offered}; {@code failbackConsented} says
   * whether the operator ran {@code kagami failback} on this site.
   */
  public static Verdict decide(
      String volume, long mine, long heldThrough, Generation offered, boolean failbackConsented) {
    long primary = offered.current();
    long prior = offered.prior();
    long priorEnd = offered.priorEnd();
    if (primary == 0 || mine == primary) {
      return new Continue();
    }
    if (mine == 0 || (mine == prior && heldThrough <= priorEnd)) {
      return new Adopt(primary);
    }
    if (mine == prior && failbackConsented) {
      return new Failback(primary, priorEnd);
    }
    return new Refuse(
        "volume "
            + volume
            + ": the histories diverged: this standby holds generation "
            + Generations.hex(mine)
            + " through seq "
            + heldThrough
            + ", the primary ships generation "
            + Generations.hex(primary)
            + (prior == 0
                ? ""
                : " (grown out of " + Generations.hex(prior) + " at seq " + priorEnd + ")")
            + (mine == prior
                ? "; they are never merged: this site holds writes after the fork that a rejoin discards; run `kagami failback` on it to save them aside and rejoin as the standby"
                : "; they are never merged: wipe this standby's journal and volume to take the primary's"));
  }
}
