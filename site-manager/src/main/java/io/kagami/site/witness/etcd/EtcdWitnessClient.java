package io.kagami.site.witness.etcd;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import io.kagami.failover.witness.LeaseReply;
import io.kagami.site.config.EtcdWitnessSettings;
import io.kagami.site.witness.LeaseService;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeoutException;

/**
 * The pair's primary lease held in an etcd cluster (jetcd), with the built-in witness's rules.
 *
 * <table>
 *   <caption>Keys (per group)</caption>
 *   <tr><th>key</th><th>value</th><th>etcd lease</th></tr>
 *   <tr><td>{@code prefix/group/holder}</td><td>{@code {"site":"tokyo","term":7}}</td><td>the holder's (TTL = the lease, rounded up to whole seconds)</td></tr>
 *   <tr><td>{@code prefix/group/term}</td><td>the highest term ever granted, decimal</td><td>none: it outlives every holder</td></tr>
 *   <tr><td>{@code prefix/group/released}</td><td>the last term given back by release, decimal</td><td>none</td></tr>
 * </table>
 *
 * <ul>
 *   <li><b>claim</b>: read both keys in one transaction; when nobody holds the group, grant an etcd
 *       lease and write holder and term in a transaction that succeeds only if the holder key is
 *       still absent and the term key unchanged since the read (compare-and-set: of two sites
 *       claiming at once exactly one wins; the other is refused and its etcd lease revoked). The
 *       new term is above the stored term and the claimer's known term.
 *   <li><b>renew</b>: the holder key must name this site at this term; then one keep-alive of the
 *       etcd lease bound to that key. The site's renewals (every heartbeat interval, driven by its
 *       failover policy) <em>are</em> the keep-alive: no background stream keeps a lease alive for
 *       a site whose policy stopped renewing, so the lease runs out when the site stops asking.
 *   <li><b>renew</b> when nobody holds the group (a site configured as primary starting, or a lease
 *       that ran out with nobody claiming it): granted at the site's term by the same
 *       compare-and-set, unless a higher term was granted since or the site released that term.
 *   <li><b>release</b>: record the released term, then revoke the holder's etcd lease, which
 *       deletes the holder key at once.
 * </ul>
 *
 * <p>Why this is safe: etcd expires a lease at least TTL after the last keep-alive its leader
 * received, which is after the site sent it; the site stops writing {@code selfFenceAfter} (less
 * than the lease) after it sent its last granted renewal; the other site's claim cannot succeed
 * while the holder key exists. A new etcd leader restarts every lease's TTL, which only lengthens
 * it. Requests are bounded by {@code timeout}; a request etcd did not answer completes with an
 * {@link IOException} (no evidence), never with a guess. Thread-safe; holds the jetcd client (its
 * gRPC channels and threads) until {@link #close()}.
 */
public final class EtcdWitnessClient implements LeaseService {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final EtcdWitnessSettings settings;
  private final long ttlSeconds;
  private final Duration timeout;
  private final Client etcd;

  /**
   * {@code lease}: the lease a claim grants (etcd TTLs are whole seconds: rounded up, at least 2 s,
   * etcd's own minimum on default timings); {@code timeout}: bound of one request.
   */
  public EtcdWitnessClient(EtcdWitnessSettings settings, Duration lease, Duration timeout) {
    this.settings = settings;
    this.ttlSeconds = Math.max(2, (lease.toMillis() + 999) / 1000);
    this.timeout = timeout;
    this.etcd =
        Client.builder()
            .endpoints(settings.endpoints().toArray(URI[]::new))
            .loadBalancerPolicy("round_robin")
            .connectTimeout(timeout)
            // Fail fast when no member is reachable: a request that waits for a connection
            // longer than the renewal period is evidence lost anyway.
            .waitForReady(false)
            // jetcd retries a request that failed on one member; within the request's bound.
            .retryChronoUnit(java.time.temporal.ChronoUnit.MILLIS)
            .retryDelay(50)
            .retryMaxDelay(200)
            .retryMaxDuration(timeout.plusMillis(100))
            .build();
  }

  /** The TTL every claim asks etcd for. */
  public long ttlSeconds() {
    return ttlSeconds;
  }

  private ByteSequence holderKey(String group) {
    return bytes(settings.prefix() + "/" + group + "/holder");
  }

  private ByteSequence termKey(String group) {
    return bytes(settings.prefix() + "/" + group + "/term");
  }

  private ByteSequence releasedKey(String group) {
    return bytes(settings.prefix() + "/" + group + "/released");
  }

  /** The group's keys, read at one revision. */
  private record Snapshot(
      KeyValue holderKv, String holder, long holderTerm, KeyValue termKv, long releasedTerm) {
    long storedTerm() {
      return termKv == null
          ? holderTerm
          : Math.max(
              holderTerm, Long.parseLong(termKv.getValue().toString(StandardCharsets.UTF_8)));
    }
  }

  private CompletableFuture<Snapshot> read(String group) {
    return etcd.getKVClient()
        .txn()
        .Then(
            Op.get(holderKey(group), GetOption.DEFAULT),
            Op.get(termKey(group), GetOption.DEFAULT),
            Op.get(releasedKey(group), GetOption.DEFAULT))
        .commit()
        .thenApply(
            t -> {
              List<GetResponse> gets = t.getGetResponses();
              KeyValue h = first(gets.get(0));
              KeyValue term = first(gets.get(1));
              KeyValue rel = first(gets.get(2));
              long released =
                  rel == null ? 0 : Long.parseLong(rel.getValue().toString(StandardCharsets.UTF_8));
              if (h == null) {
                return new Snapshot(null, null, 0, term, released);
              }
              try {
                JsonNode v = JSON.readTree(h.getValue().getBytes());
                return new Snapshot(
                    h, v.path("site").asText(), v.path("term").asLong(), term, released);
              } catch (IOException e) {
                throw new CompletionException(
                    new IOException(
                        "etcd key "
                            + h.getKey().toString(StandardCharsets.UTF_8)
                            + " does not hold a Kagami lease ({\"site\":..,\"term\":..}): "
                            + e.getMessage(),
                        e));
              }
            });
  }

  @Override
  public CompletableFuture<LeaseReply> renewAsync(String group, String site, long term) {
    return bounded(
        () ->
            read(group)
                .thenCompose(
                    s -> {
                      if (s.holder() == null) {
                        return reestablish(group, site, Math.max(1, term), s);
                      }
                      if (!s.holder().equals(site) || s.holderTerm() != term) {
                        return done(
                            refused(group, s.holder(), s.holderTerm(), heldBy(s, site, term)));
                      }
                      return keepAlive(group, s, "renewed");
                    }));
  }

  @Override
  public CompletableFuture<LeaseReply> claimAsync(String group, String site, long knownTerm) {
    return bounded(
        () ->
            read(group)
                .thenCompose(
                    s -> {
                      if (s.holder() != null && s.holder().equals(site)) {
                        return keepAlive(
                            group, s, site + " already holds the lease at term " + s.holderTerm());
                      }
                      if (s.holder() != null) {
                        return done(
                            refused(
                                group,
                                s.holder(),
                                s.holderTerm(),
                                s.holder()
                                    + " holds the lease at term "
                                    + s.holderTerm()
                                    + " (until its etcd lease runs out or is released)"));
                      }
                      long next = Math.max(knownTerm, s.storedTerm()) + 1;
                      return etcd.getLeaseClient()
                          .grant(ttlSeconds)
                          .thenCompose(g -> casHolder(group, site, next, s, g.getID(), g.getTTL()));
                    }));
  }

  /**
   * A renewal when nobody holds the group (a site started as primary, or its lease ran out while
   * nobody else claimed): granted at the site's own term as long as no higher term was granted and
   * the site did not release that term (the built-in witness's rule). Same compare-and-set as a
   * claim.
   */
  private CompletableFuture<LeaseReply> reestablish(
      String group, String site, long term, Snapshot s) {
    if (s.storedTerm() > term) {
      return done(
          refused(
              group,
              null,
              s.storedTerm(),
              "term " + s.storedTerm() + " was granted after " + site + "'s term " + term));
    }
    if (s.releasedTerm() == term) {
      return done(refused(group, null, term, "lease was released at term " + term));
    }
    return etcd.getLeaseClient()
        .grant(ttlSeconds)
        .thenCompose(g -> casHolder(group, site, term, s, g.getID(), g.getTTL()))
        .thenApply(
            r ->
                r.granted()
                    ? LeaseReply.granted(
                        group,
                        site,
                        term,
                        r.leaseMillis(),
                        "lease re-established at term " + term + " in etcd")
                    : r);
  }

  /** Writes holder and term if nobody wrote either since {@code s} was read. */
  private CompletableFuture<LeaseReply> casHolder(
      String group, String site, long next, Snapshot s, long leaseId, long ttl) {
    Cmp termUnchanged =
        s.termKv() == null
            ? new Cmp(termKey(group), Cmp.Op.EQUAL, CmpTarget.version(0))
            : new Cmp(
                termKey(group), Cmp.Op.EQUAL, CmpTarget.modRevision(s.termKv().getModRevision()));
    return etcd.getKVClient()
        .txn()
        .If(new Cmp(holderKey(group), Cmp.Op.EQUAL, CmpTarget.version(0)), termUnchanged)
        .Then(
            Op.put(
                holderKey(group),
                bytes(json(Map.of("site", site, "term", next))),
                PutOption.builder().withLeaseId(leaseId).build()),
            Op.put(termKey(group), bytes(Long.toString(next)), PutOption.DEFAULT))
        .commit()
        .thenApply(
            (TxnResponse t) -> {
              if (t.isSucceeded()) {
                return LeaseReply.granted(
                    group,
                    site,
                    next,
                    ttl * 1000,
                    "granted at term "
                        + next
                        + " by etcd (the group had no holder; etcd lease "
                        + Long.toHexString(leaseId)
                        + ", TTL "
                        + ttl
                        + "s)");
              }
              // Another site won the race: our etcd lease is useless; it would expire anyway.
              etcd.getLeaseClient().revoke(leaseId);
              return refused(
                  group,
                  null,
                  s.storedTerm(),
                  "another site claimed the lease at the same moment (etcd compare-and-set failed); ask again");
            });
  }

  @Override
  public CompletableFuture<LeaseReply> releaseAsync(String group, String site, long term) {
    return bounded(
        () ->
            read(group)
                .thenCompose(
                    s -> {
                      if (s.holder() == null
                          || !s.holder().equals(site)
                          || s.holderTerm() != term) {
                        return done(
                            refused(
                                group,
                                s.holder(),
                                s.holder() == null ? s.storedTerm() : s.holderTerm(),
                                site + " does not hold the lease at term " + term));
                      }
                      return etcd.getLeaseClient()
                          .revoke(s.holderKv().getLease())
                          .thenApply(
                              r ->
                                  new LeaseReply(
                                      true,
                                      group,
                                      null,
                                      term,
                                      ttlSeconds * 1000,
                                      "released by " + site + " at term " + term));
                    }));
  }

  private CompletableFuture<LeaseReply> keepAlive(String group, Snapshot s, String reason) {
    return etcd.getLeaseClient()
        .keepAliveOnce(s.holderKv().getLease())
        .thenApply(
            k ->
                k.getTTL() > 0
                    ? LeaseReply.granted(
                        group, s.holder(), s.holderTerm(), k.getTTL() * 1000, reason)
                    : refused(
                        group,
                        null,
                        s.storedTerm(),
                        "the etcd lease of term " + s.holderTerm() + " expired"));
  }

  private LeaseReply refused(String group, String holder, long term, String reason) {
    return LeaseReply.refused(group, holder, term, ttlSeconds * 1000, reason);
  }

  private static String heldBy(Snapshot s, String site, long term) {
    return "lease is held by "
        + s.holder()
        + " at term "
        + s.holderTerm()
        + ", not by "
        + site
        + " at term "
        + term;
  }

  /**
   * Bounds the request by the timeout and turns every failure into an {@link IOException} naming
   * the cluster (the caller's "no answer").
   */
  private CompletableFuture<LeaseReply> bounded(
      java.util.function.Supplier<CompletableFuture<LeaseReply>> call) {
    CompletableFuture<LeaseReply> request;
    try {
      request = call.get();
    } catch (RuntimeException e) {
      request = CompletableFuture.failedFuture(e);
    }
    return request
        .orTimeout(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)
        .handle(
            (reply, failure) -> {
              if (failure == null) {
                return reply;
              }
              Throwable t = failure;
              while (t instanceof CompletionException && t.getCause() != null) {
                t = t.getCause();
              }
              if (t instanceof IOException io) {
                throw new CompletionException(io);
              }
              String why =
                  t instanceof TimeoutException
                      ? "no answer within " + timeout.toMillis() + " ms"
                      : t.toString();
              throw new CompletionException(new IOException(describe() + ": " + why, t));
            });
  }

  private static <T> CompletableFuture<T> done(T value) {
    return CompletableFuture.completedFuture(value);
  }

  private static KeyValue first(GetResponse r) {
    return r.getKvs().isEmpty() ? null : r.getKvs().getFirst();
  }

  private static ByteSequence bytes(String s) {
    return ByteSequence.from(s, StandardCharsets.UTF_8);
  }

  private static String json(Map<String, Object> value) {
    try {
      return JSON.writeValueAsString(value);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public String describe() {
    return settings.toString();
  }

  @Override
  public void close() {
    etcd.close();
  }
}
