package io.kagami.replicator.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The listener's lifecycle. */
class NbdServerTest {

  @Test
  void startReturnsTheEphemeralPortAndCloseIsIdempotent() throws Exception {
    try (MemoryBlockDevice vol0 = MemoryBlockDevice.writable("vol0", 1 << 20)) {
      NbdServer server = new NbdServer(NbdServerConfig.listen("127.0.0.1", 0), Exports.of(vol0));
      assertThatThrownBy(server::port).hasMessage("NBD server is not running");
      int port = server.start();
      assertThat(port).isPositive().isEqualTo(server.port());
      try (RawNbdClient c = RawNbdClient.open(port, "vol0")) {
        assertThat(c.read(0, 512).error()).isZero();
        assertThat(server.connectionCount()).isEqualTo(1);
        assertThatThrownBy(server::start)
            .hasMessageContaining("NBD server is running; it can be started once");
        server.close();
        assertThat(c.closedByServer()).as("connection closed by server shutdown").isTrue();
      }
      server.close();
      assertThatThrownBy(server::start).hasMessageContaining("closed");
      assertThatThrownBy(() -> RawNbdClient.connect(port))
          .as("connecting after close")
          .isInstanceOf(java.io.IOException.class);
    }
  }

  @Test
  void aPortInUseIsReportedWithTheAddress() {
    try (MemoryBlockDevice vol0 = MemoryBlockDevice.writable("vol0", 1 << 20);
        NbdServer first = new NbdServer(NbdServerConfig.listen("127.0.0.1", 0), Exports.of(vol0))) {
      int port = first.start();
      NbdServer second = new NbdServer(NbdServerConfig.listen("127.0.0.1", port), Exports.of(vol0));
      assertThatThrownBy(second::start)
          .isInstanceOf(IllegalStateException.class)
          .hasMessageStartingWith("cannot listen for NBD clients on 127.0.0.1:" + port + ": ");
      second.close();
    }
  }
}
