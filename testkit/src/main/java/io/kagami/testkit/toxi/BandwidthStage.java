package io.kagami.testkit.toxi;

import io.kagami.testkit.toxi.StreamItem.Data;
import java.util.Arrays;

/** At most {@code rate} KB/s (1 KB = 1000 B), in pieces of at most 100 ms worth each. */
final class BandwidthStage extends PieceStage {
  private static final long PIECE_NANOS = 100_000_000L;
  private long rateKbPerSecond;
  private int offset;
  private int pieceLength;
  private long pieceReleaseNanos;
  private long lastReleaseNanos = Long.MIN_VALUE;

  @Override
  void configure(ToxicSpec spec, long now) {
    rateKbPerSecond = spec.attribute("rate");
    pieceLength = 0; // reschedule the current piece at the new rate
  }

  @Override
  boolean step(long now, Output out) {
    if (rateKbPerSecond <= 0) {
      return passUntouched(out);
    }
    boolean moved = false;
    while (out.hasRoom() && holdsData()) {
      if (current == null) {
        moved = true;
        if (!takeChunk(out)) {
          break;
        }
        offset = 0;
        pieceLength = 0;
      }
      if (pieceLength == 0) {
        // bytes per piece: rate KB/s over 100 ms = rate * 100 bytes (as Toxiproxy splits)
        long maxPiece = Math.max(1, Math.min(Integer.MAX_VALUE, rateKbPerSecond * 100));
        pieceLength = (int) Math.min(current.bytes().length - offset, maxPiece);
        // Time is owed from the previous piece's release when data queued behind it; after an
        // idle gap it starts from the arrival (no credit for idling, as in Toxiproxy).
        long start =
            lastReleaseNanos == Long.MIN_VALUE
                ? current.timestampNanos()
                : Math.max(lastReleaseNanos, current.timestampNanos());
        start = Math.max(start, now - PIECE_NANOS); // never owe more than the pump was late
        pieceReleaseNanos = start + pieceLength * 1_000_000L / rateKbPerSecond;
      }
      if (now - pieceReleaseNanos < 0) {
        break;
      }
      out.put(
          new Data(
              Arrays.copyOfRange(current.bytes(), offset, offset + pieceLength),
              current.timestampNanos()));
      moved = true;
      lastReleaseNanos = pieceReleaseNanos;
      offset += pieceLength;
      pieceLength = 0;
      if (offset == current.bytes().length) {
        current = null;
      }
    }
    return moved;
  }

  @Override
  Data remainder() {
    return new Data(
        Arrays.copyOfRange(current.bytes(), offset, current.bytes().length),
        current.timestampNanos());
  }

  @Override
  long deadline() {
    return active && current != null && pieceLength > 0 ? pieceReleaseNanos : Long.MAX_VALUE;
  }
}
