package io.kagami.site;

import io.kagami.journal.DurableFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The primaries of an N:1 standby whose volumes were promoted here ({@code kagami promote --peer}),
 * each with its durable record {@code promoted-peer.<siteId>} in the data directory: once it exists
 * the peer's volumes ({@code <siteId>.*}) open as writable primaries on every start, and the WAN
 * receiver refuses that primary for good (its history is stale: the volumes here started a new data
 * generation), while every other peer keeps replicating. A peer is also <em>refused</em> in memory,
 * before its record is written, while its promotion runs, so that it cannot reconnect between its
 * link being cut and its volumes being turned.
 *
 * <p>File format (text, one {@code key: value} a line, {@code #} comments): {@code peer: <siteId>},
 * {@code at: <ISO-8601>}, {@code forced: true|false}, one {@code volume: <name> appliedSeq <n>} per
 * volume. Written durably (temporary file, sync, rename, directory sync).
 *
 * <p>Thread-safe: the set is replaced whole (copy-on-write) under this object's lock and read
 * without one by the receiver's event loops and the status.
 */
final class PromotedPeers {
  static final String PREFIX = "promoted-peer.";

  /** One peer's promotion on this standby. */
  record PeerPromotion(String siteId, String at, boolean forced, List<Promotion.VolumeAt> volumes) {
    PeerPromotion {
      volumes = List.copyOf(volumes);
    }
  }

  private final Path dataDir;
  private final String standbyId;
  private volatile Map<String, PeerPromotion> recorded;
  private volatile Set<String> refusing = Set.of();

  private PromotedPeers(Path dataDir, String standbyId, Map<String, PeerPromotion> recorded) {
    this.dataDir = dataDir;
    this.standbyId = standbyId;
    this.recorded = recorded;
  }

  /** The promotions recorded in {@code dataDir} (none: an empty set). */
  static PromotedPeers read(Path dataDir, String standbyId) {
    Map<String, PeerPromotion> found = new LinkedHashMap<>();
    if (Files.isDirectory(dataDir)) {
      try (var files = Files.list(dataDir)) {
        for (Path f : files.sorted().toList()) {
          String n = f.getFileName().toString();
          if (n.startsWith(PREFIX) && !n.endsWith(".tmp")) {
            PeerPromotion p = parse(f);
            found.put(p.siteId(), p);
          }
        }
      } catch (IOException e) {
        throw new UncheckedIOException("reading the promoted peers in " + dataDir, e);
      }
    }
    return new PromotedPeers(dataDir, standbyId, Collections.unmodifiableMap(found));
  }

  private static PeerPromotion parse(Path f) throws IOException {
    String peer = null;
    String at = null;
    boolean forced = false;
    List<Promotion.VolumeAt> volumes = new ArrayList<>();
    for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
      int colon = line.indexOf(':');
      if (line.isBlank() || line.startsWith("#") || colon < 0) {
        continue;
      }
      String key = line.substring(0, colon).strip();
      String value = line.substring(colon + 1).strip();
      switch (key) {
        case "peer" -> peer = value;
        case "at" -> at = value;
        case "forced" -> forced = Boolean.parseBoolean(value);
        case "volume" -> {
          String[] w = value.split(" ");
          if (w.length < 3 || !w[1].equals("appliedSeq")) {
            throw new IllegalStateException(f + ": a volume line reads \"" + line + "\"");
          }
          volumes.add(
              new Promotion.VolumeAt(
                  w[0], Long.parseLong(w[2]), !value.contains("(inconsistent, forced)")));
        }
        default -> {
          // later keys are ignored by this version
        }
      }
    }
    String name = f.getFileName().toString();
    if (peer == null || !name.equals(PREFIX + peer)) {
      throw new IllegalStateException(
          f
              + " does not name its peer (expected \"peer: "
              + name.substring(PREFIX.length())
              + "\")");
    }
    return new PeerPromotion(peer, at, forced, volumes);
  }

  /** True once {@code siteId}'s volumes were promoted here (recorded). */
  boolean promoted(String siteId) {
    return recorded.containsKey(siteId);
  }

  /** The recorded promotion of {@code siteId}, or null. */
  PeerPromotion of(String siteId) {
    return recorded.get(siteId);
  }

  /** Every recorded promotion, by peer. */
  Map<String, PeerPromotion> all() {
    return recorded;
  }

  /**
   * Why the WAN receiver refuses primary {@code siteId} now, or null when it may replicate: its
   * volumes were promoted here (or are being promoted).
   */
  String refusal(String siteId) {
    PeerPromotion p = recorded.get(siteId);
    if (p != null) {
      return "site \""
          + siteId
          + "\" is stale: its volumes were promoted on standby "
          + standbyId
          + " at "
          + p.at()
          + " (kagami promote --peer "
          + siteId
          + ") and take writes there in a new data generation; its old primary is refused and may"
          + " not ship into them (failback of one peer of an N:1 standby is not supported yet:"
          + " copy the promoted volumes back to "
          + siteId
          + ", see docs/runbooks/failover.md)";
    }
    if (refusing.contains(siteId)) {
      return "site \"" + siteId + "\" is being promoted on standby " + standbyId;
    }
    return null;
  }

  /** {@code siteId} is refused from now on (its promotion begins); undone by {@link #admit}. */
  synchronized void refuse(String siteId) {
    Set<String> next = new LinkedHashSet<>(refusing);
    next.add(siteId);
    refusing = Set.copyOf(next);
  }

  /** A promotion of {@code siteId} that never got recorded was called off. */
  synchronized void admit(String siteId) {
    Set<String> next = new LinkedHashSet<>(refusing);
    next.remove(siteId);
    refusing = Set.copyOf(next);
  }

  /**
   * Records {@code p} durably before its volumes turn; throws, with nothing recorded, when it
   * cannot be written.
   */
  synchronized void record(PeerPromotion p) {
    StringBuilder text =
        new StringBuilder(
            "# The volumes of primary "
                + p.siteId()
                + " were promoted on this standby: they open as primaries here, and "
                + p.siteId()
                + " is refused as stale.\n");
    text.append("peer: ").append(p.siteId()).append('\n');
    text.append("at: ").append(p.at()).append('\n');
    text.append("forced: ").append(p.forced()).append('\n');
    for (Promotion.VolumeAt v : p.volumes()) {
      text.append("volume: ")
          .append(v.name())
          .append(" appliedSeq ")
          .append(v.appliedSeq())
          .append(v.wasConsistent() ? "" : " (inconsistent, forced)")
          .append('\n');
    }
    try {
      DurableFiles.replace(
          dataDir.resolve(PREFIX + p.siteId()), text.toString().getBytes(StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new IllegalStateException(
          "standby "
              + standbyId
              + ": recording the promotion of peer "
              + p.siteId()
              + " failed ("
              + e.getMessage()
              + "); its volumes were not turned",
          e);
    }
    Map<String, PeerPromotion> next = new LinkedHashMap<>(recorded);
    next.put(p.siteId(), p);
    recorded = Collections.unmodifiableMap(next);
  }
}
