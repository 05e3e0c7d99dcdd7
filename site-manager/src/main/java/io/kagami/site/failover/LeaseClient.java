package io.kagami.site.failover;

import io.kagami.clock.NanoClock;
import io.kagami.failover.witness.LeaseReply;
import io.kagami.site.auth.BearerToken;
import io.kagami.site.config.FailoverSettings;
import io.kagami.site.witness.LeaseService;
import io.kagami.site.witness.WitnessClient;
import io.kagami.site.witness.etcd.EtcdWitnessClient;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Function;

/**
 * This site's lease at the witness (the built-in one, or an etcd cluster: whichever {@link
 * LeaseService} the configuration names): sends renew, claim and release for the pair's group and
 * remembers the witness's last answer, the last grant and the last error for the status. Without a
 * witness configured every request answers "no answer" at once.
 *
 * <p>Never blocks: each request returns a future that completes on the HTTP client's threads with
 * an {@link Answer} (the reply, or none when the witness could not be reached or answered badly;
 * the error is kept for the status), stamped with the policy clock's instant the request was
 * <em>sent</em>, which is what counts as lease evidence. Unexpected failures complete it
 * exceptionally. Thread-safe. {@link #start()} reads the witness token and opens the HTTP client;
 * {@link #close()} closes it (requests in flight then fail).
 */
final class LeaseClient implements AutoCloseable {
  /** One request's outcome: {@code reply} is null when the witness did not answer. */
  record Answer(LeaseReply reply, Instant sentAt) {
    boolean granted() {
      return reply != null && reply.granted();
    }
  }

  private final FailoverSettings settings;
  private final String siteId;
  private final Duration timeout;
  private final InstantSource clock;
  private final NanoClock nanos;
  private volatile LeaseService witness;

  // guarded by this
  private String lastReply;
  private String lastError;
  private long lastGrantNanos;
  private boolean grantSeen;

  /** {@code clock}: the policy's clock (send instants); {@code timeout}: bound of one request. */
  LeaseClient(
      FailoverSettings settings,
      String siteId,
      Duration timeout,
      InstantSource clock,
      NanoClock nanos) {
    this.settings = settings;
    this.siteId = siteId;
    this.timeout = timeout;
    this.clock = clock;
    this.nanos = nanos;
  }

  /**
   * Reads the witness token (failing with a message naming the file) and opens the client: the
   * built-in witness's HTTP client or the etcd client.
   */
  void start() {
    BearerToken token = null;
    if (settings.witnessToken() != null) {
      try {
        token = BearerToken.read(settings.witnessToken());
      } catch (IOException | IllegalStateException e) {
        throw new IllegalStateException(
            "failover.witnessTokenFile: cannot read "
                + settings.witnessToken()
                + ": "
                + e.getMessage(),
            e);
      }
    }
    if (settings.witness() != null) {
      javax.net.ssl.SSLContext tls =
          settings.witnessCertificate() == null
              ? null
              : io.kagami.site.auth.HttpTls.client(settings.witnessCertificate());
      witness = new WitnessClient(settings.witness().toString(), tls, timeout, token);
    } else if (settings.etcdWitness() != null) {
      witness = new EtcdWitnessClient(settings.etcdWitness(), settings.policy().lease(), timeout);
    }
  }

  /** Whether a witness is configured (and the client started). */
  boolean configured() {
    return witness != null;
  }

  CompletableFuture<Answer> renew(long term) {
    return send(w -> w.renewAsync(settings.group(), siteId, term));
  }

  /** Claims the lease, telling the witness the newest term this site knows. */
  CompletableFuture<Answer> claim(long knownTerm) {
    return send(w -> w.claimAsync(settings.group(), siteId, knownTerm));
  }

  /**
   * Gives the lease back; a lease not released runs out by itself (the other site waits for that).
   */
  CompletableFuture<Answer> release(long term) {
    return send(w -> w.releaseAsync(settings.group(), siteId, term));
  }

  private CompletableFuture<Answer> send(
      Function<LeaseService, CompletableFuture<LeaseReply>> request) {
    Instant sent = clock.instant();
    LeaseService w = witness;
    if (w == null) {
      return CompletableFuture.completedFuture(new Answer(null, sent));
    }
    return request
        .apply(w)
        .handle(
            (reply, failure) -> {
              if (failure == null) {
                noteReply(reply);
                return new Answer(reply, sent);
              }
              IOException error;
              try {
                error = WitnessClient.asIOException(failure);
              } catch (RuntimeException e) {
                throw new CompletionException(e);
              }
              noteError(error);
              return new Answer(null, sent);
            });
  }

  private synchronized void noteReply(LeaseReply reply) {
    lastReply =
        (reply.granted() ? "granted" : "refused")
            + " at term "
            + reply.term()
            + ": "
            + reply.reason();
    lastError = null;
    if (reply.granted()) {
      lastGrantNanos = nanos.nanoTime();
      grantSeen = true;
    }
  }

  private synchronized void noteError(IOException error) {
    lastError = error.toString();
  }

  /** Why the last request got no answer, or null when the last one was answered. */
  synchronized String lastError() {
    return lastError;
  }

  /** The witness as this site sees it, or null when none is configured. */
  synchronized FailoverStatus.Witness status() {
    if (!settings.hasWitness()) {
      return null;
    }
    return new FailoverStatus.Witness(
        settings.witnessDescription(),
        settings.group(),
        lastReply,
        grantSeen ? nanos.nanosSince(lastGrantNanos) / 1e9 : null,
        lastError);
  }

  @Override
  public void close() {
    LeaseService w = witness;
    if (w != null) {
      w.close();
    }
  }
}
