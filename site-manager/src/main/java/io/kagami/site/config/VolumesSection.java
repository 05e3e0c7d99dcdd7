package io.kagami.site.config;

import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.replicator.history.History;
import io.kagami.replicator.sync.SyncReplication;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Reads the {@code volumes:} list of a site's configuration (see {@link ConfigLoader} for its
 * keys): names, sizes, consistency groups and their members, replication mode and sync policy,
 * history capacity, changed-region granularity and the standby's retention. Problems go to the
 * shared {@link ConfigReader}. Not thread-safe: one per load.
 */
final class VolumesSection {
  private static final Pattern VOLUME_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

  private final ConfigReader r;
  private final Map<String, String> sizeKeys = new HashMap<>();

  /** Where the list sits, for messages: "" for the top-level list, "peers[1]." for a peer's. */
  private final String prefix;

  VolumesSection(ConfigReader reader) {
    this(reader, "");
  }

  VolumesSection(ConfigReader reader, String prefix) {
    this.r = reader;
    this.prefix = prefix;
  }

  /**
   * After {@link #parse}: each valid volume's key for its size ({@code volumes[1].size}, or {@code
   * volumes[0].members} for a consistency group, whose members make its size).
   */
  Map<String, String> sizeKeys() {
    return sizeKeys;
  }

  /** The volumes that are valid (the others added a problem each). */
  List<VolumeConfig> parse(JsonNode root) {
    List<VolumeConfig> volumes = new ArrayList<>();
    JsonNode vols = root.get("volumes");
    if (vols == null || !vols.isArray() || vols.isEmpty()) {
      r.problem(
          prefix
              + "volumes must list at least one volume, e.g. volumes: [{name: vol0, size: 1GiB}]");
    } else {
      Set<String> names = new HashSet<>();
      for (int i = 0; i < vols.size(); i++) {
        JsonNode v = vols.get(i);
        String at = prefix + "volumes[" + i + "]";
        if (!v.isObject()) {
          r.problem(at + " must be a mapping with name and size (and optionally historyCapacity)");
          continue;
        }
        r.known(
            v,
            at + ".",
            "name",
            "size",
            "members",
            "mode",
            "syncTimeout",
            "onSyncTimeout",
            "historyCapacity",
            "bitmapGranularity",
            "retention",
            "retentionMaxBytes");
        String name = r.text(v, at + ".name", null);
        if (name == null) {
          r.problem(at + ".name is required");
          continue;
        }
        if (!VOLUME_NAME.matcher(name).matches()) {
          r.problem(
              at + ".name",
              "volume \""
                  + name
                  + "\": the name is not allowed (letters, digits, '.', '_', '-', up to 64 characters)");
          continue;
        }
        if (!names.add(name)) {
          r.problem(at + ".name", "volume \"" + name + "\" is listed twice");
        }
        List<VolumeConfig.Member> members = new ArrayList<>();
        long size;
        if (v.has("members")) {
          // A consistency group: its members are laid out one after the other in one replicated
          // volume.
          if (v.has("size")) {
            r.problem(
                at + ".size",
                "volume \""
                    + name
                    + "\": a consistency group takes its size from its members; remove size");
            continue;
          }
          JsonNode ms = v.get("members");
          if (!ms.isArray() || ms.isEmpty()) {
            r.problem(
                at + ".members",
                "volume \""
                    + name
                    + "\": members must list the group's volumes, e.g. members: [{name: db-data, size: 10GiB}, {name: db-log, size: 1GiB}]");
            continue;
          }
          long offset = 0;
          boolean ok = true;
          for (int m = 0; m < ms.size(); m++) {
            JsonNode mv = ms.get(m);
            String mat = at + ".members[" + m + "]";
            if (!mv.isObject()) {
              r.problem(mat + " must be a mapping with name and size");
              ok = false;
              continue;
            }
            r.known(mv, mat + ".", "name", "size");
            String mname = r.text(mv, mat + ".name", null);
            String msize = r.text(mv, mat + ".size", null);
            if (mname == null || msize == null) {
              r.problem(mat + " needs a name and a size");
              ok = false;
              continue;
            }
            if (!VOLUME_NAME.matcher(mname).matches()) {
              r.problem(
                  mat + ".name",
                  "volume \""
                      + mname
                      + "\" (member of "
                      + name
                      + "): the name is not allowed (letters, digits, '.', '_', '-', up to 64 characters)");
              ok = false;
              continue;
            }
            if (!names.add(mname)) {
              r.problem(mat + ".name", "volume \"" + mname + "\" is listed twice");
            }
            long bytes = memberSize(mat + ".size", mname, msize);
            if (bytes < 0) {
              ok = false;
              continue;
            }
            members.add(new VolumeConfig.Member(mname, offset, bytes));
            offset += bytes;
          }
          if (!ok) {
            continue;
          }
          size = offset;
          sizeKeys.put(name, at + ".members");
        } else {
          String sizeText = r.text(v, at + ".size", null);
          if (sizeText == null) {
            r.problem(
                at + ".size",
                "volume \"" + name + "\": size is required (or members, for a consistency group)");
            continue;
          }
          size = memberSize(at + ".size", name, sizeText);
          if (size < 0) {
            continue;
          }
          sizeKeys.put(name, at + ".size");
        }
        ReplicationMode mode = ReplicationMode.ASYNC;
        String modeText = r.text(v, at + ".mode", "async");
        switch (modeText.toLowerCase(Locale.ROOT)) {
          case "async" -> mode = ReplicationMode.ASYNC;
          case "sync" -> mode = ReplicationMode.SYNC;
          default ->
              r.problem(
                  at + ".mode",
                  "volume \"" + name + "\": mode " + modeText + " is not allowed (async or sync)");
        }
        Duration timeout = VolumeConfig.DEFAULT_SYNC_POLICY.timeout();
        String timeoutText = r.text(v, at + ".syncTimeout", Durations.format(timeout));
        try {
          timeout = Durations.parse(timeoutText);
          if (timeout.isZero()) {
            r.problem(
                at + ".syncTimeout", "volume \"" + name + "\": syncTimeout must be more than 0");
            timeout = VolumeConfig.DEFAULT_SYNC_POLICY.timeout();
          }
        } catch (IllegalArgumentException e) {
          r.problem(at + ".syncTimeout", "volume \"" + name + "\": syncTimeout " + e.getMessage());
        }
        SyncReplication.OnTimeout onTimeout = VolumeConfig.DEFAULT_SYNC_POLICY.onTimeout();
        String onTimeoutText = r.text(v, at + ".onSyncTimeout", onTimeout.label());
        switch (onTimeoutText.toLowerCase(Locale.ROOT)) {
          case "degrade" -> onTimeout = SyncReplication.OnTimeout.DEGRADE;
          case "block" -> onTimeout = SyncReplication.OnTimeout.BLOCK;
          default ->
              r.problem(
                  at + ".onSyncTimeout",
                  "volume \""
                      + name
                      + "\": onSyncTimeout "
                      + onTimeoutText
                      + " is not allowed (degrade or block)");
        }
        if (mode == ReplicationMode.ASYNC && (v.has("syncTimeout") || v.has("onSyncTimeout"))) {
          r.problem(
              at + (v.has("syncTimeout") ? ".syncTimeout" : ".onSyncTimeout"),
              "volume \"" + name + "\": syncTimeout and onSyncTimeout apply to mode: sync only");
        }
        long capacity = VolumeConfig.DEFAULT_HISTORY_CAPACITY;
        String capacityText =
            v.has("historyCapacity") ? r.text(v, at + ".historyCapacity", null) : null;
        if (capacityText != null) {
          try {
            capacity = DataSize.parse(capacityText).bytes();
          } catch (IllegalArgumentException e) {
            r.problem(
                at + ".historyCapacity",
                "volume \"" + name + "\": historyCapacity " + e.getMessage());
            continue;
          }
          if (capacity < VolumeConfig.MIN_HISTORY_CAPACITY) {
            r.problem(
                at + ".historyCapacity",
                "volume \""
                    + name
                    + "\": historyCapacity "
                    + capacityText
                    + " is not allowed (at least 1 MiB; default 8GiB)");
            continue;
          }
        }
        long granularity = VolumeConfig.DEFAULT_BITMAP_GRANULARITY;
        if (v.has("bitmapGranularity")) {
          try {
            granularity = DataSize.parse(r.text(v, at + ".bitmapGranularity", "")).bytes();
            if (granularity < 4096 || granularity > (4L << 20) || Long.bitCount(granularity) != 1) {
              r.problem(
                  at + ".bitmapGranularity",
                  "volume \""
                      + name
                      + "\": bitmapGranularity must be a power of two from 4KiB to 4MiB");
              granularity = VolumeConfig.DEFAULT_BITMAP_GRANULARITY;
            }
          } catch (IllegalArgumentException e) {
            r.problem(
                at + ".bitmapGranularity",
                "volume \"" + name + "\": bitmapGranularity " + e.getMessage());
          }
        }
        History.Retention retention = retention(v, at, name);
        volumes.add(
            new VolumeConfig(
                name,
                size,
                mode,
                new SyncReplication.Policy(timeout, onTimeout),
                capacity,
                (int) granularity,
                retention == null ? History.Retention.NONE : retention,
                members));
      }
    }
    return volumes;
  }

  /** A volume's (or group member's) size in bytes; -1 after reporting why it is not allowed. */
  private long memberSize(String key, String name, String sizeText) {
    long size;
    try {
      size = DataSize.parse(sizeText).bytes();
    } catch (IllegalArgumentException e) {
      r.problem(key, "volume \"" + name + "\": size " + e.getMessage());
      return -1;
    }
    if (size < VolumeConfig.MIN_SIZE || size % VolumeConfig.ALIGNMENT != 0) {
      r.problem(
          key,
          "volume \""
              + name
              + "\": size "
              + sizeText
              + " is not allowed (must be a multiple of 4096, at least 1 MiB)");
      return -1;
    }
    return size;
  }

  /**
   * A volume's {@code retention} and {@code retentionMaxBytes}; null (after noting why) when
   * invalid.
   */
  private History.Retention retention(JsonNode v, String at, String name) {
    Duration window = Duration.ZERO;
    long maxBytes = 0;
    if (v.has("retention")) {
      String t = r.text(v, at + ".retention", "0s");
      try {
        window = Durations.parse(t);
      } catch (IllegalArgumentException e) {
        r.problem(
            at + ".retention",
            "volume \""
                + name
                + "\": retention "
                + e.getMessage()
                + "; it is how far back a standby can run a drill or promote (e.g. 1h; 0s for none)");
        return null;
      }
      if (window.compareTo(History.MAX_WINDOW) > 0) {
        r.problem(
            at + ".retention",
            "volume \""
                + name
                + "\": retention "
                + t
                + " is longer than the 7 days a standby can keep (use retentionMaxBytes to bound its disk use)");
        return null;
      }
    }
    if (v.has("retentionMaxBytes")) {
      String t = r.text(v, at + ".retentionMaxBytes", "0");
      try {
        maxBytes = DataSize.parse(t).bytes();
      } catch (IllegalArgumentException e) {
        r.problem(
            at + ".retentionMaxBytes",
            "volume \"" + name + "\": retentionMaxBytes " + e.getMessage());
        return null;
      }
      if (maxBytes != 0 && maxBytes < VolumeConfig.MIN_HISTORY_CAPACITY) {
        r.problem(
            at + ".retentionMaxBytes",
            "volume \""
                + name
                + "\": retentionMaxBytes "
                + t
                + " is not allowed (at least 1 MiB, or 0 for no cap)");
        return null;
      }
    }
    return new History.Retention(window, maxBytes);
  }
}
