package io.kagami.site.recovery.run;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * What a running recovery made, persisted before and after each step ({@code
 * <dataDir>/recovery/state.json}, written to a temporary file, synced, renamed), so that {@code
 * recover stop}, and a site restarted after its orchestrator was killed, can remove all of it: the
 * VM processes (pid and the process's start time, so a reused pid is never killed) or libvirt
 * domains, the drill clones, the run's directory of consoles.
 *
 * @param expiresAt a drill's end of life (its time-to-live), or null
 */
public record RunState(
    int version,
    String id,
    boolean drill,
    String requestedAt,
    String expiresAt,
    List<Vm> vms,
    List<String> drills) {

  static final int VERSION = 1;
  private static final ObjectMapper JSON = new ObjectMapper();

  public RunState {
    vms = List.copyOf(vms);
    drills = List.copyOf(drills);
  }

  /** One VM started by the run. */
  public record Vm(String server, int attempt, long pid, String processStart, String domain) {}

  static Path file(Path dataDir) {
    return dataDir.resolve("recovery").resolve("state.json");
  }

  /** The state left by the last run, or null when there is none. */
  static RunState read(Path dataDir) throws IOException {
    Path f = file(dataDir);
    if (!Files.exists(f)) {
      return null;
    }
    return JSON.readValue(f.toFile(), RunState.class);
  }

  void write(Path dataDir) throws IOException {
    writeJson(file(dataDir), this);
  }

  static void clear(Path dataDir) throws IOException {
    Files.deleteIfExists(file(dataDir));
  }

  /** Writes {@code value} as JSON durably: a temporary file, synced, renamed over {@code f}. */
  static void writeJson(Path f, Object value) throws IOException {
    Files.createDirectories(f.getParent());
    Path tmp = f.resolveSibling(f.getFileName() + ".tmp");
    Files.write(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(value));
    try (FileChannel c = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
      c.force(true);
    }
    Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  static ObjectMapper json() {
    return JSON;
  }
}
