package io.kagami.site;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The identity file next to a site's journal and volumes (BookKeeper's cookie): written on first
 * start, checked on every later one, so a data directory of another site is never served or
 * replicated over by mistake.
 */
final class SiteIdentity {
  static final String FILE = "kagami-site.id";

  private SiteIdentity() {}

  static void verifyOrCreate(Path dataDir, String siteId) {
    Path file = dataDir.resolve(FILE);
    try {
      Files.createDirectories(dataDir);
      if (Files.exists(file)) {
        String found = Files.readString(file, StandardCharsets.UTF_8).trim();
        if (!found.equals(siteId)) {
          throw new IllegalStateException(
              "data directory "
                  + dataDir
                  + " belongs to site \""
                  + found
                  + "\", not \""
                  + siteId
                  + "\"; refusing to start (point dataDir at this site's own directory)");
        }
        return;
      }
      if (holdsJournal(dataDir.resolve("journal"))) {
        throw new IllegalStateException(
            "data directory "
                + dataDir
                + " holds a journal but no "
                + FILE
                + "; refusing to guess whose it is");
      }
      Path tmp = dataDir.resolve(FILE + ".tmp");
      Files.writeString(tmp, siteId + "\n", StandardCharsets.UTF_8);
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot check the identity of data directory " + dataDir + ": " + e.getMessage(), e);
    }
  }

  /**
   * True when {@code journal} holds anything: an empty directory (e.g. the mount point of a
   * filesystem of its own, with at most its {@code lost+found}) is no one's journal yet.
   */
  private static boolean holdsJournal(Path journal) throws IOException {
    if (!Files.isDirectory(journal)) {
      return Files.exists(journal);
    }
    try (var entries = Files.list(journal)) {
      return entries.anyMatch(p -> !p.getFileName().toString().equals("lost+found"));
    }
  }
}
