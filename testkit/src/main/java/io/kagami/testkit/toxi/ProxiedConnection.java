package io.kagami.testkit.toxi;

import java.io.IOException;
import java.net.Socket;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * A client connection accepted by a {@link FaultProxy} and its connection to the upstream: two
 * sockets and the two {@link ToxicLink}s between them. Closes once both directions have ended, on a
 * reset, or when the proxy is disabled or deleted; close is idempotent.
 */
final class ProxiedConnection implements AutoCloseable {
  private final Socket client;
  private final Socket upstream;
  private final ToxicLink upstreamLink;
  private final ToxicLink downstreamLink;
  private final Consumer<ProxiedConnection> onClosed;
  private final AtomicInteger linksFinished = new AtomicInteger();
  private final AtomicBoolean closed = new AtomicBoolean();

  ProxiedConnection(
      Socket client,
      Socket upstream,
      List<ToxicSpec> upstreamChain,
      List<ToxicSpec> downstreamChain,
      Random random,
      Consumer<ProxiedConnection> onClosed) {
    this.client = client;
    this.upstream = upstream;
    this.onClosed = onClosed;
    this.upstreamLink =
        new ToxicLink(
            StreamDirection.UPSTREAM,
            client,
            upstream,
            this,
            new Random(random.nextLong()),
            upstreamChain);
    this.downstreamLink =
        new ToxicLink(
            StreamDirection.DOWNSTREAM,
            upstream,
            client,
            this,
            new Random(random.nextLong()),
            downstreamChain);
  }

  void start(String threadPrefix) {
    upstreamLink.start(threadPrefix);
    downstreamLink.start(threadPrefix);
  }

  ToxicLink link(StreamDirection direction) {
    return direction == StreamDirection.UPSTREAM ? upstreamLink : downstreamLink;
  }

  /** One direction delivered its end: its destination is closed, which ends the other one. */
  void closeSocket(Socket socket) {
    closeQuietly(socket);
  }

  void linkFinished() {
    if (linksFinished.incrementAndGet() == 2) {
      close();
    }
  }

  /** reset_peer: both sides see a TCP RST instead of a FIN. */
  void reset() {
    for (Socket socket : new Socket[] {client, upstream}) {
      try {
        socket.setSoLinger(true, 0);
      } catch (IOException alreadyClosed) {
        // Nothing left to reset on this side.
      }
    }
    close();
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    upstreamLink.stop();
    downstreamLink.stop();
    closeQuietly(client);
    closeQuietly(upstream);
    onClosed.accept(this);
  }

  private static void closeQuietly(Socket socket) {
    try {
      socket.close();
    } catch (IOException ignored) {
      // Closing a socket releases it even when the close reports an error.
    }
  }
}
