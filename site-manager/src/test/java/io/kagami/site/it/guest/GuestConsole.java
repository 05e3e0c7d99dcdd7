package io.kagami.site.it.guest;

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
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * A guest's serial console as lines: a reader thread copies QEMU's serial output to a file and to
 * memory, and tests wait for a line matching a pattern until a deadline. Waiting is on the arrival
 * of lines, never on a timer. A wait fails at once, with the console's last lines, when the guest
 * kernel panics or QEMU exits, instead of running into its deadline.
 *
 * <p>The guest's marker lines ({@code guest-init} prints them) are the constants below, as regular
 * expressions; group 1 of {@link #WROTE}, {@link #VERIFY_OK} is the number of manifest entries.
 *
 * <p>Thread-safe. {@link #mark()} returns the current position so that a later wait looks only at
 * what a later boot printed.
 */
public final class GuestConsole {
  /** First boot: the guest wrote its files and committed their manifest. */
  public static final String WROTE = "KAGAMI-GUEST WROTE (\\d+)";

  /** Later boot: every manifest entry matched its file. */
  public static final String VERIFY_OK = "KAGAMI-GUEST VERIFY OK (\\d+)";

  /** Later boot: a file did not match its manifest entry (or was missing). */
  public static final String VERIFY_FAIL = "KAGAMI-GUEST VERIFY FAIL (\\S+)";

  /** Either verification outcome. */
  public static final String VERIFIED = "KAGAMI-GUEST VERIFY (OK|FAIL) (\\S+)";

  /** Up (after WROTE or VERIFY); the health port answers when the guest has a NIC. */
  public static final String READY = "KAGAMI-GUEST READY (\\S+)";

  /** The live writer's bounded run ended. */
  public static final String LIVE_DONE = "KAGAMI-GUEST LIVE DONE (\\d+)";

  /** The guest synced, remounted its root read-only and is powering off. */
  public static final String POWEROFF = "KAGAMI-GUEST POWEROFF";

  /**
   * The initramfs gave up on the root device (e.g. a disk on a bus its initramfs has no driver
   * for): Debian's initramfs-tools prints this and drops to a shell.
   */
  public static final String ROOT_NOT_FOUND =
      "Gave up waiting for root|ALERT! .* does not exist|Dropping to a shell";

  private final String name;
  private final List<String> lines = new ArrayList<>();
  private boolean ended;
  private boolean stopped;

  public GuestConsole(String name) {
    this.name = name;
  }

  /** Starts copying {@code serial} (until it ends) to {@code file} (appended) and to memory. */
  public void follow(InputStream serial, Path file) {
    Thread t =
        new Thread(
            () -> {
              try (BufferedReader in =
                      new BufferedReader(new InputStreamReader(serial, StandardCharsets.UTF_8));
                  Writer out =
                      Files.newBufferedWriter(
                          file,
                          StandardCharsets.UTF_8,
                          StandardOpenOption.CREATE,
                          StandardOpenOption.APPEND)) {
                String line;
                while ((line = in.readLine()) != null) {
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

  /**
   * Follows a console that another program writes to {@code file} (e.g. QEMU started by {@code
   * kagami recover} with {@code -serial file:…}): a daemon thread reads the lines as the file
   * grows, checking for more every 200 ms (a file has no event to wait on), until {@link
   * #stopFollowing()}. The file need not exist yet.
   */
  public void followFile(Path file) {
    Thread t =
        new Thread(
            () -> {
              StringBuilder partial = new StringBuilder();
              long offset = 0;
              byte[] buf = new byte[8192];
              while (!stopped()) {
                try (var ch = java.nio.channels.FileChannel.open(file)) {
                  ch.position(offset);
                  int n;
                  while ((n = ch.read(java.nio.ByteBuffer.wrap(buf))) > 0) {
                    offset += n;
                    partial.append(new String(buf, 0, n, StandardCharsets.UTF_8));
                    int nl;
                    while ((nl = partial.indexOf("\n")) >= 0) {
                      String plain =
                          partial
                              .substring(0, nl)
                              .replaceAll("\u001B\\[[0-9;?]*[A-Za-z]", "")
                              .replace("\r", "");
                      partial.delete(0, nl + 1);
                      synchronized (this) {
                        lines.add(plain);
                        notifyAll();
                      }
                    }
                  }
                } catch (java.nio.file.NoSuchFileException e) {
                  // not written yet
                } catch (IOException e) {
                  throw new UncheckedIOException(e);
                }
                SystemTime.pause(Duration.ofMillis(200));
              }
              synchronized (this) {
                ended = true;
                notifyAll();
              }
            },
            "console-file-" + name);
    t.setDaemon(true);
    t.start();
  }

  /** Ends {@link #followFile}: waits then fail with "the VM stopped first". */
  public synchronized void stopFollowing() {
    stopped = true;
    notifyAll();
  }

  private synchronized boolean stopped() {
    return stopped;
  }

  /** The number of lines seen so far: pass it to {@link #await} to look only at later lines. */
  public synchronized int mark() {
    return lines.size();
  }

  /** The first line at or after {@code from} that {@code regex} finds, if one arrived already. */
  public synchronized Optional<String> find(int from, String regex) {
    Pattern pattern = Pattern.compile(regex);
    for (int i = from; i < lines.size(); i++) {
      if (pattern.matcher(lines.get(i)).find()) {
        return Optional.of(lines.get(i));
      }
    }
    return Optional.empty();
  }

  /**
   * Waits until a line at or after {@code from} matches {@code regex}, and returns it.
   *
   * @throws AssertionError naming what was awaited and the console's last lines, when the deadline
   *     passes, the guest kernel panics or the console ends (QEMU exited) first
   */
  public synchronized String await(int from, String regex, Duration timeout, String what)
      throws InterruptedException {
    Pattern pattern = Pattern.compile(regex);
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

  /** The lines from {@code from} on. */
  public synchronized List<String> lines(int from) {
    return List.copyOf(lines.subList(Math.min(from, lines.size()), lines.size()));
  }

  /** The last {@code n} lines, for failure messages. */
  public synchronized String tail(int n) {
    return String.join("\n", lines.subList(Math.max(0, lines.size() - n), lines.size()));
  }
}
