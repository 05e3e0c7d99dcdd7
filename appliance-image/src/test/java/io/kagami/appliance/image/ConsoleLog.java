package io.kagami.appliance.image;

import io.kagami.clock.SystemTime;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * A VM's serial console as lines: a reader thread copies QEMU's serial output (its stdout) to a
 * file and to memory, and tests wait for a line matching a pattern until a deadline. Waiting is on
 * the arrival of lines (a monitor signalled by the reader), never on a timer.
 *
 * <p>Thread-safe. Lines are kept per boot: {@link #mark()} returns the current position so that a
 * later wait looks only at what the next boot printed.
 */
final class ConsoleLog {
  private final String name;
  private final List<String> lines = new ArrayList<>();
  private boolean ended;

  ConsoleLog(String name) {
    this.name = name;
  }

  /** Starts copying {@code serial} (until it ends) to {@code file} and to memory. */
  void follow(InputStream serial, Path file) {
    Thread t =
        new Thread(
            () -> {
              try (BufferedReader in =
                      new BufferedReader(new InputStreamReader(serial, StandardCharsets.UTF_8));
                  Writer out =
                      Files.newBufferedWriter(
                          file,
                          StandardCharsets.UTF_8,
                          java.nio.file.StandardOpenOption.CREATE,
                          java.nio.file.StandardOpenOption.APPEND)) {
                String line;
                while ((line = in.readLine()) != null) {
                  // Drop terminal escapes (systemd's colours) so patterns match plain text.
                  String plain = line.replaceAll("\u001B\\[[0-9;?]*[A-Za-z]", "").replace("\r", "");
                  out.write(plain);
                  out.write('\n');
                  out.flush();
                  synchronized (this) {
                    lines.add(plain);
                    notifyAll();
                  }
                }
              } catch (IOException e) {
                throw new UncheckedIOException(e);
              } finally {
                synchronized (this) {
                  ended = true;
                  notifyAll();
                }
              }
            },
            "console-" + name);
    t.setDaemon(true);
    synchronized (this) {
      ended = false;
    }
    t.start();
  }

  /** The number of lines seen so far: pass it to {@link #await} to look only at later lines. */
  synchronized int mark() {
    return lines.size();
  }

  /** The first line at or after {@code from} that {@code pattern} finds, if one arrived already. */
  synchronized Optional<String> find(int from, Pattern pattern) {
    for (int i = from; i < lines.size(); i++) {
      if (pattern.matcher(lines.get(i)).find()) {
        return Optional.of(lines.get(i));
      }
    }
    return Optional.empty();
  }

  /**
   * Waits until a line at or after {@code from} matches {@code pattern}, and returns it.
   *
   * @throws AssertionError naming what was awaited and the console's last lines, when the deadline
   *     passes or the console ends (QEMU exited) first
   */
  synchronized String await(int from, Pattern pattern, Duration timeout, String what)
      throws InterruptedException {
    long deadline = SystemTime.NANO.nanoTime() + timeout.toNanos();
    int next = from;
    while (true) {
      boolean panicked = false;
      for (; next < lines.size(); next++) {
        if (pattern.matcher(lines.get(next)).find()) {
          return lines.get(next);
        }
        // A panicked guest never prints anything again: say so now, not after the deadline.
        panicked |= lines.get(next).contains("end Kernel panic");
      }
      long left = deadline - SystemTime.NANO.nanoTime();
      if (panicked) {
        throw new AssertionError(
            name + ": " + what + ": the guest kernel panicked; last console lines:\n" + tail(40));
      }
      if (ended || left <= 0) {
        throw new AssertionError(
            name
                + ": "
                + what
                + (ended
                    ? ": the VM stopped first"
                    : ": not seen within " + timeout.toSeconds() + " s")
                + "; last console lines:\n"
                + tail(40));
      }
      TimeUnit.NANOSECONDS.timedWait(this, left);
    }
  }

  /** The last {@code n} lines, for failure messages. */
  synchronized String tail(int n) {
    return String.join("\n", lines.subList(Math.max(0, lines.size() - n), lines.size()));
  }
}
