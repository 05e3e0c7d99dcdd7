package io.kagami.site.config;

/**
 * The journal's disk-space settings ({@code journal:} in the YAML).
 *
 * @param reserveBytes free space kept on the journal's filesystem ({@code journal.reserve}): a
 *     write that would eat into it is refused with ENOSPC, so the journal never runs out itself and
 *     resumes by itself once space returns; 0 turns the check off
 * @param walBytes RocksDB's WAL bound ({@code journal.walSize}): also the most a WAL file is
 *     allocated up front, i.e. the journal's fixed footprint on disk
 */
public record JournalSettings(long reserveBytes, long walBytes) {
  public static final JournalSettings DEFAULT =
      new JournalSettings(
          io.kagami.journal.JournalConfig.DEFAULT_RESERVE_BYTES,
          io.kagami.journal.JournalConfig.DEFAULT_WAL_BYTES);
}
