package io.kagami.replicator.resync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DirtyBitmapTest {
  private static final int G = 64 << 10;
  private static final long SIZE = (10L * G) + 4096; // the last region is short
  @TempDir Path dir;

  @Test
  void marksEveryRegionARangeTouches() throws IOException {
    DirtyBitmap b = DirtyBitmap.open(dir.resolve("v.bitmap"), G, SIZE);
    assertThat(b.regions()).isEqualTo(11);
    b.mark(G - 1, 2); // straddles regions 0 and 1
    b.mark(5L * G, G); // exactly region 5
    b.mark(SIZE - 1, 1); // the short last region
    assertThat(b.dirtyRegions()).isEqualTo(4);
    assertThat(b.nextDirty(0)).isZero();
    assertThat(b.nextDirty(2)).isEqualTo(5);
    assertThat(b.nextDirty(6)).isEqualTo(10);
    assertThat(b.nextDirty(11)).isEqualTo(-1);
    assertThat(b.lengthOf(10)).isEqualTo(4096);
    assertThat(b.dirtyBytes()).isEqualTo(3L * G + 4096);
    b.clear(0);
    assertThat(b.isDirty(0)).isFalse();
    assertThat(b.isDirty(1)).isTrue();
  }

  @Test
  void survivesAReopenWithItsMarkedPoint() throws IOException {
    Path f = dir.resolve("v.bitmap");
    DirtyBitmap b = DirtyBitmap.open(f, G, SIZE);
    b.mark(3L * G, 3L * G);
    b.markedThrough(77);
    b.persist();
    DirtyBitmap again = DirtyBitmap.open(f, G, SIZE);
    assertThat(again.dirtyRegions()).isEqualTo(3);
    assertThat(again.nextDirty(0)).isEqualTo(3);
    assertThat(again.markedThrough()).isEqualTo(77);
    assertThat(dir.resolve("v.bitmap.tmp")).doesNotExist();
  }

  @Test
  void refusesAMapOfAnotherGeometryOrADamagedOne() throws IOException {
    Path f = dir.resolve("v.bitmap");
    DirtyBitmap b = DirtyBitmap.open(f, G, SIZE);
    b.markAll();
    b.persist();
    assertThatThrownBy(() -> DirtyBitmap.open(f, 2 * G, SIZE))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("granularity");
    assertThatThrownBy(() -> DirtyBitmap.open(f, G, SIZE * 2))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("volume size");
    byte[] bytes = Files.readAllBytes(f);
    bytes[40] ^= 1;
    Files.write(f, bytes);
    assertThatThrownBy(() -> DirtyBitmap.open(f, G, SIZE))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("damaged");
    assertThatThrownBy(() -> DirtyBitmap.open(dir.resolve("x"), 1000, SIZE))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
