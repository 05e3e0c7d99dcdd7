package io.kagami.site.recovery.run;

import com.fasterxml.jackson.core.type.TypeReference;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * When each server was last proven bootable by a drill, and at which point ({@code
 * <dataDir>/recovery/tested.json}): what {@code kagami recover status} shows as "last tested", the
 * way Zerto tags a checkpoint "Tested at". Not thread-safe: the orchestrator's thread only.
 */
final class TestedPoints {
  /** One server's last passing drill. */
  record Tested(String runId, String testedAt, long seq, String pointTime) {}

  private final Path file;
  private final Map<String, Tested> tested = new TreeMap<>();

  TestedPoints(Path dataDir) throws IOException {
    this.file = dataDir.resolve("recovery").resolve("tested.json");
    if (Files.exists(file)) {
      tested.putAll(
          RunState.json().readValue(file.toFile(), new TypeReference<Map<String, Tested>>() {}));
    }
  }

  void mark(String server, Tested t) throws IOException {
    tested.put(server, t);
    RunState.writeJson(file, tested);
  }

  Map<String, Tested> all() {
    return new LinkedHashMap<>(tested);
  }
}
