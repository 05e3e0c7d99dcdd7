package io.kagami.replicator.nbd;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.io.IOException;
import java.lang.System.Logger.Level;

/**
 * Last stage of every NBD connection's pipeline: whatever failure reaches it (a protocol violation,
 * a reset socket, a bug) ends this one connection with one log line naming the peer and the reason
 * (rate-limited per client address by the server's {@link ClientLog}), and never propagates
 * further. Other connections are not affected.
 *
 * <p>Confined to the channel's event loop, like every pipeline stage.
 */
final class NbdConnectionGuard extends ChannelInboundHandlerAdapter {
  private static final System.Logger LOG = System.getLogger(NbdConnectionGuard.class.getName());

  private final ClientLog clientLog;
  private boolean reported;

  NbdConnectionGuard(ClientLog clientLog) {
    this.clientLog = clientLog;
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (!reported) {
      reported = true;
      Object peer = ctx.channel().remoteAddress();
      if (cause instanceof NbdProtocolException) {
        clientLog.log(
            LOG,
            Level.WARNING,
            ctx.channel().remoteAddress(),
            "NBD client {0}: {1}; closing the connection",
            peer,
            cause.getMessage());
      } else if (cause instanceof IOException) {
        // The peer went away (reset, broken pipe); the session logs what was lost, if anything.
        LOG.log(Level.DEBUG, "NBD client {0}: connection lost: {1}", peer, cause.toString());
      } else {
        clientLog.log(
            LOG,
            Level.WARNING,
            ctx.channel().remoteAddress(),
            "NBD client " + peer + ": unexpected failure; closing the connection",
            cause);
      }
    }
    ctx.close();
  }
}
