package io.kagami.wan.receive;

import io.kagami.wan.frame.WanMessage;
import io.kagami.wan.tls.Tls;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The standby's side of a planned switchover on one connection: on HANDOVER, once everything queued
 * for the named volumes has settled, the catalog takes over (records this site as the primary);
 * HANDED_OVER then tells the old primary to step down, and the catalog is told it went out. A
 * HANDOVER must name every volume of the link.
 *
 * <p>Threads: the connection's event loop; the catalog's answer is handed back to it.
 */
final class HandoverReceiver {
  private static final System.Logger LOG = System.getLogger(Receiver.class.getName());

  private final ReceiveSession session;
  private final ReceiverCatalog catalog;

  HandoverReceiver(ReceiveSession session, ReceiverCatalog catalog) {
    this.session = session;
    this.catalog = catalog;
  }

  void handover(WanMessage.Handover h) {
    Map<String, VolumeLane> lanes = session.lanes();
    if (lanes == null) {
      session.fail("HANDOVER before " + (session.helloSeen() ? "WELCOME" : "HELLO"), true);
      return;
    }
    Map<String, Long> ends = new LinkedHashMap<>();
    List<CompletableFuture<?>> settled = new ArrayList<>();
    for (WanMessage.VolumeEnd v : h.volumes()) {
      VolumeLane lane = lanes.get(v.name());
      if (lane == null) {
        session.fail(
            "HANDOVER names volume " + v.name() + ", which was not offered in HELLO", true);
        return;
      }
      ends.put(v.name(), v.endSeq());
      settled.add(lane.chain.settled());
    }
    if (ends.size() != lanes.size()) {
      session.fail(
          "HANDOVER names "
              + ends.size()
              + " of the "
              + lanes.size()
              + " volumes of this link; a switchover hands over all of them",
          true);
      return;
    }
    String site = session.siteId();
    LOG.log(Level.INFO, "WAN peer {0}: switchover requested; taking over {1}", site, ends);
    CompletableFuture.allOf(settled.toArray(CompletableFuture[]::new))
        .thenComposeAsync(x -> catalog.handover(site, ends), session.loop())
        .whenComplete(
            (x, err) ->
                session.onLoop(
                    () -> {
                      if (err != null) {
                        session.fail(
                            "switchover refused: " + Tls.explain(ReceiveSession.unwrap(err)), true);
                      } else if (!session.closed()) {
                        session
                            .ctx()
                            .writeAndFlush(new WanMessage.HandedOver())
                            .addListener(w -> catalog.handedOver(site));
                      }
                    }));
  }
}
