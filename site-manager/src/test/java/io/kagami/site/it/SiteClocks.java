package io.kagami.site.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Stepping a site process's wall clock from outside, the way an NTP step does it: the site reads
 * wall time only through {@code io.kagami.clock.SystemTime.WALL}, which follows an offset file when
 * the system property {@code kagami.clock.wallOffsetFile} names one; the test rewrites the file.
 * The monotonic clock is left alone, as a real step leaves it. (libfaketime, which would also move
 * the JDK's own reads, hangs a JVM at start when told to leave the monotonic clock alone.)
 */
final class SiteClocks {
  private SiteClocks() {}

  /**
   * The JVM option that makes a site's wall clock follow {@code offsetFile}, which is created with
   * no offset.
   */
  static List<String> jvmOptions(Path offsetFile) throws IOException {
    Files.writeString(offsetFile, "+0\n");
    return List.of("-Dkagami.clock.wallOffsetFile=" + offsetFile);
  }

  /** Steps the clock behind {@code offsetFile} by {@code seconds} more (back when negative). */
  static void step(Path offsetFile, int seconds) throws IOException {
    long now = Long.parseLong(Files.readString(offsetFile).strip().replace("+", ""));
    Files.writeString(offsetFile, String.format("%+d%n", now + seconds));
  }
}
