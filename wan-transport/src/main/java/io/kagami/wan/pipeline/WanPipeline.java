package io.kagami.wan.pipeline;

import io.kagami.wan.frame.ByteCounter;
import io.kagami.wan.frame.WanCodec;
import io.netty.channel.ChannelHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateHandler;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * Builds the pipeline of one WAN connection, the same at both ends:
 *
 * <pre>
 *   socket ─ "bytes"  ByteCounter        wire bytes as the WAN carries them (after TLS)
 *          ─ "tls"    SslHandler         mutual TLS 1.3 with pinned certificates
 *          ─ "codec"  WanCodec           length-prefixed, versioned frames ⇄ WanMessage
 *          ─ "idle"   IdleStateHandler   READER_IDLE after 3 heartbeats without a frame,
 *                                        WRITER_IDLE after one heartbeat without a write
 *          ─ name     the end's handler  (shipper: "link", receiver: "session")
 * </pre>
 *
 * <p>The idle stage only raises {@link io.netty.handler.timeout.IdleStateEvent}s; what they mean is
 * the end's own business and stays in its handler: on WRITER_IDLE, once the link is established, it
 * sends a HEARTBEAT (so the peer's READER_IDLE fires only when this side is really gone); on
 * READER_IDLE it closes the connection (the receiver only while it is reading: its own
 * back-pressure pauses reading and must not look like a silent peer).
 *
 * <p>Immutable and stateless apart from the shared {@link ByteCounter}, which counts every
 * connection of one shipper or receiver: build one per shipper (per peer) or per receiver, never
 * one for the process. {@link #install} runs on the channel's event loop (from a {@code
 * ChannelInitializer}) and never blocks.
 */
public final class WanPipeline {
  private final ByteCounter wire;
  private final SslContext ssl;
  private final String peerHost;
  private final int peerPort;
  private final int maxFrameBytes;
  private final Duration heartbeat;

  private WanPipeline(
      ByteCounter wire,
      SslContext ssl,
      String peerHost,
      int peerPort,
      int maxFrameBytes,
      Duration heartbeat) {
    this.wire = Objects.requireNonNull(wire, "byte counter");
    this.ssl = Objects.requireNonNull(ssl, "TLS context");
    this.peerHost = peerHost;
    this.peerPort = peerPort;
    this.maxFrameBytes = maxFrameBytes;
    this.heartbeat =
        Objects.requireNonNull(heartbeat, "heartbeat"); // validated by the end's config
  }

  /**
   * The connecting end (a primary's shipper): TLS client that names {@code host:port} to its engine
   * (SNI and session resumption key), checking the standby against {@code ssl}'s pinned
   * certificate.
   */
  public static WanPipeline client(
      ByteCounter wire,
      SslContext ssl,
      String host,
      int port,
      int maxFrameBytes,
      Duration heartbeat) {
    return new WanPipeline(
        wire, ssl, Objects.requireNonNull(host, "peer host"), port, maxFrameBytes, heartbeat);
  }

  /**
   * The accepting end (a standby's receiver): TLS server that requires a pinned client certificate.
   */
  public static WanPipeline server(
      ByteCounter wire, SslContext ssl, int maxFrameBytes, Duration heartbeat) {
    return new WanPipeline(wire, ssl, null, -1, maxFrameBytes, heartbeat);
  }

  /** Adds the stages above to {@code ch}, then {@code handler} under {@code name}. */
  public void install(SocketChannel ch, String name, ChannelHandler handler) {
    SslHandler tls =
        peerHost == null
            ? ssl.newHandler(ch.alloc())
            : ssl.newHandler(ch.alloc(), peerHost, peerPort);
    long hb = heartbeat.toMillis();
    ch.pipeline()
        .addLast("bytes", wire)
        .addLast("tls", tls)
        .addLast("codec", new WanCodec(maxFrameBytes))
        .addLast("idle", new IdleStateHandler(3 * hb, hb, 0, TimeUnit.MILLISECONDS))
        .addLast(name, handler);
  }
}
