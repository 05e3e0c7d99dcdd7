package io.kagami.replicator.volume;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileVolumeTest {
  @TempDir Path dir;

  @Test
  void zeroingPunchesHolesAndReadsBackZeroes() throws Exception {
    Path f = dir.resolve("v.img");
    try (FileVolume v = FileVolume.openOrCreate(f, 64L << 20)) {
      byte[] ones = new byte[8 << 20];
      Arrays.fill(ones, (byte) 1);
      v.write(0, ByteBuffer.wrap(ones));
      v.force();
      assertThat(Files.size(f)).isEqualTo(64L << 20);
      v.zero(4096, (8 << 20) - 8192);
      byte[] back = new byte[8 << 20];
      v.read(0, ByteBuffer.wrap(back));
      assertThat(back[0]).isEqualTo((byte) 1);
      assertThat(back[4095]).isEqualTo((byte) 1);
      assertThat(back[4096]).isZero();
      assertThat(back[(8 << 20) - 4097]).isZero();
      assertThat(back[(8 << 20) - 4096]).isEqualTo((byte) 1);
    }
  }

  @Test
  void refusesAFileOfAnotherSize() throws Exception {
    Path f = dir.resolve("v.img");
    FileVolume.openOrCreate(f, 1 << 20).close();
    assertThatThrownBy(() -> FileVolume.openOrCreate(f, 2 << 20))
        .hasMessageContaining("refusing to use it");
  }
}
