package io.kagami.wan.receive;

import io.kagami.wan.frame.WanCodec;
import io.kagami.wan.frame.WanMessage;
import io.kagami.wan.tls.SiteCredentials;
import io.kagami.wan.tls.Tls;
import io.netty.handler.ssl.SslHandler;
import java.lang.System.Logger.Level;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import javax.net.ssl.SSLPeerUnverifiedException;

/**
 * Admits a primary on one connection: checks its HELLO (protocol version, the site id against the
 * certificate that presented it, each volume against the {@link ReceiverCatalog}), has each
 * volume's sink check the primary's data generation, routes the peer to its {@link PeerRoute}
 * (replacing an older connection of the same peer), and answers WELCOME with each volume's resume
 * point once everything queued for the volume before has settled.
 *
 * <p>Threads: the connection's event loop; never blocks. The generation checks run in HELLO order
 * on the sinks' own threads — a failback's save of the diverged history may take minutes — while
 * the event loop goes on serving every other connection; their outcome is handed back to the loop.
 * A refusal names the reason in a REFUSE and closes only this connection.
 */
final class PeerAdmission {
  private static final System.Logger LOG = System.getLogger(Receiver.class.getName());

  private final ReceiveSession session;
  private final Receiver receiver;
  private boolean helloSeen;

  PeerAdmission(ReceiveSession session, Receiver receiver) {
    this.session = session;
    this.receiver = receiver;
  }

  boolean helloSeen() {
    return helloSeen;
  }

  void hello(WanMessage.Hello h) {
    if (helloSeen) {
      session.fail("second HELLO on one connection", true);
      return;
    }
    helloSeen = true;
    if (receiver.closing()) {
      session.fail("the standby is shutting down", true);
      return;
    }
    if (h.version() != WanCodec.VERSION) {
      session.fail(
          "protocol version "
              + h.version()
              + " is not supported (this side speaks version "
              + WanCodec.VERSION
              + ")",
          true);
      return;
    }
    String cn;
    try {
      Certificate[] chain =
          session
              .ctx()
              .pipeline()
              .get(SslHandler.class)
              .engine()
              .getSession()
              .getPeerCertificates();
      cn = SiteCredentials.commonName((X509Certificate) chain[0]);
    } catch (SSLPeerUnverifiedException e) {
      session.fail("no verified client certificate", true);
      return;
    }
    if (!cn.equals(h.siteId())) {
      session.fail(
          "HELLO claims site \"" + h.siteId() + "\" but the certificate is for \"" + cn + "\"",
          true);
      return;
    }
    Map<String, ReceiveSink> sinks = new LinkedHashMap<>();
    for (WanMessage.VolumeOffer v : h.volumes()) {
      if (sinks.containsKey(v.name())) {
        session.fail("HELLO offers volume " + v.name() + " twice", true);
        return;
      }
      ReceiveSink sink;
      try {
        sink = receiver.catalog().sink(h.siteId(), v.name(), v.sizeBytes());
      } catch (LinkRefusedException e) {
        session.fail(e.getMessage(), true);
        return;
      } catch (RuntimeException e) {
        session.fail("the standby cannot look up volume " + v.name() + ": " + Tls.explain(e), true);
        return;
      }
      if (sink == null) {
        session.fail("the standby has no journal for volume " + v.name(), true);
        return;
      }
      sinks.put(v.name(), sink);
    }
    // One volume after the other, as offered: the first refusal stops the rest.
    CompletableFuture<Void> accepted = CompletableFuture.completedFuture(null);
    for (WanMessage.VolumeOffer v : h.volumes()) {
      ReceiveSink sink = sinks.get(v.name());
      accepted =
          accepted.thenComposeAsync(
              x ->
                  session.closed()
                      ? CompletableFuture.failedFuture(
                          new CancellationException("connection closed"))
                      : sink.acceptGeneration(
                          v.generation(), v.priorGeneration(), v.priorGenerationEnd()),
              session.loop());
    }
    accepted.whenComplete((x, err) -> session.onLoop(() -> accepted(h.siteId(), sinks, err)));
  }

  /**
   * Every generation check answered (or the first refusal): route the peer and resume its volumes.
   */
  private void accepted(String siteId, Map<String, ReceiveSink> sinks, Throwable err) {
    if (session.closed()) {
      return;
    }
    if (err != null) {
      Throwable cause = ReceiveSession.unwrap(err);
      if (cause instanceof LinkRefusedException refused) {
        session.fail(refused.getMessage(), true);
      } else {
        session.fail(Tls.explain(cause), false);
      }
      return;
    }
    session.named(siteId);
    PeerRoute route = receiver.route(siteId);
    ReceiveSession previous = route.attach(session);
    if (previous != null) {
      // A primary reconnecting over a half-open connection: the new link wins.
      LOG.log(
          Level.INFO,
          "WAN peer {0} reconnected from {1}; closing its previous connection from {2}",
          siteId,
          session.remote(),
          previous.remote());
      previous.retire();
    }
    // Each volume resumes where its journal stands once everything queued before has settled.
    Map<String, VolumeLane> lanes = new LinkedHashMap<>();
    Map<String, CompletableFuture<ReceiveSink.Resume>> resumes = new LinkedHashMap<>();
    for (Map.Entry<String, ReceiveSink> e : sinks.entrySet()) {
      VolumeChain chain = route.chain(e.getKey());
      ReceiveSink sink = e.getValue();
      if (session.closed()) {
        return;
      }
      resumes.put(e.getKey(), chain.takeOver(session, session.loop(), sink::resume));
      lanes.put(e.getKey(), new VolumeLane(chain, sink));
    }
    CompletableFuture.allOf(resumes.values().toArray(CompletableFuture[]::new))
        .whenComplete((x, err2) -> session.onLoop(() -> welcome(siteId, lanes, resumes, err2)));
  }

  private void welcome(
      String siteId,
      Map<String, VolumeLane> lanes,
      Map<String, CompletableFuture<ReceiveSink.Resume>> resumes,
      Throwable err) {
    if (session.closed()) {
      return;
    }
    if (err != null) {
      session.fail(
          "cannot read where the volumes resume: " + Tls.explain(ReceiveSession.unwrap(err)), true);
      return;
    }
    List<WanMessage.VolumeResume> list = new ArrayList<>();
    StringJoiner from = new StringJoiner(", ");
    for (VolumeLane lane : lanes.values()) {
      ReceiveSink.Resume r = resumes.get(lane.volume).join();
      long seq = r.lastDurableSeq();
      lane.acked = seq;
      lane.chain.durable(seq);
      list.add(new WanMessage.VolumeResume(lane.volume, seq, r.generation(), r.diverged()));
      from.add(lane.volume + " after seq " + seq);
    }
    session.welcomed(siteId, lanes, receiver.clock().instant());
    LOG.log(
        Level.INFO,
        "WAN peer {0} ({1}) connected; resuming {2}",
        siteId,
        session.remote(),
        from.length() == 0 ? "no volumes" : from.toString());
    session.send(new WanMessage.Welcome(receiver.config().siteId(), list));
  }
}
