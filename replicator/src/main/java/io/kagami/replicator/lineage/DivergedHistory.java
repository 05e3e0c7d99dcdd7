package io.kagami.replicator.lineage;

import io.kagami.journal.DurableFiles;
import io.kagami.journal.JournalEntry;
import io.kagami.journal.JournalRecord;
import io.kagami.journal.JournalStream;
import io.kagami.replicator.apply.Applier;
import io.kagami.replicator.resync.DirtyBitmap;
import io.kagami.replicator.volume.FileVolume;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.function.BooleanSupplier;

/**
 * An old primary rejoining as the standby of the site that replaced it (failback): its writes after
 * the fork — the point its successor was promoted from — exist only here and conflict with the new
 * primary's history. With the operator's consent ({@code kagami failback}) they are
 *
 * <ol>
 *   <li>saved aside: a sparse image of the volume holding exactly those writes, and a manifest
 *       listing them (seq, kind, offset, length), under {@code saved/} in the data directory;
 *   <li>turned into <em>diverged ranges</em>, kept durably until a resync has copied them, and sent
 *       in every WELCOME so the primary copies them along with what it changed since the fork;
 *   <li>discarded from the journal, which continues at the fork with the primary's history.
 * </ol>
 *
 * Each step is durable before the next starts, and all of them can be repeated after a crash.
 *
 * <p>Threads: {@link #saveAndDiscard} reads the whole diverged history and writes an image of it,
 * which may take minutes: it runs on the standby volume's own storage thread, never on an event
 * loop. {@link #ranges()} is read by any thread.
 */
public final class DivergedHistory {
  private static final System.Logger LOG = System.getLogger(DivergedHistory.class.getName());

  /** Diverged ranges are rounded to this when there are too many to list. */
  static final long COARSE = 1 << 20;

  private final String volume;
  private final long sizeBytes;
  private final Path savedDir;
  private final Path rangesFile;
  private final Path ownBitmap;
  private final int bitmapGranularity;
  private final int maxRanges;
  private final BooleanSupplier consent;
  private final Runnable settled;
  private final InstantSource clock;
  private final SalvageHook hook;
  private volatile List<DivergedRange> ranges;

  /**
   * @param savedDir where saved-aside writes go
   * @param rangesFile where the diverged ranges are kept until a resync copied them
   * @param ownBitmap this site's changed-region map from when it was the primary (its writes after
   *     an overflow are only there), may not exist
   * @param maxRanges the most ranges the primary can be told (the WAN handshake's limit): more are
   *     rounded out to {@link #COARSE}, then to the whole volume
   * @param consent whether the operator allowed discarding (a failback was requested)
   * @param settled told when the histories are one line again
   * @param clock stamps the manifest of saved-aside writes
   * @param hook a fault seam for tests; {@link SalvageHook#NONE} in production
   */
  public DivergedHistory(
      String volume,
      long sizeBytes,
      Path savedDir,
      Path rangesFile,
      Path ownBitmap,
      int bitmapGranularity,
      int maxRanges,
      BooleanSupplier consent,
      Runnable settled,
      InstantSource clock,
      SalvageHook hook) {
    if (maxRanges < 1) {
      throw new IllegalArgumentException(
          "volume " + volume + ": at least one diverged range must be allowed, not " + maxRanges);
    }
    this.maxRanges = maxRanges;
    this.clock = clock;
    this.hook = hook;
    this.settled = settled;
    this.bitmapGranularity = bitmapGranularity;
    this.volume = volume;
    this.sizeBytes = sizeBytes;
    this.savedDir = savedDir;
    this.rangesFile = rangesFile;
    this.ownBitmap = ownBitmap;
    this.consent = consent;
    this.ranges = load(rangesFile);
  }

  boolean consented() {
    return consent.getAsBoolean();
  }

  /** The histories are one line again (adopted, or this site's writes after the fork discarded). */
  void settled() {
    settled.run();
  }

  /** The ranges a resync must still copy; empty when none. */
  public List<DivergedRange> ranges() {
    return ranges;
  }

  /**
   * Saves aside and discards this site's history after {@code forkSeq}; afterwards the journal ends
   * at {@code forkSeq} and {@link #ranges()} names every range those writes touched.
   */
  void saveAndDiscard(JournalStream stream, Applier applier, FileVolume file, long forkSeq) {
    long last = stream.lastSeq();
    String stem = volume + "-after-seq-" + forkSeq;
    Path image = savedDir.resolve(stem + ".img");
    Path manifest = savedDir.resolve(stem + ".txt");
    List<DivergedRange> touched = new ArrayList<>();
    StringBuilder text = new StringBuilder();
    text.append("# Writes to volume ")
        .append(volume)
        .append(" made on this site after seq ")
        .append(forkSeq);
    text.append(
            ", where the site that replaced it was promoted.\n# They were discarded by `kagami failback` on ")
        .append(clock.instant())
        .append(".\n");
    text.append("# ")
        .append(image.getFileName())
        .append(" is a sparse image of the volume holding only these writes (zeroes elsewhere).\n");
    text.append("# seq kind offset length\n");
    try {
      Files.createDirectories(savedDir);
      try (FileVolume saved = FileVolume.openOrCreate(image, sizeBytes)) {
        long from = forkSeq + 1;
        if (stream.firstSeq() > from && from <= last) {
          text.append("# seqs ")
              .append(from)
              .append("..")
              .append(stream.firstSeq() - 1)
              .append(" were trimmed from the journal; see the regions below\n");
          if (!Files.exists(ownBitmap)) {
            // Their ranges are unknown: the whole volume is compared and what differs copied back.
            touched.add(new DivergedRange(0, sizeBytes));
            text.append(
                "# their ranges are not known: the whole volume is compared with the primary's\n");
          }
          from = stream.firstSeq();
        }
        while (from <= last) {
          List<JournalEntry> entries = stream.read(from, 8 << 20);
          if (entries.isEmpty()) {
            break;
          }
          for (JournalEntry e : entries) {
            hook.saving(e.seq());
            JournalRecord r = e.record();
            saved.apply(r);
            if (r.length() > 0) {
              touched.add(new DivergedRange(r.offset(), r.length()));
            }
            text.append(e.seq())
                .append(' ')
                .append(r.kind().name().toLowerCase(Locale.ROOT))
                .append(' ')
                .append(r.offset())
                .append(' ')
                .append(r.length())
                .append('\n');
            from = e.seq() + 1;
          }
        }
        // Writes made while history overflowed are in the changed-region map only: save the
        // regions' current content, which holds them.
        DirtyBitmap own = null;
        if (Files.exists(ownBitmap)) {
          try {
            own = DirtyBitmap.open(ownBitmap, bitmapGranularity, sizeBytes);
          } catch (IOException e) {
            touched.add(new DivergedRange(0, sizeBytes));
            text.append("# the changed-region map is unreadable (")
                .append(e.getMessage())
                .append("): the whole volume is copied back\n");
          }
        }
        if (own != null) {
          for (long region = own.nextDirty(0); region >= 0; region = own.nextDirty(region + 1)) {
            long offset = own.offsetOf(region);
            int length = own.lengthOf(region);
            byte[] data = new byte[length];
            file.read(offset, ByteBuffer.wrap(data));
            saved.write(offset, ByteBuffer.wrap(data));
            touched.add(new DivergedRange(offset, length));
            text.append("region ")
                .append(offset)
                .append(' ')
                .append(length)
                .append(" (changed while history overflowed; current content)\n");
          }
        }
        saved.force();
      }
      DurableFiles.replace(manifest, text.toString().getBytes(StandardCharsets.UTF_8));
      List<DivergedRange> merged = coalesce(touched, sizeBytes, maxRanges);
      persist(merged);
      ranges = merged;
      // That map told what this site's old standby lacked; the diverged ranges replace it.
      Files.deleteIfExists(ownBitmap);
    } catch (IOException e) {
      throw new UncheckedIOException(
          "volume "
              + volume
              + ": saving aside the writes after seq "
              + forkSeq
              + " failed: "
              + e.getMessage(),
          e);
    }
    applier.discardAfter(forkSeq);
    LOG.log(
        Level.WARNING,
        "volume {0}: ALERT discarded this site''s writes after seq {1} (seqs {2}..{3}, {4} range(s)); saved aside in {5} and {6}",
        volume,
        Long.toString(forkSeq),
        Long.toString(forkSeq + 1),
        Long.toString(last),
        ranges.size(),
        image,
        manifest);
  }

  /** A resync copied every diverged range: forget them. */
  void resolved() {
    if (ranges.isEmpty()) {
      return;
    }
    try {
      Files.deleteIfExists(rangesFile);
      DurableFiles.syncDirectory(rangesFile.getParent());
    } catch (IOException e) {
      throw new UncheckedIOException(
          "volume " + volume + ": forgetting the diverged ranges failed: " + e.getMessage(), e);
    }
    ranges = List.of();
    LOG.log(Level.INFO, "volume {0}: the diverged ranges were copied from the primary", volume);
  }

  /**
   * Sorted, merged ranges; rounded out to {@link #COARSE} when there are too many for a WELCOME,
   * the whole volume when even that is too many.
   */
  static List<DivergedRange> coalesce(List<DivergedRange> touched, long sizeBytes, int maxRanges) {
    List<DivergedRange> exact = merge(touched, 1, sizeBytes);
    if (exact.size() <= maxRanges) {
      return exact;
    }
    List<DivergedRange> coarse = merge(touched, COARSE, sizeBytes);
    if (coarse.size() <= maxRanges) {
      return coarse;
    }
    return List.of(new DivergedRange(0, sizeBytes));
  }

  private static List<DivergedRange> merge(List<DivergedRange> touched, long unit, long sizeBytes) {
    List<DivergedRange> sorted = new ArrayList<>();
    for (DivergedRange t : touched) {
      long start = t.offset() / unit * unit;
      long end = Math.min(sizeBytes, (t.end() + unit - 1) / unit * unit);
      if (end > start) {
        sorted.add(new DivergedRange(start, end - start));
      }
    }
    sorted.sort(Comparator.comparingLong(DivergedRange::offset));
    List<DivergedRange> out = new ArrayList<>();
    long start = -1;
    long end = -1;
    for (DivergedRange r : sorted) {
      if (start >= 0 && r.offset() <= end) {
        end = Math.max(end, r.end());
        continue;
      }
      if (start >= 0) {
        out.add(new DivergedRange(start, end - start));
      }
      start = r.offset();
      end = r.end();
    }
    if (start >= 0) {
      out.add(new DivergedRange(start, end - start));
    }
    return out;
  }

  private void persist(List<DivergedRange> list) throws IOException {
    StringBuilder text =
        new StringBuilder(
            "# diverged ranges of volume "
                + volume
                + " (offset length), copied from the primary at the next resync\n");
    for (DivergedRange r : list) {
      text.append(r.offset()).append(' ').append(r.length()).append('\n');
    }
    Files.createDirectories(rangesFile.getParent());
    DurableFiles.replace(rangesFile, text.toString().getBytes(StandardCharsets.UTF_8));
  }

  private static List<DivergedRange> load(Path file) {
    if (!Files.exists(file)) {
      return List.of();
    }
    try {
      List<DivergedRange> out = new ArrayList<>();
      for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
        if (line.isBlank() || line.startsWith("#")) {
          continue;
        }
        String[] f = line.trim().split("\\s+");
        out.add(new DivergedRange(Long.parseLong(f[0]), Long.parseLong(f[1])));
      }
      return List.copyOf(out);
    } catch (IOException | RuntimeException e) {
      throw new IllegalStateException(
          "the diverged ranges file "
              + file
              + " is damaged ("
              + e.getMessage()
              + "); delete it and the volume's journal to resynchronize it fully",
          e);
    }
  }
}
