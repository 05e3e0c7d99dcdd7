package io.kagami.replicator.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kagami.replicator.volume.BlockDevice;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Settings and exports are validated once, with messages an operator can act on. */
class NbdServerConfigTest {

  @Test
  void defaultsAreTheProtocolsPortableSizes() {
    NbdServerConfig c = NbdServerConfig.listen("127.0.0.1", 10809);
    assertThat(c.minimumBlockSize()).isEqualTo(512);
    assertThat(c.preferredBlockSize()).isEqualTo(4096);
    assertThat(c.maximumBlockSize()).isEqualTo(32 << 20);
    assertThat(c.withMaxInFlightRequests(7).maxInFlightRequests()).isEqualTo(7);
    assertThat(c.withBlockSizes(1, 512, 1 << 20))
        .extracting(NbdServerConfig::minimumBlockSize, NbdServerConfig::maximumBlockSize)
        .containsExactly(1, 1 << 20);
  }

  @Test
  void badSettingsAreRefusedWithTheReason() {
    NbdServerConfig c = NbdServerConfig.listen("127.0.0.1", 0);
    assertThatThrownBy(() -> NbdServerConfig.listen(" ", 0))
        .hasMessage(
            "NBD server: the bind host is missing (use e.g. 127.0.0.1, or 0.0.0.0 for every interface)");
    assertThatThrownBy(() -> NbdServerConfig.listen("127.0.0.1", 70000))
        .hasMessageContaining("port 70000 is not allowed");
    assertThatThrownBy(() -> c.withBlockSizes(3, 4096, 1 << 20))
        .hasMessageContaining(
            "minimum block size 3 is not allowed (must be a power of two from 1 to 65536)");
    assertThatThrownBy(() -> c.withBlockSizes(1 << 17, 1 << 17, 1 << 20))
        .hasMessageContaining("minimum block size 131072");
    assertThatThrownBy(() -> c.withBlockSizes(512, 256, 1 << 20))
        .hasMessageContaining("preferred block size 256 is not allowed");
    assertThatThrownBy(() -> c.withBlockSizes(4096, 2048, 1 << 20))
        .hasMessageContaining("at least the minimum block size 4096");
    assertThatThrownBy(() -> c.withBlockSizes(512, 4096, 2048))
        .hasMessageContaining("maximum block size 2048 is not allowed");
    assertThatThrownBy(() -> c.withBlockSizes(4096, 4096, 4096 * 3 + 512))
        .hasMessageContaining("a multiple of the minimum block size 4096");
    assertThatThrownBy(() -> c.withBlockSizes(512, 4096, Integer.MAX_VALUE - 511))
        .hasMessageContaining("at most 1073741824");
    assertThatThrownBy(() -> c.withMaxInFlightRequests(0))
        .hasMessageContaining("max in-flight requests 0");
    assertThatThrownBy(() -> c.withMaxOptionLength(100))
        .hasMessageContaining("max option length 100 is not allowed");
    assertThatThrownBy(() -> c.withHandshakeTimeout(Duration.ZERO))
        .hasMessageContaining("handshake timeout PT0S");
    assertThatThrownBy(() -> c.withDrainTimeout(Duration.ofSeconds(-1)))
        .hasMessageContaining("drain timeout");
    assertThatThrownBy(() -> c.withIoThreads(0)).hasMessageContaining("I/O threads 0");
  }

  @Test
  void exportsFindByNameAndTheEmptyNameIsTheDefault() {
    try (MemoryBlockDevice a = MemoryBlockDevice.writable("a", 4096);
        MemoryBlockDevice b = MemoryBlockDevice.writable("b", 4096)) {
      Exports e = new Exports(List.of(a, b));
      assertThat(e.names()).containsExactly("a", "b");
      assertThat(e.find("b")).containsSame(b);
      assertThat(e.find("")).containsSame(a);
      assertThat(e.find("c")).isEmpty();
      assertThat(new Exports(List.of(a, b), "b").find("")).containsSame(b);
      assertThat(new Exports(List.of(a, b), null).find("")).isEmpty();
      assertThat(new Exports(List.<BlockDevice>of()).defaultExport()).isEmpty();
      assertThatThrownBy(() -> new Exports(List.of(a, a)))
          .hasMessage("NBD exports: export name \"a\" is used by two devices");
      assertThatThrownBy(() -> new Exports(List.of(a), "z"))
          .hasMessageContaining("default export \"z\" is not one of [a]");
    }
  }
}
