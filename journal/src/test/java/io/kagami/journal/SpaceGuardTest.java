package io.kagami.journal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class SpaceGuardTest {
  private final AtomicLong free = new AtomicLong(1L << 30);
  private final AtomicInteger looks = new AtomicInteger();
  private final AtomicLong now = new AtomicLong(1_000_000_000L);
  private final SpaceGuard guard =
      new SpaceGuard(
          Path.of("journal"),
          () -> {
            looks.incrementAndGet();
            return free.get();
          },
          10L << 20,
          now::get);

  @Test
  void refusesIntoTheReserveAsNoSpaceAndAdmitsOnceSpaceReturns() {
    assertNull(guard.admit(4096));
    free.set((10L << 20) + 4095);
    // Far from the reserve at the last look: admitted without looking until near it.
    for (int i = 0; i < 1000 && guard.refusal() == null; i++) {
      guard.admit(1 << 20);
    }
    JournalException refused = guard.admit(4096);
    assertNotNull(refused, "an append into the reserve must be refused");
    assertTrue(refused.noSpace(), "the refusal must read as ENOSPC: " + refused.getMessage());
    assertNotNull(guard.refusal());
    int before = looks.get();
    assertNotNull(guard.admit(4096));
    assertEquals(before + 1, looks.get(), "while refusing, each append looks again");
    free.set(1L << 30);
    assertNull(guard.admit(4096), "the first append after space returns is admitted");
    assertNull(guard.refusal());
  }

  @Test
  void looksAgainOnlyNearTheReserve() {
    guard.admit(4096);
    int after = looks.get();
    for (int i = 0; i < 100; i++) {
      assertNull(guard.admit(4096));
    }
    assertEquals(after, looks.get(), "far from the reserve, admitting must not ask the filesystem");
  }

  @Test
  void anotherProcessFillingTheFilesystemIsSeenWithinTheRestatTime() {
    assertNull(guard.admit(4096));
    free.set(0); // filled from outside: this journal's own admitted bytes never get near it
    now.addAndGet(SpaceGuard.RESTAT_AFTER_NANOS / 2);
    assertNull(guard.admit(4096), "within the restat time the last look stands");
    now.addAndGet(SpaceGuard.RESTAT_AFTER_NANOS);
    JournalException refused = guard.admit(4096);
    assertNotNull(refused, "after the restat time the guard must look again and refuse");
    assertTrue(refused.noSpace());
  }

  @Test
  void aWriteThatMetAFullDiskRefusesUntilTheFilesystemHasRoomAgain() {
    assertNull(guard.admit(4096));
    guard.refuse("journal filesystem full (No space left on device)");
    free.set(0);
    JournalException refused = guard.admit(4096);
    assertNotNull(refused, "after a write met ENOSPC the next append must look again");
    assertTrue(refused.noSpace());
    free.set(1L << 30);
    assertNull(guard.admit(4096));
    assertNull(guard.refusal());
  }

  @Test
  void zeroReserveAdmitsEverything() {
    SpaceGuard off = new SpaceGuard(Path.of("j"), () -> 0, 0);
    assertNull(off.admit(1 << 20));
  }
}
