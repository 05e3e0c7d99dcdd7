package io.kagami.site.recovery.run;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Follows the serial consoles the VMs write into one directory, the way {@code tail -f} would but
 * woken by the file system (inotify through a {@link WatchService}), never by polling: each watch
 * completes a future on a console's first output or on the first time a marker appears in it (with
 * the line that holds it). Markers split across two writes are found (the unread tail of the text
 * is kept).
 *
 * <p>Thread: {@code kagami-recover-console}, started by {@link #start()}; futures complete there.
 * {@link #close()} stops it and fails nothing (pending futures are the caller's to time out).
 */
final class ConsoleTail implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(ConsoleTail.class.getName());
  private static final int KEEP_CHARS = 64 << 10;

  private final Path directory;
  private final WatchService watch;
  private final Map<Path, Followed> files = new HashMap<>();
  private Thread thread;

  private static final class Followed {
    long offset;
    final StringBuilder text = new StringBuilder();
    final CompletableFuture<Void> firstOutput = new CompletableFuture<>();
    final List<Marker> markers = new ArrayList<>();
  }

  private record Marker(String text, CompletableFuture<String> seen) {}

  ConsoleTail(Path directory) throws IOException {
    this.directory = directory;
    Files.createDirectories(directory);
    this.watch = directory.getFileSystem().newWatchService();
    directory.register(
        watch, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY);
  }

  void start() {
    thread = Thread.ofPlatform().name("kagami-recover-console").daemon(true).start(this::run);
  }

  /** Completes once {@code console} (a file in the directory) holds any byte. */
  synchronized CompletableFuture<Void> firstOutput(Path console) {
    Followed f = follow(console);
    read(console, f);
    return f.firstOutput;
  }

  /**
   * Completes, with that line (without its line end, at most 200 characters around the marker),
   * once a line of {@code console} contains {@code marker}.
   */
  synchronized CompletableFuture<String> marker(Path console, String marker) {
    Followed f = follow(console);
    Marker m = new Marker(marker, new CompletableFuture<>());
    f.markers.add(m);
    read(console, f);
    return m.seen();
  }

  /**
   * Completes with the first line of {@code console} that contains any of {@code markers} (never,
   * for none). Each marker is watched on its own; the first found settles the result.
   */
  CompletableFuture<String> anyMarker(Path console, List<String> markers) {
    CompletableFuture<String> first = new CompletableFuture<>();
    for (String m : markers) {
      marker(console, m).thenAccept(first::complete);
    }
    return first;
  }

  /** Stops following {@code console}. */
  synchronized void forget(Path console) {
    files.remove(console.getFileName());
  }

  private Followed follow(Path console) {
    if (!console.getParent().equals(directory)) {
      throw new IllegalArgumentException(console + " is not in " + directory);
    }
    return files.computeIfAbsent(console.getFileName(), k -> new Followed());
  }

  private void run() {
    while (true) {
      WatchKey key;
      try {
        key = watch.take();
      } catch (ClosedWatchServiceException e) {
        return;
      } catch (InterruptedException e) {
        return;
      }
      synchronized (this) {
        boolean overflow = false;
        for (WatchEvent<?> e : key.pollEvents()) {
          if (e.kind() == StandardWatchEventKinds.OVERFLOW) {
            overflow = true;
            continue;
          }
          Path name = (Path) e.context();
          Followed f = files.get(name);
          if (f != null) {
            read(directory.resolve(name), f);
          }
        }
        if (overflow) {
          files.forEach((name, f) -> read(directory.resolve(name), f));
        }
      }
      if (!key.reset()) {
        return;
      }
    }
  }

  /** Reads what {@code file} gained since the last read and settles the watches it satisfies. */
  private void read(Path file, Followed f) {
    if (!Files.exists(file)) {
      return;
    }
    try (RandomAccessFile in = new RandomAccessFile(file.toFile(), "r")) {
      long length = in.length();
      if (length <= f.offset) {
        return;
      }
      byte[] b = new byte[(int) Math.min(length - f.offset, 1 << 20)];
      in.seek(f.offset);
      in.readFully(b);
      f.offset += b.length;
      f.text.append(new String(b, StandardCharsets.ISO_8859_1));
    } catch (IOException e) {
      LOG.log(Level.WARNING, "cannot read the console {0}: {1}", file, e.getMessage());
      return;
    }
    if (!f.text.isEmpty()) {
      f.firstOutput.complete(null);
    }
    String text = f.text.toString();
    f.markers.removeIf(
        m -> {
          int at = text.indexOf(m.text());
          if (at >= 0) {
            m.seen().complete(lineAround(text, at, m.text().length()));
            return true;
          }
          return false;
        });
    if (f.text.length() > KEEP_CHARS) {
      f.text.delete(0, f.text.length() - KEEP_CHARS / 2);
    }
  }

  /**
   * The line of {@code text} holding {@code [at, at + length)}, cut to 200 characters around it.
   */
  static String lineAround(String text, int at, int length) {
    int start = text.lastIndexOf('\n', at) + 1;
    int end = text.indexOf('\n', at + length);
    if (end < 0) {
      end = text.length();
    }
    start = Math.max(start, at - 100);
    end = Math.min(end, at + length + 100);
    return text.substring(start, end).replace("\r", "").strip();
  }

  @Override
  public void close() {
    try {
      watch.close();
    } catch (IOException e) {
      LOG.log(Level.WARNING, "closing the console watch: {0}", e.getMessage());
    }
    if (thread != null) {
      thread.interrupt();
    }
  }
}
