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
 * @param cause which role change recorded it, for the code to act on (never the reason's text)
 * @param reason why, for the operator (e.g. "switchover to hiroshima")
 * @param discardDiverged a returning old primary's consent (given by {@code kagami failback}) to
 *     discard — after saving them aside — its writes after the point its successor was promoted
 */
public record RoleRecord(
    Role role, String since, Cause cause, String reason, boolean discardDiverged) {
  /** The role change that wrote a record (file key {@code cause}). */
  public enum Cause {
    /** An unplanned failover: this standby was promoted, so no standby is in sync yet. */
    PROMOTE("promote"),
    /** A planned switchover, on either side. */
    SWITCHOVER("switchover"),
    /** A switchover the standby refused: this site stayed the primary. */
    SWITCHOVER_CALLED_OFF("switchover-called-off"),
    /** A returning old primary made the standby of its successor. */
    FAILBACK("failback");

    private final String label;

    Cause(String label) {
      this.label = label;
    }

    public String label() {
      return label;
    }

    static Cause parse(String label) {
      for (Cause c : values()) {
        if (c.label.equals(label)) {
          return c;
        }
      }
      throw new IllegalArgumentException("unknown cause \"" + label + "\"");
    }

    /**
     * For records written before the {@code cause} key existed, whose reason text is all they say.
     * Only the file decoder reads text this way; everything else switches on the cause.
     */
    static Cause ofLegacyReason(String reason) {
      if (reason.startsWith("promote")) {
        return PROMOTE;
      }
      if (reason.startsWith("switchover called off")) {
        return SWITCHOVER_CALLED_OFF;
      }
      return reason.startsWith("failback") ? FAILBACK : SWITCHOVER;
    }
  }

  static final String FILE = "role";

  /** Written by promotions before the role record existed; means primary. */
  static final String LEGACY_PROMOTED = "promoted";

  /** The recorded role of the site with this data directory, if it changed at run time. */
  static Optional<RoleRecord> read(Path dataDir) {
    Path file = dataDir.resolve(FILE);
    if (!Files.exists(file)) {
      return Files.exists(dataDir.resolve(LEGACY_PROMOTED))
          ? Optional.of(new RoleRecord(Role.PRIMARY, "", Cause.PROMOTE, "promoted", false))
          : Optional.empty();
    }
    Role role = null;
    String since = "";
    String reason = "";
    Cause cause = null;
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
          case "cause" -> cause = Cause.parse(value);
          case "discardDiverged" -> discard = Boolean.parseBoolean(value);
          default -> {}
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot read the role record " + file + ": " + e.getMessage(), e);
    } catch (IllegalArgumentException e) {
      throw new IllegalStateException(
          "the role record " + file + " names an unknown role or cause: " + e.getMessage(), e);
    }
    if (role == null) {
      throw new IllegalStateException(
          "the role record "
              + file
              + " names no role; it is damaged (it should say role: primary or role: standby)");
    }
    return Optional.of(
        new RoleRecord(
            role, since, cause != null ? cause : Cause.ofLegacyReason(reason), reason, discard));
  }

  /** Writes the record durably (temporary file, sync, atomic rename, directory sync). */
  void persist(Path dataDir) throws IOException {
    String text =
        "# The role this site took at run time; it starts in this role whatever its configuration says.\n"
            + "role: "
            + role.label()
            + "\nsince: "
            + since
            + "\ncause: "
            + cause.label()
            + "\nreason: "
            + reason
            + "\ndiscardDiverged: "
            + discardDiverged
            + "\n";
    DurableFiles.replace(dataDir.resolve(FILE), text.getBytes(StandardCharsets.UTF_8));
  }
}
