package io.kagami.site;

import io.kagami.journal.DurableFiles;
import io.kagami.site.config.Role;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;

/**
 * The durable record of the role a site took at run time (promotion, switchover, failback): once it
 * exists, the site starts in that role whatever its configuration says. Written before the change
 * takes effect outward, so a crash never leaves a site believing in a role it already gave up.
 *
 * @param role the role the site runs
 * @param since when it took it (ISO-8601, UTC)
 * @param reason why, for the operator (e.g. "switchover to hiroshima")
 * @param discardDiverged a returning old primary's consent (given by {@code kagami failback}) to
 *     discard — after saving them aside — its writes after the point its successor was promoted
 */
public record RoleRecord(Role role, String since, String reason, boolean discardDiverged) {
  static final String FILE = "role";
  /** Written by promotions before the role record existed; means primary. */
  static final String LEGACY_PROMOTED = "promoted";

  /** The recorded role of the site with this data directory, if it changed at run time. */
  static Optional<RoleRecord> read(Path dataDir) {
    Path file = dataDir.resolve(FILE);
    if (!Files.exists(file)) {
      return Files.exists(dataDir.resolve(LEGACY_PROMOTED)) ? Optional.of(new RoleRecord(Role.PRIMARY, "", "promoted", false)) : Optional.empty();
    }
    Role role = null;
    String since = "";
    String reason = "";
    boolean discard = false;
    try {
      for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
        int colon = line.indexOf(':');
        if (line.startsWith("#") || colon < 0) {
          continue;
        }
        String key = line.substring(0, colon).trim();
        String value = line.substring(colon + 1).trim();
        switch (key) {
          case "role" -> role = Role.valueOf(value.toUpperCase(Locale.ROOT));
          case "since" -> since = value;
          case "reason" -> reason = value;
          case "discardDiverged" -> discard = Boolean.parseBoolean(value);
          default -> {}
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the role record " + file + ": " + e.getMessage(), e);
    } catch (IllegalArgumentException e) {
      throw new IllegalStateException("the role record " + file + " names an unknown role: " + e.getMessage(), e);
    }
    if (role == null) {
      throw new IllegalStateException("the role record " + file + " names no role; it is damaged (it should say role: primary or role: standby)");
    }
    return Optional.of(new RoleRecord(role, since, reason, discard));
  }

  /** Writes the record durably (temporary file, sync, atomic rename, directory sync). */
  void persist(Path dataDir) throws IOException {
    String text =
        "# The role this site took at run time; it starts in this role whatever its configuration says.\n"
            + "role: "
            + role.label()
            + "\nsince: "
            + since
            + "\nreason: "
            + reason
            + "\ndiscardDiverged: "
            + discardDiverged
            + "\n";
    DurableFiles.replace(dataDir.resolve(FILE), text.getBytes(StandardCharsets.UTF_8));
  }
}
