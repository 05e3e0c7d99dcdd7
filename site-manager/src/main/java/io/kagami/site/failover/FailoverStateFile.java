package io.kagami.site.failover;

import io.kagami.journal.DurableFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What the failover controller must keep across restarts, in {@code failover.state} in the data
 * directory: the witness term this site holds or knows (a restarted primary renews at the term it
 * held, and a deposed one finds out), and maintenance mode (a planned restart stays planned).
 *
 * <pre>
 * # Kagami failover state (written by the site; do not edit while it runs)
 * version: 1
 * term: 2
 * maintenance: false
 * </pre>
 */
record FailoverStateFile(long term, boolean maintenance) {
  static final String FILE = "failover.state";

  static FailoverStateFile read(Path dataDir, long defaultTerm) throws IOException {
    Path f = dataDir.resolve(FILE);
    if (!Files.exists(f)) {
      return new FailoverStateFile(defaultTerm, false);
    }
    long term = defaultTerm;
    boolean maintenance = false;
    for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
      String l = line.strip();
      if (l.startsWith("term:")) {
        term = Long.parseLong(l.substring(5).strip());
      } else if (l.startsWith("maintenance:")) {
        maintenance = Boolean.parseBoolean(l.substring(12).strip());
      } else if (l.startsWith("version:") && !l.substring(8).strip().equals("1")) {
        throw new IOException(
            f + ": version " + l.substring(8).strip() + " is not supported (1 expected)");
      }
    }
    return new FailoverStateFile(term, maintenance);
  }

  void write(Path dataDir) throws IOException {
    String text =
        "# Kagami failover state (written by the site; do not edit while it runs)\nversion: 1\nterm: "
            + term
            + "\nmaintenance: "
            + maintenance
            + "\n";
    DurableFiles.replace(dataDir.resolve(FILE), text.getBytes(StandardCharsets.UTF_8));
  }
}
