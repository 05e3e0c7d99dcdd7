package io.kagami.clock;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.InstantSource;
import java.util.concurrent.TimeUnit;

/**
 * The machine's wall clock shifted by an offset that a test rewrites while the process runs: the
 * seam through which the chaos test steps a site's wall clock the way an NTP step does (forward or
 * back, at once), leaving the monotonic clock alone as a real step does. Only in effect when the
 * system property {@value #PROPERTY} names the offset file (whole seconds, e.g. {@code +90} or
 * {@code -3600}); without it {@link SystemTime#WALL} is the plain system clock.
 *
 * <p>The file is read again at most every {@value #REREAD_MILLIS} ms (by whichever thread reads the
 * clock then; a racing reader just reads it twice); an unreadable or malformed file keeps the last
 * offset. Thread-safe.
 */
@SuppressForbidden
final class SteppedWallClock implements InstantSource {
  static final String PROPERTY = "kagami.clock.wallOffsetFile";
  static final long REREAD_MILLIS = 100;

  private final Path file;
  private volatile long offsetMillis;
  private volatile long readAtNanos;

  SteppedWallClock(Path file) {
    this.file = file;
    this.readAtNanos = System.nanoTime() - TimeUnit.MILLISECONDS.toNanos(REREAD_MILLIS);
  }

  /** The system clock, or the stepped one when {@value #PROPERTY} is set. */
  static InstantSource fromSystemProperty() {
    String path = System.getProperty(PROPERTY, "");
    return path.isBlank() ? InstantSource.system() : new SteppedWallClock(Path.of(path));
  }

  @Override
  public Instant instant() {
    return Instant.now().plusMillis(offset());
  }

  @Override
  public long millis() {
    return System.currentTimeMillis() + offset();
  }

  private long offset() {
    long now = System.nanoTime();
    if (now - readAtNanos >= TimeUnit.MILLISECONDS.toNanos(REREAD_MILLIS)) {
      readAtNanos = now;
      try {
        String text = Files.readString(file).strip();
        offsetMillis = TimeUnit.SECONDS.toMillis(Long.parseLong(text.replace("+", "")));
      } catch (IOException | NumberFormatException | SecurityException e) {
        // keep the last offset: the test is rewriting the file, or gave a bad one (its own bug)
      }
    }
    return offsetMillis;
  }
}
