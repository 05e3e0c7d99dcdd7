package io.kagami.replicator.sync;

import io.kagami.replicator.volume.ReplicationGate;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongSupplier;

/**
 * Sync mode of one volume: a journaled change is acknowledged only once the standby reports it
 * durable in its own journal. When the standby stops answering, the configured policy decides after
 * {@link Policy#timeout()}: {@link OnTimeout#BLOCK} keeps the writes waiting (fail closed: a host
 * never sees an acknowledgement the standby does not hold), {@link OnTimeout#DEGRADE} releases them
 * and acknowledges on the local journal alone (async) until the standby has caught up with
 * everything journaled, then returns to sync by itself.
 *
 * <p>Threads: {@link #replicated} runs on the journal's completion thread, {@link #peerDurable} on
 * the shipper's, {@link #checkTimeouts} on a timer; futures are completed outside the lock. Time
 * comes from a nanosecond source so tests drive it.
 */
public final class SyncReplication implements ReplicationGate {
  private static final System.Logger LOG = System.getLogger(SyncReplication.class.getName());

  /** What happens to writes when the standby has not confirmed them within the timeout. */
  public enum OnTimeout {
    /** Keep waiting: writes block until the standby is back (no acknowledgement without it). */
    BLOCK,
    /** Acknowledge on the local journal (async) and alert; back to sync once caught up. */
    DEGRADE;

    public String label() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  /** The operator's policy for an unreachable standby. */
  public record Policy(Duration timeout, OnTimeout onTimeout) {
    public Policy {
      Objects.requireNonNull(timeout, "timeout");
      Objects.requireNonNull(onTimeout, "onTimeout");
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("sync timeout must be positive, got " + timeout);
      }
    }
  }

  /** Where the volume stands. */
  public enum State {
    /** Acknowledgements wait for the standby. */
    SYNC,
    /** Writes have waited longer than the timeout and keep waiting (policy BLOCK). */
    BLOCKED,
    /** Acknowledging on the local journal until the standby catches up (policy DEGRADE). */
    DEGRADED
  }

  private record Waiter(long seq, long sinceNanos, CompletableFuture<Void> done) {}

  private final String volume;
  private final Policy policy;
  private final LongSupplier nanoTime;
  private final LongSupplier lastJournaledSeq;

  /**
   * By sequence number: continuations may run on different threads, so arrival order is not seq
   * order.
   */
  private final PriorityQueue<Waiter> waiters =
      new PriorityQueue<>((a, b) -> Long.compare(a.seq, b.seq));

  private long peerSeq;
  private State state = State.SYNC;
  private long degradations;

  /**
   * @param peerSeq what the standby is known to hold durably at start
   * @param lastJournaledSeq the volume's last journaled sequence number (to tell "caught up")
   */
  public SyncReplication(
      String volume,
      Policy policy,
      long peerSeq,
      LongSupplier lastJournaledSeq,
      LongSupplier nanoTime) {
    this.volume = volume;
    this.policy = policy;
    this.peerSeq = peerSeq;
    this.lastJournaledSeq = lastJournaledSeq;
    this.nanoTime = nanoTime;
  }

  @Override
  public CompletableFuture<Void> replicated(long seq) {
    synchronized (this) {
      if (state != State.DEGRADED && seq > peerSeq) {
        Waiter w = new Waiter(seq, nanoTime.getAsLong(), new CompletableFuture<>());
        waiters.add(w);
        return w.done;
      }
    }
    return CompletableFuture.completedFuture(null);
  }

  /** The standby holds everything through {@code seq} durably. */
  public void peerDurable(long seq) {
    List<Waiter> released = new ArrayList<>();
    State was;
    State now;
    synchronized (this) {
      was = state;
      if (seq > peerSeq) {
        peerSeq = seq;
      }
      while (!waiters.isEmpty() && waiters.peek().seq <= peerSeq) {
        released.add(waiters.poll());
      }
      if (state == State.BLOCKED
          && (waiters.isEmpty() || !overdue(waiters.peek(), nanoTime.getAsLong()))) {
        state = State.SYNC;
      } else if (state == State.DEGRADED && peerSeq >= lastJournaledSeq.getAsLong()) {
        state = State.SYNC;
      }
      now = state;
    }
    for (Waiter w : released) {
      w.done.complete(null);
    }
    logTransition(was, now);
  }

  /**
   * Acknowledges on the local journal from now on, until the standby catches up (then back to
   * sync): a site promoted after a failover has no standby until its old primary rejoins.
   */
  public void degrade() {
    List<Waiter> released;
    State was;
    synchronized (this) {
      was = state;
      if (state != State.DEGRADED) {
        degradations++;
      }
      state = State.DEGRADED;
      released = new ArrayList<>(waiters);
      waiters.clear();
    }
    for (Waiter w : released) {
      w.done.complete(null);
    }
    if (was != State.DEGRADED) {
      LOG.log(
          Level.WARNING,
          "volume {0}: ALERT sync replication degraded to async: this site has no standby in sync; writes are acknowledged on the local journal until one catches up",
          volume);
    }
  }

  /** Applies the timeout policy to writes waiting too long; call periodically. */
  public void checkTimeouts() {
    List<Waiter> released = List.of();
    State was;
    State now;
    synchronized (this) {
      was = state;
      Waiter oldest = waiters.peek();
      if (oldest != null && state == State.SYNC && overdue(oldest, nanoTime.getAsLong())) {
        if (policy.onTimeout() == OnTimeout.DEGRADE) {
          state = State.DEGRADED;
          degradations++;
          released = new ArrayList<>(waiters);
          waiters.clear();
        } else {
          state = State.BLOCKED;
        }
      }
      now = state;
    }
    for (Waiter w : released) {
      w.done.complete(null);
    }
    logTransition(was, now);
  }

  private boolean overdue(Waiter w, long nowNanos) {
    return nowNanos - w.sinceNanos >= policy.timeout().toNanos();
  }

  private void logTransition(State was, State now) {
    if (was == now) {
      return;
    }
    switch (now) {
      case DEGRADED ->
          LOG.log(
              Level.WARNING,
              "volume {0}: ALERT sync replication degraded to async: the standby confirmed nothing for {1} ms; writes are acknowledged on the local journal until it catches up",
              volume,
              policy.timeout().toMillis());
      case BLOCKED ->
          LOG.log(
              Level.WARNING,
              "volume {0}: ALERT writes blocked: the standby confirmed nothing for {1} ms and the sync policy is to block (fail closed)",
              volume,
              policy.timeout().toMillis());
      case SYNC ->
          LOG.log(
              Level.INFO,
              "volume {0}: sync replication restored (was {1})",
              volume,
              was.name().toLowerCase(java.util.Locale.ROOT));
    }
  }

  public synchronized State state() {
    return state;
  }

  public Policy policy() {
    return policy;
  }

  /** How often the volume fell back to async since start. */
  public synchronized long degradations() {
    return degradations;
  }

  /** Writes waiting for the standby right now. */
  public synchronized int waiting() {
    return waiters.size();
  }
}
