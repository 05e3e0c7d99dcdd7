package io.kagami.wan.ship;

import io.kagami.wan.frame.MalformedFrameException;
import io.kagami.wan.frame.WanMessage;
import io.kagami.wan.tls.HandshakeFailure;
import io.kagami.wan.tls.Tls;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The last stage of one shipper connection's pipeline: everything the standby sends. It completes
 * the WELCOME the agent waits for, applies ACK and REGIONS_DURABLE to the volumes' windows, queues
 * REGION_WANTED for the region copier, answers the switchover ({@link HandoverStep}), sends a
 * HEARTBEAT when the link is idle, and wakes the agent whenever one of these or a writability
 * change may let it send more.
 *
 * <p>Anything a standby must not send (a primary's frame, an ACK before WELCOME or beyond what was
 * sent, a volume that was not offered, a malformed frame) closes the connection with the reason as
 * the operator should read it ({@link #reason()}); the agent then reconnects and resumes from the
 * standby's durable point. Acknowledging beyond what was sent is refused in particular because a
 * source told "durable" might trim what the standby lacks (fail closed).
 *
 * <p>Thread: the connection's event loop. It never blocks and never calls a {@link ShipSource}
 * method but {@link ShipSource#acknowledged} and {@link ShipSource#head} (which must not block).
 * After WELCOME it sends a HEARTBEAT with every volume's journal head each heartbeat interval. One
 * instance per connection; once the agent {@linkplain #retire() retires} it, late frames are
 * ignored.
 */
final class InboundFrameHandler extends SimpleChannelInboundHandler<WanMessage> {
  private final Map<String, VolumeStream> byName;
  private final WakeSignal wake;
  private final HandoverStep handover;
  private final Duration heartbeat;
  private final CompletableFuture<WanMessage.Welcome> welcome = new CompletableFuture<>();
  private volatile String reason;
  private volatile boolean retired;

  /** Sends the journal heads every heartbeat interval while the link is up (event loop). */
  private ScheduledFuture<?> heads;

  InboundFrameHandler(
      Map<String, VolumeStream> byName,
      WakeSignal wake,
      HandoverStep handover,
      Duration heartbeat) {
    this.byName = byName;
    this.wake = wake;
    this.handover = handover;
    this.heartbeat = heartbeat;
  }

  /** Completes with the standby's WELCOME; fails with the reason when the connection ends first. */
  CompletableFuture<WanMessage.Welcome> welcome() {
    return welcome;
  }

  /** Why this connection ended, as the operator should read it. */
  String reason() {
    String r = reason;
    return r != null ? r : "the standby closed the connection";
  }

  /** Agent: this connection was given up; frames still arriving on it change nothing. */
  void retire() {
    retired = true;
  }

  private void drop(ChannelHandlerContext ctx, String why) {
    if (reason == null) {
      reason = why;
    }
    ctx.close();
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, WanMessage msg) {
    if (retired) {
      return; // a late frame from a connection already given up
    }
    switch (msg) {
      case WanMessage.Welcome w -> {
        if (!welcome.complete(w)) {
          drop(ctx, "the standby sent a second WELCOME");
        } else {
          // Heads go out every interval even while batches stream, so a standby that loses this
          // primary knows how far behind it was at most an interval before.
          long every = heartbeat.toMillis();
          heads =
              ctx.executor()
                  .scheduleAtFixedRate(
                      () -> sendHeartbeat(ctx), every, every, TimeUnit.MILLISECONDS);
        }
      }
      case WanMessage.Ack a -> {
        if (!welcome.isDone()) {
          drop(ctx, "the standby sent an ACK before WELCOME");
        } else {
          ack(ctx, a);
        }
      }
      case WanMessage.RegionsDurable d -> regionsDurable(ctx, d);
      case WanMessage.RegionWanted w -> regionWanted(ctx, w);
      case WanMessage.RegionSum r ->
          drop(ctx, "the standby sent a REGION_SUM, which only a primary sends");
      case WanMessage.Refuse r -> {
        handover.refused(r.reason());
        drop(ctx, "the standby refused the link: " + r.reason());
      }
      case WanMessage.HandedOver h -> {
        if (!handover.handedOver()) {
          drop(ctx, "the standby sent HANDED_OVER without a HANDOVER");
        }
      }
      case WanMessage.Handover h ->
          drop(ctx, "the standby sent a HANDOVER, which only a primary sends");
      case WanMessage.Heartbeat h -> {}
      case WanMessage.Resync r ->
          drop(ctx, "the standby sent a RESYNC, which only a primary sends");
      case WanMessage.Region r ->
          drop(ctx, "the standby sent a REGION, which only a primary sends");
      case WanMessage.ResyncEnd e ->
          drop(ctx, "the standby sent a RESYNC_END, which only a primary sends");
      case WanMessage.Hello h -> drop(ctx, "the standby sent a HELLO, which only a primary sends");
      case WanMessage.Batch b -> drop(ctx, "the standby sent a BATCH, which only a primary sends");
    }
  }

  private void ack(ChannelHandlerContext ctx, WanMessage.Ack a) {
    VolumeStream v = byName.get(a.volume());
    if (v == null) {
      drop(ctx, "the standby acknowledged volume " + a.volume() + ", which was not offered");
      return;
    }
    if (!v.onAck(a.durableSeq())) {
      drop(
          ctx,
          "the standby acknowledged volume "
              + v.name
              + " through seq "
              + a.durableSeq()
              + ", but only seq "
              + v.lastSent
              + " was sent");
      return;
    }
    wake.signal();
  }

  private void regionsDurable(ChannelHandlerContext ctx, WanMessage.RegionsDurable d) {
    VolumeStream v = byName.get(d.volume());
    if (v == null) {
      drop(
          ctx,
          "the standby acknowledged regions of volume " + d.volume() + ", which was not offered");
      return;
    }
    if (!v.window.regionsDurable(d.count())) {
      drop(
          ctx,
          "the standby acknowledged "
              + d.count()
              + " regions of volume "
              + v.name
              + ", but only "
              + v.window.regionsSent()
              + " were sent");
      return;
    }
    wake.signal();
  }

  private void regionWanted(ChannelHandlerContext ctx, WanMessage.RegionWanted w) {
    VolumeStream v = byName.get(w.volume());
    if (v == null) {
      drop(ctx, "the standby wants a region of volume " + w.volume() + ", which was not offered");
    } else if (w.offset() >= v.source.sizeBytes()) {
      drop(
          ctx,
          "the standby wants a region at offset "
              + w.offset()
              + ", beyond volume "
              + v.name
              + "'s "
              + v.source.sizeBytes()
              + " bytes");
    } else {
      v.copier.requested(w.offset());
      wake.signal();
    }
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (evt instanceof IdleStateEvent e) {
      if (e.state() == IdleState.READER_IDLE) {
        drop(ctx, "no frame from the standby for " + heartbeat.multipliedBy(3).toMillis() + " ms");
      } else if (e.state() == IdleState.WRITER_IDLE && welcome.isDone()) {
        sendHeartbeat(ctx);
      }
    }
    super.userEventTriggered(ctx, evt);
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
    wake.signal();
    super.channelWritabilityChanged(ctx);
  }

  /** A HEARTBEAT with every offered volume's journal head (see {@link ShipSource#head}). */
  private void sendHeartbeat(ChannelHandlerContext ctx) {
    if (retired || !ctx.channel().isActive()) {
      return;
    }
    List<WanMessage.VolumeHead> list = new ArrayList<>(byName.size());
    for (VolumeStream v : byName.values()) {
      list.add(v.source.head());
    }
    ctx.writeAndFlush(new WanMessage.Heartbeat(list), ctx.voidPromise());
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    if (heads != null) {
      heads.cancel(false);
    }
    welcome.completeExceptionally(new IOException(reason()));
    handover.linkEnded(reason());
    wake.signal();
    super.channelInactive(ctx);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    String why;
    if (cause instanceof MalformedFrameException) {
      why = "the standby sent a malformed frame: " + cause.getMessage();
    } else if (cause instanceof IOException && !(cause instanceof javax.net.ssl.SSLException)) {
      why = "connection to the standby lost: " + Tls.explain(cause);
    } else {
      // In TLS 1.3 the standby checks this site's certificate after our side of the handshake
      // completed: its refusal arrives here, as an alert, and is named as such.
      HandshakeFailure f =
          HandshakeFailure.dialed(cause, String.valueOf(ctx.channel().remoteAddress()));
      why = f.kind() == HandshakeFailure.Kind.OTHER ? Tls.explain(cause) : f.text();
    }
    drop(ctx, why);
  }
}
