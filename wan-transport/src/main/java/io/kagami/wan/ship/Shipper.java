package io.kagami.wan.ship;

import io.kagami.clock.NanoClock;
import io.kagami.clock.SystemTime;
import io.kagami.wan.frame.ByteCounter;
import io.kagami.wan.pipeline.WanPipeline;
import io.kagami.wan.tls.Tls;
import java.lang.System.Logger.Level;
import java.time.InstantSource;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * The primary's end of the WAN link to one standby: connects to it (mutual TLS 1.3, pinned
 * certificates), says HELLO with its volumes, and from each volume's resume point in the WELCOME
 * streams journal entries in BATCH frames, keeping up to a window of unacknowledged bytes in flight
 * per volume. On any failure it reconnects with backoff and resumes from what the standby then
 * reports durable: a disconnect never restarts a volume from the beginning, and nothing is skipped.
 *
 * <p>Guarantees, per volume: entries leave in sequence order without gaps, starting right after the
 * standby's durable point on every connection; {@link ShipSource#peerDurable} is called only with a
 * sequence number the standby reported durable (in WELCOME or ACK), never decreasing; at most
 * {@code windowBytes} plus one batch are unacknowledged; nothing is written while the channel is
 * not writable. A volume whose history cannot be shipped — the standby is ahead of the journal
 * (diverged), the journal no longer holds what the standby needs (trimmed), or reading it fails —
 * is stalled with the reason in {@link #snapshot()}, never shipped around; the others go on.
 *
 * <p>This class assembles the link and owns its lifecycle; the roles live in their own classes:
 * {@link ShipperAgent} (the thread and the connection cycle), {@link ResumeStep} (WELCOME), {@link
 * BatchPump} (history), {@link RegionCopier} (resync), {@link InboundFrameHandler} (what the
 * standby sends), {@link HandoverStep} (switchover), {@link VolumeStream} and {@link SendWindow}
 * (per-volume state), {@link WirePacer} (bandwidth cap), and {@link WanPipeline} (the channel
 * pipeline, shared with the receiver). docs/architecture-wan-ship.md draws them together.
 *
 * <p>Threads: the agent thread {@code kagami-ship-<peer>} does every journal read, batch encoding
 * and LZ4 compression, and may block on disk; it waits on a condition that journal appends ({@link
 * ShipSource#onAppend}), acknowledgements, writability changes, {@link #setBandwidth} and {@link
 * #close()} signal. One Netty event loop ({@code kagami-ship-<peer>-io-0}) does TLS, decodes frames
 * and records acknowledgements; it never blocks and calls no {@link ShipSource} method but {@link
 * ShipSource#acknowledged}. The public methods may be called from any thread.
 *
 * <p>Bandwidth: with a cap ({@link ShipperConfig#bandwidthBytesPerSecond}, {@link #setBandwidth} at
 * run time, no reconnect) every frame is charged at its wire size. When the bucket is empty the
 * agent does not send and does not sleep: it waits on its wake-up condition for exactly as long as
 * the bucket says, so a rate change, an acknowledgement or close still cut the wait short. Unsent
 * entries simply stay in the journal: that is the history.
 *
 * <p>One instance per peer: a Shipper holds no process-wide state (no static queue, pool, thread or
 * counter; only loggers are static), and everything that paces or queues — thread, event loop,
 * windows, token bucket, byte counters — is its own. A site shipping to several standbys runs one
 * Shipper each, and one peer's cut link, overflow, resync or cap never stalls another's.
 */
public final class Shipper implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(Shipper.class.getName());

  private enum Lifecycle {
    NEW,
    RUNNING,
    CLOSED
  }

  private final String peer;
  private final String address;
  private final List<VolumeStream> volumes;
  private final WakeSignal wake = new WakeSignal();
  private final LinkFailures failures;
  private final WirePacer pacer;
  private final HandoverStep handover = new HandoverStep();
  private final ShipperAgent agent;
  private Lifecycle lifecycle = Lifecycle.NEW; // guarded by this

  public Shipper(ShipperConfig config, List<ShipSource> sources) {
    this(config, sources, SystemTime.WALL);
  }

  /** {@code clock} stamps errors for the status page. */
  public Shipper(ShipperConfig config, List<ShipSource> sources, InstantSource clock) {
    this(config, sources, clock, SystemTime.NANO);
  }

  /**
   * {@code nanoClock} drives batch delays, retries, the bandwidth cap and the send rates ({@link
   * SystemTime#NANO} in production).
   */
  public Shipper(
      ShipperConfig config, List<ShipSource> sources, InstantSource clock, NanoClock nanoClock) {
    Objects.requireNonNull(config, "config");
    Objects.requireNonNull(clock, "clock");
    Objects.requireNonNull(nanoClock, "nanoClock");
    this.peer = config.peerSiteId();
    this.address = config.host() + ":" + config.port();
    this.failures = new LinkFailures(clock, peer, address);
    ByteCounter wire = new ByteCounter();
    this.pacer = new WirePacer(wire, nanoClock, config.bandwidthBytesPerSecond());
    Map<String, VolumeStream> m = new LinkedHashMap<>();
    for (ShipSource s : sources) {
      if (m.putIfAbsent(s.volume(), new VolumeStream(s, nanoClock, failures)) != null) {
        throw new IllegalArgumentException(
            "volume " + s.volume() + " is offered twice on the WAN link to " + address);
      }
    }
    this.volumes = List.copyOf(m.values());
    WanPipeline pipeline =
        WanPipeline.client(
            wire,
            Tls.client(config.credentials(), config.peerCertificate()),
            config.host(),
            config.port(),
            config.maxFrameBytes(),
            config.heartbeat());
    this.agent =
        new ShipperAgent(
            config, volumes, Map.copyOf(m), pipeline, wake, failures, pacer, handover, nanoClock);
  }

  /** Starts connecting and shipping in the background; see {@link #snapshot()} for progress. */
  public synchronized void start() {
    if (lifecycle != Lifecycle.NEW) {
      throw new IllegalStateException(
          "the shipper to "
              + address
              + " is "
              + lifecycle.name().toLowerCase(java.util.Locale.ROOT)
              + "; it starts once");
    }
    lifecycle = Lifecycle.RUNNING;
    for (VolumeStream v : volumes) {
      v.source.onAppend(wake::signal);
    }
    agent.start();
  }

  /**
   * Planned switchover: tells the standby to take over from {@code endSeqs} (every volume's last
   * seq, which the standby must have acknowledged: the caller stopped writes and drained first).
   * Completes when the standby answers HANDED_OVER; fails with a {@link HandoverException} whose
   * {@linkplain HandoverException#kind() kind} says whether the standby refused (and changed
   * nothing), never heard of it (link down, a volume not acknowledged through its end), or may have
   * taken over without answering (the connection ended).
   */
  public CompletableFuture<Void> handover(Map<String, Long> endSeqs) {
    return handover.begin(agent.channel(), agent.connected(), volumes, endSeqs);
  }

  /** A consistent-enough picture of the link for status pages and metrics; cheap, any thread. */
  public LinkSnapshot snapshot() {
    Map<String, LinkSnapshot.VolumeProgress> m = new LinkedHashMap<>();
    for (VolumeStream v : volumes) {
      m.put(v.name, v.progress());
    }
    LinkFailures.Failure f = failures.last();
    return new LinkSnapshot(
        agent.connected(),
        agent.peerSiteId(),
        address,
        m,
        pacer.rawBytes(),
        pacer.wireBytes(),
        f == null ? null : f.reason(),
        f == null ? null : f.at(),
        pacer.rate(),
        pacer.wireBytesPerSecond());
  }

  /**
   * Caps the bytes put on the wire at {@code bytesPerSecond} (0 = unlimited), from the next frame
   * on; the connection stays up. Any thread.
   */
  public void setBandwidth(long bytesPerSecond) {
    if (bytesPerSecond < 0) {
      throw new IllegalArgumentException(
          "bandwidth " + bytesPerSecond + " B/s is negative (0 = unlimited)");
    }
    if (pacer.setRate(bytesPerSecond)) {
      LOG.log(
          Level.INFO,
          "WAN link to {0}: bandwidth {1}",
          peer,
          bytesPerSecond == 0 ? "unlimited" : bytesPerSecond + " B/s");
    }
    wake.signal(); // an agent waiting for tokens re-evaluates at the new rate
  }

  /** The cap in force, bytes per second; 0 = unlimited. */
  public long bandwidth() {
    return pacer.rate();
  }

  /**
   * Stops shipping and releases the connection, the agent thread and the event loop; idempotent.
   */
  @Override
  public synchronized void close() {
    if (lifecycle == Lifecycle.CLOSED) {
      return;
    }
    lifecycle = Lifecycle.CLOSED;
    agent.close();
  }
}
