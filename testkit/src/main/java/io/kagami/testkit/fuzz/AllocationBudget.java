package io.kagami.testkit.fuzz;

import java.lang.management.ManagementFactory;

/**
 * Measures the bytes the current thread allocates while one fuzz input is decoded, and fails when
 * they exceed a budget: a length field that claims gigabytes must be refused, not allocated, and a
 * 30-byte frame must not make the decoder allocate 64 MiB. The count comes from the JVM's
 * per-thread allocation counter (HotSpot's {@code com.sun.management.ThreadMXBean}), so it sees
 * every array and object, including ones freed before the input ends.
 *
 * <p>The budget is {@code fixed + perInputByte × input length}: a decoder may copy and expand what
 * it received by a bounded factor (LZ4 at most 255 ×), plus a fixed amount for its own structures.
 */
public final class AllocationBudget {
  private static final com.sun.management.ThreadMXBean THREADS =
      (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

  private final long fixedBytes;
  private final long perInputByte;

  private AllocationBudget(long fixedBytes, long perInputByte) {
    this.fixedBytes = fixedBytes;
    this.perInputByte = perInputByte;
  }

  /** A budget of {@code fixedBytes} plus {@code perInputByte} for every byte of input. */
  public static AllocationBudget of(long fixedBytes, long perInputByte) {
    return new AllocationBudget(fixedBytes, perInputByte);
  }

  /** What may be allocated for an input of {@code inputBytes}. */
  public long limit(long inputBytes) {
    return fixedBytes + perInputByte * inputBytes;
  }

  /**
   * Runs {@code work} on this thread and throws {@link AssertionError} if it allocated more than
   * the budget for {@code inputBytes} of input, whether it returned or threw (a decoder that
   * allocates 64 MiB and then refuses the input has still allocated it); otherwise an exception
   * from {@code work} passes through for the caller to judge.
   *
   * <p>{@code work} must be repeatable (the same input decoded again from the start): when a run is
   * over budget it runs once more and only that second count decides, because the first run of a
   * code path also counts what loading and instrumenting its classes allocated on this thread.
   */
  public <X extends Throwable> void check(long inputBytes, Work<X> work) throws X {
    long before = THREADS.getCurrentThreadAllocatedBytes();
    try {
      work.run();
    } catch (Throwable t) {
      if (over(inputBytes, before)) {
        confirm(inputBytes, work);
      }
      throw t;
    }
    if (over(inputBytes, before)) {
      confirm(inputBytes, work);
    }
  }

  private boolean over(long inputBytes, long before) {
    return THREADS.getCurrentThreadAllocatedBytes() - before > limit(inputBytes);
  }

  private void confirm(long inputBytes, Work<?> work) {
    long before = THREADS.getCurrentThreadAllocatedBytes();
    Throwable outcome = null;
    try {
      work.run();
    } catch (Throwable t) {
      outcome = t;
    }
    long used = THREADS.getCurrentThreadAllocatedBytes() - before;
    if (used > limit(inputBytes)) {
      AssertionError e =
          new AssertionError(
              "decoding "
                  + inputBytes
                  + " bytes of input allocated "
                  + used
                  + " bytes, over the budget of "
                  + limit(inputBytes)
                  + (outcome == null ? "" : " before it ended with " + outcome)
                  + " (a length field trusted instead of checked against what arrived?)");
      if (outcome != null) {
        e.addSuppressed(outcome);
      }
      throw e;
    }
  }

  /** Work whose allocation is measured. */
  @FunctionalInterface
  public interface Work<X extends Throwable> {
    void run() throws X;
  }
}
