package io.kagami.wan.receive;

import io.kagami.wan.frame.MalformedFrameException;
import io.kagami.wan.frame.WanMessage;
import io.kagami.wan.tls.HandshakeFailure;
import io.kagami.wan.tls.Tls;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.concurrent.EventExecutor;
import java.lang.System.Logger.Level;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * One primary's connection, the last stage of its pipeline: dispatches each frame to the role that
 * handles it — {@link PeerAdmission} (HELLO → WELCOME), {@link BatchReceiver} (BATCH → ACK), {@link
 * ResyncReceiver} (RESYNC, REGION, REGION_SUM, RESYNC_END → REGION_WANTED, REGIONS_DURABLE) and
 * {@link HandoverReceiver} (HANDOVER → HANDED_OVER) — and ends the connection, once, with one
 * logged reason: a frame out of place, a failed store, a silent peer.
 *
 * <p>Threads: runs on the connection's event loop ({@code kagami-recv-<site>-io-N}) and never
 * blocks. Storage answers arrive on the sinks' threads and are handed back with {@link #onLoop};
 * {@link #retire} is the only method called from elsewhere. State lives on the event loop unless
 * marked volatile.
 */
final class ReceiveSession extends SimpleChannelInboundHandler<WanMessage> {
  private static final System.Logger LOG = System.getLogger(Receiver.class.getName());

  private final Receiver receiver;
  private final PeerAdmission admission;
  private final BatchReceiver batches;
  private final ResyncReceiver resyncs;
  private final HandoverReceiver handovers;
  private ChannelHandlerContext ctx;
  private Executor loop;
  private InflowGate inflow;
  private volatile boolean closed; // no more storage steps for this connection
  private volatile boolean
      retired; // closed by this side: replaced by a newer connection, or shutting down
  private volatile boolean welcomed;
  private volatile String siteId;
  private volatile String remote = "?";
  private volatile String host = "?"; // the client's IP: the key of the per-address log limit
  private volatile Instant since;
  private boolean failed;
  private Map<String, VolumeLane> lanes;

  ReceiveSession(Receiver receiver) {
    this.receiver = receiver;
    this.admission = new PeerAdmission(this, receiver);
    this.batches = new BatchReceiver(this);
    this.resyncs = new ResyncReceiver(this);
    this.handovers = new HandoverReceiver(this, receiver.catalog());
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    this.remote = Receiver.address(ctx.channel().remoteAddress());
    this.host =
        ctx.channel().remoteAddress() instanceof java.net.InetSocketAddress i
                && i.getAddress() != null
            ? i.getAddress().getHostAddress()
            : remote;
    this.inflow = new InflowGate(ctx.channel().config(), receiver.config().maxUnstoredBytes());
    EventExecutor executor = ctx.executor();
    // Storage steps start on this loop: at once when queued here, else handed over when the
    // previous step completes on a storage thread. When the loop is gone (the receiver closed, so
    // this connection is closed too), a step still runs, only to see the connection closed.
    this.loop =
        task -> {
          if (executor.inEventLoop()) {
            task.run();
            return;
          }
          try {
            executor.execute(task);
          } catch (RejectedExecutionException e) {
            task.run();
          }
        };
    receiver.opened(this);
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, WanMessage msg) {
    if (closed) {
      return;
    }
    switch (msg) {
      case WanMessage.Hello h -> admission.hello(h);
      case WanMessage.Batch b -> batches.batch(b);
      case WanMessage.Resync r -> resyncs.resync(r);
      case WanMessage.Region r -> resyncs.region(r);
      case WanMessage.RegionSum r -> resyncs.regionSum(r);
      case WanMessage.RegionWanted w ->
          fail("a primary sent REGION_WANTED, which only a standby sends", true);
      case WanMessage.ResyncEnd e -> resyncs.resyncEnd(e);
      case WanMessage.RegionsDurable d ->
          fail("a primary sent REGIONS_DURABLE, which only a standby sends", true);
      case WanMessage.Heartbeat h -> {
        resyncs.flushRegionAcks();
        heads(h);
      }
      case WanMessage.Refuse r -> fail("the primary gave up the link: " + r.reason(), false);
      case WanMessage.Welcome w ->
          fail("a primary sent a WELCOME, which only a standby sends", true);
      case WanMessage.Ack a -> fail("a primary sent an ACK, which only a standby sends", true);
      case WanMessage.Handover h -> handovers.handover(h);
      case WanMessage.HandedOver h ->
          fail("a primary sent HANDED_OVER, which only a standby sends", true);
    }
  }

  /** Hands each volume's journal head to its sink (only once WELCOME made the lanes). */
  private void heads(WanMessage.Heartbeat h) {
    Map<String, VolumeLane> l = lanes;
    if (l == null) {
      return;
    }
    for (WanMessage.VolumeHead head : h.heads()) {
      VolumeLane lane = l.get(head.volume());
      if (lane != null) {
        lane.sink.primaryHead(head);
      }
    }
  }

  // ---- what the roles share (event loop) ----

  ChannelHandlerContext ctx() {
    return ctx;
  }

  /** Runs storage steps on this connection's event loop (see {@link VolumeChain}). */
  Executor loop() {
    return loop;
  }

  InflowGate inflow() {
    return inflow;
  }

  boolean closed() {
    return closed;
  }

  boolean helloSeen() {
    return admission.helloSeen();
  }

  String siteId() {
    return siteId;
  }

  String remote() {
    return remote;
  }

  Instant since() {
    return since;
  }

  boolean welcomed() {
    return welcomed;
  }

  /** HELLO was accepted and WELCOME is being sent: the lanes serve from now on. */
  void welcomed(String siteId, Map<String, VolumeLane> lanes, Instant since) {
    this.siteId = siteId;
    this.lanes = lanes;
    this.since = since;
    this.welcomed = true;
  }

  /** The peer is named (its HELLO passed every check): failures are logged under its site id. */
  void named(String siteId) {
    this.siteId = siteId;
  }

  /** The lanes after WELCOME; null before. */
  Map<String, VolumeLane> lanes() {
    return lanes;
  }

  /** The lane of {@code volume}, or null after failing the connection for a frame out of place. */
  VolumeLane lane(String frame, String volume) {
    if (lanes == null) {
      fail(frame + " before " + (helloSeen() ? "WELCOME" : "HELLO"), true);
      return null;
    }
    VolumeLane lane = lanes.get(volume);
    if (lane == null) {
      fail(frame + " for volume " + volume + ", which was not offered in HELLO", true);
    }
    return lane;
  }

  /** Acknowledges {@code seq} of the lane's volume unless an ACK at or past it was sent. */
  void acknowledge(VolumeLane lane, long seq) {
    if (seq > lane.acked) {
      lane.acked = seq;
      send(new WanMessage.Ack(lane.volume, seq));
    }
  }

  void send(WanMessage m) {
    ctx.writeAndFlush(m, ctx.voidPromise());
  }

  /** Runs {@code r} on this connection's event loop; dropped when the loop is gone (closing). */
  void onLoop(Runnable r) {
    try {
      ctx.executor().execute(r);
    } catch (RejectedExecutionException e) {
      // Shutting down: the connection is gone with its event loop.
    }
  }

  void receivedRaw(long bytes) {
    receiver.receivedRaw(bytes);
  }

  /** Closes this connection for the reason given; logs once, sends a REFUSE when TLS is up. */
  void fail(String reason, boolean refuse) {
    if (failed || retired) {
      // Already ending (failed, replaced or shutting down): what follows is an echo of that.
      closed = true;
      failed = true;
      ctx.close();
      return;
    }
    closed = true;
    failed = true;
    receiver.failed(reason);
    receiver
        .peerLog()
        .log(
            LOG,
            Level.WARNING,
            host,
            "WAN peer {0}{1}: {2}; closing the connection",
            remote,
            siteId == null ? "" : " (" + siteId + ")",
            reason);
    SslHandler tls = ctx.pipeline().get(SslHandler.class);
    if (refuse && ctx.channel().isActive() && tls != null && tls.handshakeFuture().isSuccess()) {
      ctx.writeAndFlush(new WanMessage.Refuse(reason)).addListener(ChannelFutureListener.CLOSE);
    } else {
      ctx.close();
    }
  }

  /** Ends this connection from outside its event loop: replaced by a newer one, or closing. */
  void retire() {
    retired = true;
    closed = true;
    ChannelHandlerContext c = ctx;
    if (c != null) {
      c.channel().close();
    }
  }

  /** The cause of a storage failure, without the future's wrapping. */
  static Throwable unwrap(Throwable t) {
    while ((t instanceof CompletionException || t instanceof ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (evt instanceof SslHandshakeCompletionEvent e && !e.isSuccess()) {
      handshakeFailed(e.cause());
    } else if (evt instanceof IdleStateEvent e) {
      // While reads are paused for storage to catch up, silence is ours, not the primary's.
      if (e.state() == IdleState.READER_IDLE && !inflow.paused()) {
        fail(
            "no frame for " + receiver.config().heartbeat().multipliedBy(3).toMillis() + " ms",
            true);
      } else if (e.state() == IdleState.WRITER_IDLE && welcomed) {
        ctx.writeAndFlush(new WanMessage.Heartbeat(), ctx.voidPromise());
      }
    }
    super.userEventTriggered(ctx, evt);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    SslHandler tls = ctx.pipeline().get(SslHandler.class);
    if (cause instanceof MalformedFrameException m) {
      fail(m.getMessage(), true);
    } else if (tls != null && !tls.handshakeFuture().isSuccess()) {
      handshakeFailed(cause);
    } else {
      fail(Tls.explain(cause), false);
    }
  }

  /**
   * The TLS handshake failed: one line with the true reason (see {@link HandshakeFailure}). A
   * connection closed before the handshake completed is an expected network event (a port scan, a
   * health check, a peer going away): logged at INFO without a stack trace, and not recorded as the
   * link's last error.
   */
  private void handshakeFailed(Throwable cause) {
    HandshakeFailure f = HandshakeFailure.accepted(cause, remote);
    if (!f.closed()) {
      fail("TLS handshake failed: " + f.text(), false);
      return;
    }
    boolean echo = failed || retired;
    closed = true;
    failed = true;
    if (!echo) {
      receiver.peerLog().log(LOG, Level.INFO, host, "WAN peer {0}: {1}", remote, f.text());
    }
    ctx.close();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    closed = true;
    receiver.ended(this);
    if (siteId != null && !failed && welcomed) {
      LOG.log(Level.INFO, "WAN peer {0} ({1}) disconnected", siteId, remote);
    }
    super.channelInactive(ctx);
  }
}
