package io.kagami.replicator.sync;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.replicator.sync.SyncReplication.OnTimeout;
import io.kagami.replicator.sync.SyncReplication.Policy;
import io.kagami.replicator.sync.SyncReplication.State;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class SyncReplicationTest {
  private final AtomicLong nanos = new AtomicLong(1_000);
  private final AtomicLong journaled = new AtomicLong();

  private SyncReplication sync(OnTimeout onTimeout) {
    return new SyncReplication(
        "vol0", new Policy(Duration.ofSeconds(5), onTimeout), 0, journaled::get, nanos::get);
  }

  private CompletableFuture<Void> write(SyncReplication s) {
    return s.replicated(journaled.incrementAndGet());
  }

  private void advance(Duration d) {
    nanos.addAndGet(d.toNanos());
  }

  @Test
  void aWriteIsReleasedOnlyWhenTheStandbyHoldsIt() {
    SyncReplication s = sync(OnTimeout.DEGRADE);
    CompletableFuture<Void> w1 = write(s);
    CompletableFuture<Void> w2 = write(s);
    CompletableFuture<Void> w3 = write(s);
    assertThat(s.waiting()).isEqualTo(3);
    s.peerDurable(2);
    assertThat(w1).isCompleted();
    assertThat(w2).isCompleted();
    assertThat(w3).isNotDone();
    s.peerDurable(1); // acknowledgements never go back
    assertThat(w3).isNotDone();
    s.peerDurable(3);
    assertThat(w3).isCompleted();
    assertThat(s.replicated(2)).as("already on the standby").isCompleted();
  }

  @Test
  void waitersArrivingOutOfOrderAreReleasedBySequenceNumber() {
    SyncReplication s = sync(OnTimeout.DEGRADE);
    CompletableFuture<Void> w5 = s.replicated(5);
    CompletableFuture<Void> w3 = s.replicated(3);
    CompletableFuture<Void> w4 = s.replicated(4);
    s.peerDurable(4);
    assertThat(w3).isCompleted();
    assertThat(w4).isCompleted();
    assertThat(w5).isNotDone();
  }

  @Test
  void degradePolicyReleasesWritesAfterTheTimeoutAndReturnsToSyncWhenCaughtUp() {
    SyncReplication s = sync(OnTimeout.DEGRADE);
    CompletableFuture<Void> w1 = write(s);
    advance(Duration.ofMillis(4_900));
    s.checkTimeouts();
    assertThat(w1).as("before the timeout").isNotDone();
    assertThat(s.state()).isEqualTo(State.SYNC);
    advance(Duration.ofMillis(100));
    s.checkTimeouts();
    assertThat(w1).isCompleted();
    assertThat(s.state()).isEqualTo(State.DEGRADED);
    assertThat(s.degradations()).isEqualTo(1);
    // Degraded: acknowledged on the local journal alone.
    CompletableFuture<Void> w2 = write(s);
    CompletableFuture<Void> w3 = write(s);
    assertThat(w2).isCompleted();
    assertThat(w3).isCompleted();
    // The standby catches up part of the way: still degraded.
    s.peerDurable(2);
    assertThat(s.state()).isEqualTo(State.DEGRADED);
    // Caught up with everything journaled: sync again, and the next write waits.
    s.peerDurable(3);
    assertThat(s.state()).isEqualTo(State.SYNC);
    CompletableFuture<Void> w4 = write(s);
    assertThat(w4).isNotDone();
    s.peerDurable(4);
    assertThat(w4).isCompleted();
  }

  @Test
  void blockPolicyKeepsWritesWaitingPastTheTimeout() {
    SyncReplication s = sync(OnTimeout.BLOCK);
    CompletableFuture<Void> w1 = write(s);
    advance(Duration.ofSeconds(6));
    s.checkTimeouts();
    assertThat(s.state()).isEqualTo(State.BLOCKED);
    assertThat(w1).isNotDone();
    advance(Duration.ofMinutes(10));
    s.checkTimeouts();
    CompletableFuture<Void> w2 = write(s);
    assertThat(w1).isNotDone();
    assertThat(w2).isNotDone();
    s.peerDurable(2);
    assertThat(w1).isCompleted();
    assertThat(w2).isCompleted();
    assertThat(s.state()).isEqualTo(State.SYNC);
    assertThat(s.degradations()).isZero();
  }

  @Test
  void anIdleVolumeNeverTimesOut() {
    SyncReplication s = sync(OnTimeout.DEGRADE);
    advance(Duration.ofHours(1));
    s.checkTimeouts();
    assertThat(s.state()).isEqualTo(State.SYNC);
  }
}
