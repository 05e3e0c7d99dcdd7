package io.kagami.journal;

import java.util.Locale;

/**
 * Recognises the filesystem being full in what Java reports. The JDK and RocksJava carry no errno:
 * an {@code ENOSPC} arrives as an {@link java.io.IOException} or a {@code RocksDBException} whose
 * text is the C library's {@code strerror(ENOSPC)}, "No space left on device". This is the one
 * place that reads that text; everything else asks {@link #isNoSpace}.
 */
public final class DiskSpace {
  private DiskSpace() {}

  /** True when {@code e} or one of its causes is the filesystem being full. */
  public static boolean isNoSpace(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof JournalException j && j.noSpace()) {
        return true;
      }
      if (t instanceof org.rocksdb.RocksDBException r
          && r.getStatus() != null
          && r.getStatus().getState() != null
          && r.getStatus().getState().toLowerCase(Locale.ROOT).contains("no space")) {
        return true;
      }
      String m = t.getMessage();
      if (m != null && m.toLowerCase(Locale.ROOT).contains("no space left")) {
        return true;
      }
      if (t.getCause() == t) {
        break;
      }
    }
    return false;
  }
}
