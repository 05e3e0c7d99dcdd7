package io.kagami.journal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CompressionProbeTest {
  private static final byte[] NOISE = new byte[4096];
  private static final byte[] TEXT =
      "the same line again and again\n"
          .repeat(140)
          .substring(0, 4096)
          .getBytes(java.nio.charset.StandardCharsets.US_ASCII);

  static {
    new Random(7).nextBytes(NOISE);
  }

  private static boolean compressed(Compression.Probe probe, byte[] data) {
    byte[] encoded = Compression.encodeWrite(0, ByteBuffer.wrap(data), probe);
    assertThat(Compression.data(JournalRecord.decode(encoded))).isEqualTo(data);
    return !Compression.storedRaw(encoded);
  }

  @Test
  void incompressibleStreamIsProbedEverLessOftenUpToTheCap() {
    Compression.Probe probe = new Compression.Probe();
    // Probes come at writes 0, 2, 5, 10, 19, ...: gaps of 1, 2, 4, 8 ... skipped writes.
    int probes = 0;
    for (int i = 0; i < 1000; i++) {
      if (probe.due()) {
        probes++;
        probe.result(false);
      }
    }
    // 1+2+4+8+16+32 = 63 writes skipped over the first 7 probes, then one probe every 65 writes.
    assertThat(probes)
        .isBetween(
            7 + (1000 - 70) / (Compression.Probe.MAX_SKIP + 1),
            7 + (1000 - 70) / (Compression.Probe.MAX_SKIP + 1) + 1);
  }

  @Test
  void compressibleDataIsCompressedAgainAtTheNextProbeAndThenEveryWrite() {
    Compression.Probe probe = new Compression.Probe();
    for (int i = 0; i < 500; i++) {
      assertThat(compressed(probe, NOISE)).isFalse();
    }
    int skipped = 0;
    while (!compressed(probe, TEXT)) {
      skipped++;
    }
    assertThat(skipped)
        .as("writes stored raw before the next probe")
        .isLessThanOrEqualTo(Compression.Probe.MAX_SKIP);
    for (int i = 0; i < 100; i++) {
      assertThat(compressed(probe, TEXT))
          .as("write %d after the data turned compressible", i)
          .isTrue();
    }
  }

  @Test
  void noProbeNeverCompresses() {
    assertThat(compressed(null, TEXT)).isFalse();
  }
}
