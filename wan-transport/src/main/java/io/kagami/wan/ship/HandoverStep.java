package io.kagami.wan.ship;

import io.kagami.wan.frame.WanMessage;
import io.kagami.wan.tls.Tls;
import io.netty.channel.Channel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The primary's side of a planned switchover on one link: checks that the standby acknowledged
 * every volume through its end, sends HANDOVER after the last BATCH, and completes the returned
 * future when the standby answers HANDED_OVER. It fails with a {@link HandoverException} whose
 * {@link HandoverException.Kind kind} says what is known of the standby: nothing was sent, the
 * standby refused (and changed nothing), or no answer came (it may have taken over).
 *
 * <p>Threads: {@link #begin} runs on the caller's thread (the switchover's); the answers arrive on
 * the event loop ({@link #refused}, {@link #handedOver}, {@link #linkEnded}), which only completes
 * the future. Nothing here blocks. One switchover at a time per link (the site serializes them).
 */
final class HandoverStep {
  /**
   * The switchover in progress, or null: completes on HANDED_OVER, fails on REFUSE or a lost
   * connection.
   */
  private volatile CompletableFuture<Void> pending;

  /**
   * Sends HANDOVER with {@code endSeqs} (every volume's last seq) on {@code ch}, which must be the
   * up and welcomed connection ({@code connected}).
   */
  CompletableFuture<Void> begin(
      Channel ch, boolean connected, List<VolumeStream> volumes, Map<String, Long> endSeqs) {
    if (!connected || ch == null || !ch.isActive()) {
      return CompletableFuture.failedFuture(
          new HandoverException(
              HandoverException.Kind.NOT_SENT, "the link to the standby is down"));
    }
    List<WanMessage.VolumeEnd> ends = new ArrayList<>();
    for (VolumeStream v : volumes) {
      Long end = endSeqs.get(v.name);
      if (end == null) {
        return CompletableFuture.failedFuture(
            new IllegalArgumentException("the switchover does not name volume " + v.name));
      }
      long acked = v.window.acked();
      if (acked < end) {
        return CompletableFuture.failedFuture(
            new HandoverException(
                HandoverException.Kind.NOT_SENT,
                "the standby holds volume "
                    + v.name
                    + " only through seq "
                    + acked
                    + ", not "
                    + end));
      }
      ends.add(new WanMessage.VolumeEnd(v.name, end));
    }
    CompletableFuture<Void> f = new CompletableFuture<>();
    pending = f;
    ch.writeAndFlush(new WanMessage.Handover(ends))
        .addListener(
            w -> {
              if (!w.isSuccess()) {
                f.completeExceptionally(
                    new HandoverException(
                        HandoverException.Kind.UNANSWERED,
                        "sending HANDOVER failed: " + Tls.explain(w.cause()),
                        w.cause()));
              }
            });
    return f;
  }

  /** Event loop: the standby sent REFUSE with {@code reason}. */
  void refused(String reason) {
    CompletableFuture<Void> f = pending;
    if (f != null) {
      f.completeExceptionally(
          new HandoverException(HandoverException.Kind.REFUSED, "the standby refused: " + reason));
    }
  }

  /** Event loop: the standby sent HANDED_OVER; false when no switchover was waiting for it. */
  boolean handedOver() {
    CompletableFuture<Void> f = pending;
    return f != null && f.complete(null);
  }

  /** Event loop: the connection ended for {@code reason}; a switchover still waiting learns it. */
  void linkEnded(String reason) {
    CompletableFuture<Void> f = pending;
    if (f != null) {
      f.completeExceptionally(
          new HandoverException(
              HandoverException.Kind.UNANSWERED,
              "the link to the standby ended before it answered the switchover: " + reason));
    }
  }
}
