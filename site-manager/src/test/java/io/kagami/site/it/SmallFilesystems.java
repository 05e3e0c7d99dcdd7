package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.testkit.tools.ExternalTool;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Small filesystems a test mounts for a site's directories, and filling them up: the disk-full
 * fault of DiskFullIT and ChaosIT. Mounting needs root; a test that uses it fails (not skips)
 * without it. Called from the test's thread.
 */
final class SmallFilesystems {
  private static final Duration T = Duration.ofSeconds(30);
  static final String FILLER = "disk-full-filler";

  private SmallFilesystems() {}

  /** A tmpfs of {@code size} at {@code at} (created if missing); returns {@code at}. */
  static Path mount(Path at, String size) throws IOException, InterruptedException {
    Files.createDirectories(at);
    ExternalTool.Result r =
        ExternalTool.require("mount")
            .run(T, "-t", "tmpfs", "-o", "size=" + size, "tmpfs", at.toString());
    assertThat(r.succeeded())
        .as(
            "mounting a %s tmpfs at %s (the disk-full tests need root to create small filesystems): %s",
            size, at, r.describe())
        .isTrue();
    return at;
  }

  static void unmount(Path at) throws IOException, InterruptedException {
    ExternalTool.require("umount").run(T, at.toString());
  }

  /** Writes a filler file until the filesystem has no byte left. */
  static void fill(Path fs) throws IOException {
    Path filler = fs.resolve(FILLER);
    byte[] chunk = new byte[1 << 20];
    try (OutputStream out = Files.newOutputStream(filler)) {
      int size = chunk.length;
      for (long written = 0; written < (1L << 40); ) {
        try {
          out.write(chunk, 0, size);
          written += size;
        } catch (IOException full) {
          if (size == 4096) {
            return;
          }
          size = 4096;
        }
      }
    } catch (IOException closing) {
      // the last partial write's close: the filesystem is full either way
    }
  }

  /** Deletes the filler: the space is back. */
  static void free(Path fs) throws IOException {
    Files.delete(fs.resolve(FILLER));
  }
}
