package io.kagami.wan.receive;

import io.kagami.wan.frame.WanMessage;
import io.kagami.wan.tls.Tls;
import java.util.concurrent.CompletableFuture;

/**
 * Stores a connection's BATCH frames and acknowledges each once durable. A store is handed to the
 * volume's sink as soon as the previous store was (see {@link VolumeChain}), so one journal sync
 * covers every batch that arrived meanwhile; waiting for each made the standby one sync per batch.
 * ACKs only ever increase per volume and connection.
 *
 * <p>Back-pressure: every batch counts in the connection's {@link InflowGate} until its store
 * settles, so storage that falls behind stops the connection being read instead of growing a queue
 * or blocking the event loop.
 *
 * <p>Threads: the connection's event loop; store outcomes are handed back to it.
 */
final class BatchReceiver {
  private final ReceiveSession session;

  BatchReceiver(ReceiveSession session) {
    this.session = session;
  }

  void batch(WanMessage.Batch b) {
    VolumeLane lane = session.lane("BATCH", b.volume());
    if (lane == null) {
      return;
    }
    long bytes = b.rawBytes();
    session.receivedRaw(bytes);
    session.inflow().received(bytes);
    CompletableFuture<Long> stored =
        lane.chain.thenStore(session.loop(), session::closed, () -> lane.sink.store(b.entries()));
    if (stored != null) {
      stored.whenComplete((seq, err) -> session.onLoop(() -> stored(lane, b, bytes, seq, err)));
    }
  }

  private void stored(VolumeLane lane, WanMessage.Batch b, long bytes, Long seq, Throwable err) {
    session.inflow().settled(bytes);
    if (session.closed()) {
      return;
    }
    if (err != null) {
      session.fail(
          "storing volume "
              + lane.volume
              + " seqs "
              + b.firstSeq()
              + ".."
              + b.lastSeq()
              + " failed: "
              + Tls.explain(ReceiveSession.unwrap(err)),
          true);
      return;
    }
    if (seq == null || seq < b.lastSeq()) {
      session.fail(
          "the journal of volume "
              + lane.volume
              + " reports seq "
              + seq
              + " durable after storing through seq "
              + b.lastSeq(),
          true);
      return;
    }
    lane.chain.durable(seq);
    session.acknowledge(lane, seq);
  }
}
