package io.kagami.testkit.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataFilesTest {
  @TempDir Path dir;

  @Test
  void randomContentDependsOnlyOnTheSeed() throws Exception {
    Path a = DataFiles.createRandom(dir.resolve("a"), 3 * (1 << 20) + 5, 42);
    Path b = DataFiles.createRandom(dir.resolve("b"), 3 * (1 << 20) + 5, 42);
    Path c = DataFiles.createRandom(dir.resolve("c"), 3 * (1 << 20) + 5, 43);
    Path shorter = DataFiles.createRandom(dir.resolve("short"), 1000, 42);
    assertThat(Files.size(a)).isEqualTo(3 * (1 << 20) + 5);
    assertThat(DataFiles.firstDifference(a, b)).isEmpty();
    assertThat(DataFiles.firstDifference(a, c)).isPresent();
    assertThat(DataFiles.firstDifference(a, 0, shorter, 0, 1000)).isEmpty();
    assertThat(DataFiles.randomBytes(1000, 42)).isEqualTo(Files.readAllBytes(shorter));
  }

  @Test
  void differenceIsReportedAsTheUserWouldSeeIt() throws Exception {
    Path primary = DataFiles.createRandom(dir.resolve("primary"), 1 << 20, 7);
    Path replica = Files.copy(primary, dir.resolve("replica"));
    DataFiles.assertReplicaMatchesPrimary(primary, replica);
    byte original = Files.readAllBytes(primary)[0x3f000];
    try (RandomAccessFile f = new RandomAccessFile(replica.toFile(), "rw")) {
      f.seek(0x3f000);
      f.write(~original);
    }
    assertThat(DataFiles.firstDifference(primary, replica)).hasValue(0x3f000);
    assertThatThrownBy(() -> DataFiles.assertReplicaMatchesPrimary(primary, replica))
        .isInstanceOf(AssertionError.class)
        .hasMessage(
            String.format(
                "replica differs from primary at offset 0x3f000 (primary has 0x%02x, replica has 0x%02x)",
                original, (byte) ~original));
  }

  @Test
  void aShorterFileDiffersWhereItEnds() throws Exception {
    Path primary = DataFiles.createRandom(dir.resolve("primary"), 8192, 7);
    Path replica = DataFiles.createRandom(dir.resolve("replica"), 4096, 7);
    assertThat(DataFiles.firstDifference(primary, replica)).hasValue(4096);
    assertThatThrownBy(() -> DataFiles.assertReplicaMatchesPrimary(primary, replica))
        .hasMessageContaining("at offset 0x1000")
        .hasMessageContaining("replica ends there, 4096 bytes");
  }

  @Test
  void rangesAtDifferentOffsetsAreCompared() throws Exception {
    Path data = DataFiles.createRandom(dir.resolve("data"), 16384, 9);
    Path image = DataFiles.createSparse(dir.resolve("image"), 65536);
    try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
      f.seek(32768);
      f.write(Files.readAllBytes(data));
    }
    DataFiles.assertSameRange("data", data, 0, "image", image, 32768, 16384);
    assertThatThrownBy(
            () -> DataFiles.assertSameRange("data", data, 0, "image", image, 28672, 16384))
        .hasMessageStartingWith("image differs from data at offset 0x7000 (offset 0x0 of data)");
    assertThat(DataFiles.firstDifference(data, 0, image, 60000, 16384)).isPresent();
  }

  @Test
  void byteArraysReportVolumeOffsets() {
    byte[] expected = {1, 2, 3, 4};
    DataFiles.assertSameBytes("primary", expected, "replica", expected.clone(), 0x1000);
    assertThatThrownBy(
            () ->
                DataFiles.assertSameBytes(
                    "primary", expected, "replica", new byte[] {1, 2, 9, 4}, 0x1000))
        .hasMessage(
            "replica differs from primary at offset 0x1002 (primary has 0x03, replica has 0x09)");
  }
}
