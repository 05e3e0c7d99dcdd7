package io.kagami.site;

import io.kagami.journal.DurableFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The durable record that a standby was promoted: once it exists, the site starts as a primary
 * whatever its configuration says, and never listens for its old primary again (a returning old
 * primary cannot ship into it and silently merge two histories).
 *
 * @param at when (ISO-8601, UTC)
 * @param volumes what each volume held when promoted
 * @param millis how long the promotion took, from the request to read-write exports
 * @param forced whether an inconsistent replica was accepted as it was
 */
public record Promotion(String at, boolean forced, List<VolumeAt> volumes, long millis) {

  /** A volume at promotion: the last sequence number it had applied. */
  public record VolumeAt(String name, long appliedSeq, boolean wasConsistent) {}

  static final String FILE = "promoted";

  static boolean recorded(Path dataDir) {
    return Files.exists(dataDir.resolve(FILE));
  }

  /** Writes the record durably (temporary file, sync, atomic rename, directory sync). */
  void persist(Path dataDir) throws IOException {
    StringBuilder text =
        new StringBuilder(
            "# This site was promoted from standby to primary; it starts as a primary from now on.\n");
    text.append("at: ").append(at).append('\n').append("forced: ").append(forced).append('\n');
    for (VolumeAt v : volumes) {
      text.append("volume: ")
          .append(v.name())
          .append(" appliedSeq ")
          .append(v.appliedSeq())
          .append(v.wasConsistent() ? "" : " (inconsistent, forced)")
          .append('\n');
    }
    DurableFiles.replace(dataDir.resolve(FILE), text.toString().getBytes(StandardCharsets.UTF_8));
  }

  /** A promotion the site refuses, with the reason an operator should read. */
  public static final class RefusedException extends RuntimeException {
    public RefusedException(String message) {
      super(message);
    }
  }
}
