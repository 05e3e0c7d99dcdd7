package io.kagami.wan.ship;

import io.kagami.clock.NanoClock;
import io.kagami.wan.frame.ByteCounter;
import io.kagami.wan.throttle.RateWindow;
import io.kagami.wan.throttle.TokenBucket;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One link's bandwidth cap and byte accounting: every frame is charged to a {@link TokenBucket} at
 * its wire size (after batch compression, plus the TLS record overhead), and the bytes the socket
 * really carried ({@link ByteCounter}) are reconciled against those estimates so the cap holds on
 * what left the machine. Also counts raw (journal) bytes and the recent wire rate for the status
 * page.
 *
 * <p>Back-pressure is a value: {@link #mayNotSend()} says whether the bucket is empty and, if so,
 * records how long until it is not ({@link #throttledNanos()}), which the agent folds into its
 * wait. Nothing here sleeps.
 *
 * <p>Threads: charging and {@link #mayNotSend()} run on the agent thread only; {@link #setRate},
 * {@link #rate()} and the counters are safe from any thread (the bucket and the counters are
 * thread-safe). One pacer per shipper, so one peer's cap or backlog never throttles another's.
 */
final class WirePacer {
  /** What "recent" means for the send rates in {@link Shipper#snapshot()}. */
  static final Duration RATE_WINDOW = Duration.ofSeconds(5);

  /** TLS 1.3 record: 5-byte header, 1-byte content type, 16-byte AEAD tag per 16 KiB of data. */
  private static final int TLS_RECORD_DATA = 16384;

  private static final int TLS_RECORD_OVERHEAD = 22;

  private final ByteCounter wire;
  private final TokenBucket bucket;
  private final RateWindow wireRate;
  private final AtomicLong rawBytes = new AtomicLong();
  private long
      charged; // agent: wire bytes charged to the bucket so far (estimates plus reconciled excess)
  private long
      throttledNanos; // agent: how long the bucket makes the next send wait; 0 = not throttled

  WirePacer(ByteCounter wire, NanoClock nanoClock, long bytesPerSecond) {
    this.wire = wire;
    this.bucket = new TokenBucket(nanoClock, bytesPerSecond);
    this.wireRate = new RateWindow(nanoClock, RATE_WINDOW);
  }

  /** What a frame costs on the wire: its bytes plus TLS record overhead. */
  static long wireSize(int frameBytes) {
    return frameBytes
        + (long) TLS_RECORD_OVERHEAD * ((frameBytes + TLS_RECORD_DATA - 1) / TLS_RECORD_DATA);
  }

  /**
   * Agent, before pumping a volume: forgets the last volume's throttle and charges the bucket with
   * socket bytes the per-frame estimates missed (handshakes, heartbeats, TLS records smaller than
   * 16 KiB). The socket count trails the estimates while frames are in the pipeline; only an excess
   * is charged.
   */
  void beginPump() {
    throttledNanos = 0;
    long extra = wire.written() - charged;
    if (extra > 0) {
      bucket.consume(extra);
      charged += extra;
    }
  }

  /**
   * Agent: true when the cap holds the next frame back; {@link #throttledNanos()} then says for how
   * long. What it holds back stays in the journal as history.
   */
  boolean mayNotSend() {
    long wait = bucket.nanosUntilSend();
    if (wait > 0) {
      throttledNanos = wait;
      return true;
    }
    return false;
  }

  /** Agent: how long the last {@link #mayNotSend()} said to wait; 0 when not throttled. */
  long throttledNanos() {
    return throttledNanos;
  }

  /** Agent: a frame of {@code frameBytes} is about to be written. */
  void charge(int frameBytes) {
    long onWire = wireSize(frameBytes);
    bucket.consume(onWire);
    charged += onWire;
    wireRate.record(onWire);
  }

  /** Agent: {@code bytes} of journal entries or region data went out. */
  void countRaw(long bytes) {
    rawBytes.addAndGet(bytes);
  }

  /** Entry bytes per batch: {@code maxBatchBytes}, or one burst of the bucket while capped. */
  int batchLimit(int maxBatchBytes) {
    if (bucket.rate() == 0) {
      return maxBatchBytes;
    }
    return Math.clamp(bucket.burst(), ShipperConfig.MIN_BATCH_BYTES, maxBatchBytes);
  }

  boolean capped() {
    return bucket.rate() > 0;
  }

  /** The cap in bytes per second, 0 = unlimited; any thread. */
  long rate() {
    return bucket.rate();
  }

  /**
   * Changes the cap from the next frame on; any thread. Returns false when it was already in force.
   */
  boolean setRate(long bytesPerSecond) {
    if (bytesPerSecond == bucket.rate()) {
      return false;
    }
    bucket.setRate(bytesPerSecond);
    return true;
  }

  long rawBytes() {
    return rawBytes.get();
  }

  long wireBytes() {
    return wire.written();
  }

  double wireBytesPerSecond() {
    return wireRate.bytesPerSecond();
  }
}
