package io.kagami.failover.witness;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.failover.FakeClock;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A witness restarted from its durable record (write-ahead grants, honoured after a restart). */
class WitnessStateRestartTest {
  private static final Duration LEASE = Duration.ofSeconds(10);
  private static final Duration MARGIN = Duration.ofSeconds(2);
  private final FakeClock clock = new FakeClock();

  /** A store that keeps the last record in memory, or fails when told to. */
  private static final class Store implements WitnessState.Durable {
    final List<List<WitnessState.Saved>> saves = new ArrayList<>();
    boolean failing;

    @Override
    public void save(List<WitnessState.Saved> leases) throws IOException {
      if (failing) {
        throw new IOException("No space left on device");
      }
      saves.add(List.copyOf(leases));
    }

    List<WitnessState.Saved> last() {
      return saves.isEmpty() ? List.of() : saves.getLast();
    }
  }

  private WitnessState started(Store store) {
    WitnessState w = new WitnessState(LEASE, MARGIN, clock, store.last(), store);
    return w;
  }

  @Test
  void aGrantIsRecordedBeforeItIsAnsweredAndRenewalsWriteNothing() {
    Store store = new Store();
    WitnessState w = started(store);
    clock.advance(LEASE.plus(MARGIN));
    LeaseReply r = w.claim(new LeaseRequest("g", "tokyo", 0));
    assertThat(r.granted()).as(r.reason()).isTrue();
    assertThat(store.last()).containsExactly(new WitnessState.Saved("g", "tokyo", 1, false));
    int saves = store.saves.size();
    clock.advanceMillis(1_000);
    assertThat(w.renew(new LeaseRequest("g", "tokyo", 1)).granted()).isTrue();
    assertThat(store.saves).as("a renewal changes nothing durable").hasSize(saves);
  }

  @Test
  void aRestartedWitnessLetsTheHolderRenewAtOnceAndNobodyElseClaimForAFullLeasePlusMargin() {
    Store store = new Store();
    WitnessState w = started(store);
    clock.advance(LEASE.plus(MARGIN));
    w.claim(new LeaseRequest("g", "tokyo", 0));
    // kill -9 and restart at once: the holder's lease may still run for up to 10 s.
    WitnessState again = started(store);
    LeaseReply renew = again.renew(new LeaseRequest("g", "tokyo", 1));
    assertThat(renew.granted()).as(renew.reason()).isTrue();
    assertThat(renew.term()).isEqualTo(1);

    // the holder goes silent right after that renewal; the other site asks throughout
    clock.advance(LEASE.plus(MARGIN).minusMillis(1));
    LeaseReply early = again.claim(new LeaseRequest("g", "hiroshima", 1));
    assertThat(early.granted())
        .as("claimed %s before lease + margin: %s", "g", early.reason())
        .isFalse();
    assertThat(early.holder()).isEqualTo("tokyo");
    clock.advanceMillis(1);
    LeaseReply late = again.claim(new LeaseRequest("g", "hiroshima", 0));
    assertThat(late.granted()).as(late.reason()).isTrue();
    assertThat(late.term()).as("terms never go back across a restart").isEqualTo(2);
  }

  @Test
  void aLeaseRestoredWhileTheClockDidNotMoveIsStillHonouredForAFullTerm() {
    // The witness cannot know how long it was down: even if the restart took "no time" by its
    // clock, the other site waits a whole lease + margin counted from the restart.
    Store store = new Store();
    WitnessState w = started(store);
    clock.advance(LEASE.plus(MARGIN));
    w.claim(new LeaseRequest("g", "tokyo", 0));
    clock.advance(Duration.ofHours(1)); // down for an hour: the old lease is long gone ...
    WitnessState again = started(store);
    clock.advance(LEASE); // ... but the witness cannot know that
    assertThat(again.claim(new LeaseRequest("g", "hiroshima", 0)).granted()).isFalse();
    clock.advance(MARGIN);
    assertThat(again.claim(new LeaseRequest("g", "hiroshima", 0)).granted()).isTrue();
  }

  @Test
  void aReleaseIsRecordedAndSurvivesTheRestart() {
    Store store = new Store();
    WitnessState w = started(store);
    clock.advance(LEASE.plus(MARGIN));
    w.claim(new LeaseRequest("g", "tokyo", 0));
    assertThat(w.release(new LeaseRequest("g", "tokyo", 1)).granted()).isTrue();
    assertThat(store.last()).containsExactly(new WitnessState.Saved("g", "tokyo", 1, true));
    WitnessState again = started(store);
    assertThat(again.renew(new LeaseRequest("g", "tokyo", 1)).granted())
        .as("a released lease is not renewed after a restart")
        .isFalse();
  }

  @Test
  void aGrantThatCannotBeRecordedIsRefusedAndChangesNothing() {
    Store store = new Store();
    WitnessState w = started(store);
    clock.advance(LEASE.plus(MARGIN));
    store.failing = true;
    LeaseReply r = w.claim(new LeaseRequest("g", "tokyo", 0));
    assertThat(r.granted()).isFalse();
    assertThat(r.reason()).contains("cannot record").contains("No space left on device");
    assertThat(w.status("g")).isNull();
    store.failing = false;
    assertThat(w.claim(new LeaseRequest("g", "hiroshima", 0)).granted()).isTrue();
  }
}
