package io.kagami.replicator.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The per-address log limit, driven by a hand-moved clock. */
class ClientLogTest {
  private static final Logger LOG = System.getLogger("io.kagami.replicator.nbd.ClientLogTest");
  private static final InetSocketAddress A1 = new InetSocketAddress("127.0.0.1", 40001);
  private static final InetSocketAddress A2 = new InetSocketAddress("127.0.0.1", 40002);
  private static final InetSocketAddress B = new InetSocketAddress("127.0.0.2", 40001);

  private final AtomicLong now = new AtomicLong(1_000_000_000L);
  private final ClientLog clientLog = new ClientLog(now::get);

  @Test
  void aFloodFromOneAddressIsCutToABurstAndCountedWhileOthersStillLog() throws Exception {
    try (LogCapture log = LogCapture.nbd()) {
      for (int i = 0; i < 1000; i++) {
        // Alternate ports: the limit is per address, not per connection.
        clientLog.log(
            LOG, Level.WARNING, i % 2 == 0 ? A1 : A2, "NBD client {0}: bad input #{1}", A1, i);
      }
      assertThat(log.matching("bad input #")).hasSize(ClientLog.BURST);
      assertThat(clientLog.dropped()).isEqualTo(1000 - ClientLog.BURST);

      clientLog.log(LOG, Level.WARNING, B, "NBD client {0}: other address", B);
      assertThat(log.matching("other address")).as("another address is not starved").hasSize(1);
      assertThat(log.matching("other address").getFirst()).doesNotContain("dropped");

      // One refill later the flooding address may log again, and says what it lost.
      now.addAndGet(ClientLog.REFILL.toNanos());
      clientLog.log(LOG, Level.WARNING, A1, "NBD client {0}: after the pause", A1);
      assertThat(log.matching("after the pause"))
          .singleElement()
          .asString()
          .contains(
              (1000 - ClientLog.BURST) + " earlier line(s) about this client address dropped");
      clientLog.log(LOG, Level.WARNING, A1, "NBD client {0}: no token left", A1);
      assertThat(log.matching("no token left")).isEmpty();
    }
  }

  @Test
  void debugLinesAreNeverLimited() throws Exception {
    try (LogCapture log = LogCapture.nbd()) {
      for (int i = 0; i < ClientLog.BURST * 3; i++) {
        clientLog.log(LOG, Level.DEBUG, A1, "NBD client {0}: detail {1}", A1, i);
      }
      assertThat(log.matching("detail ")).hasSize(ClientLog.BURST * 3);
      assertThat(clientLog.dropped()).isZero();
    }
  }

  @Test
  void addressesBeyondTheCapAreForgottenOldestFirst() throws Exception {
    try (LogCapture log = LogCapture.nbd()) {
      InetSocketAddress first = new InetSocketAddress("10.0.0.1", 1);
      for (int i = 0; i < ClientLog.BURST + 5; i++) {
        clientLog.log(LOG, Level.WARNING, first, "first {0}", i);
      }
      assertThat(clientLog.dropped()).isEqualTo(5);
      // Fill the table with other addresses (no traffic is sent: these are only keys).
      for (int i = 0; i < ClientLog.MAX_ADDRESSES; i++) {
        clientLog.log(
            LOG,
            Level.WARNING,
            new InetSocketAddress("10.1." + (i / 256) + "." + (i % 256), 1),
            "filler");
      }
      // The first address was forgotten, so it starts with a fresh burst: memory stays bounded.
      clientLog.log(LOG, Level.WARNING, first, "first again");
      assertThat(log.matching("first again")).hasSize(1);
    }
  }
}
