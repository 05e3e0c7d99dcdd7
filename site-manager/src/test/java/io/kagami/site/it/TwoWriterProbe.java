package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.kagami.clock.SystemTime;
import io.kagami.testkit.nbd.NbdTestClient;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Watches two sites for the one thing that must never happen: both accepting writes for the same
 * volume at once. Every tick it asks each site two ways, independently of the workload:
 *
 * <ul>
 *   <li>{@code GET /status}: does the site say its role is {@code primary}?
 *   <li>a real NBD WRITE of one block at the site's own scratch offset (outside the data writer's
 *       region, so it is not part of any data check): is it acknowledged?
 * </ul>
 *
 * <p>Each answer is an observation "accepting (or not) at some instant between sending and the
 * answer". Per site, a maximal run of accepting observations (in send order) is an <em>era</em>,
 * spanning from its first send to its last answer; {@link #assertNeverTwoWriters} fails if an era
 * of one site overlaps an era of the other. That is conservative (overlapping spans do not prove
 * overlapping instants), and it holds with room to spare when the old primary is fenced (kill -9)
 * before the standby is promoted: the old primary's last answer precedes the kill, which precedes
 * the promotion, which precedes the new primary's first acceptance.
 *
 * <p>Eras, not one span per site, so the check keeps its meaning once a site may accept writes
 * again after a pause: a failback (old primary rejoining as standby, later switched back) gives a
 * site several eras, each of which must still be disjoint from the other site's.
 */
final class TwoWriterProbe implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration TICK = Duration.ofMillis(50);
  private static final Duration ANSWER_TIMEOUT = Duration.ofSeconds(2);

  /**
   * One answer: {@code accepting} at some instant in [{@code sentNanos}, {@code answeredNanos}].
   */
  record Observation(
      String site, String how, long sentNanos, long answeredNanos, boolean accepting) {}

  /** A site as the probe sees it: its admin address, its NBD address and its scratch offset. */
  private final class Target {
    final String name;
    final String admin;
    final InetSocketAddress nbd;
    final long scratchOffset;
    NbdTestClient connection;
    CompletableFuture<?> pendingWrite = CompletableFuture.completedFuture(null);
    CompletableFuture<?> pendingStatus = CompletableFuture.completedFuture(null);
    long writes;
    volatile boolean reconnect;

    Target(String name, String admin, InetSocketAddress nbd, long scratchOffset) {
      this.name = name;
      this.admin = admin;
      this.nbd = nbd;
      this.scratchOffset = scratchOffset;
    }

    void tick() {
      if (pendingStatus.isDone()) {
        long sent = SystemTime.NANO.nanoTime();
        pendingStatus =
            http.sendAsync(
                    HttpRequest.newBuilder(URI.create("http://" + admin + "/status"))
                        .timeout(ANSWER_TIMEOUT)
                        .build(),
                    HttpResponse.BodyHandlers.ofString())
                .handle(
                    (r, e) -> {
                      boolean primary = false;
                      if (e == null && r.statusCode() == 200) {
                        try {
                          primary = JSON.readTree(r.body()).path("acceptingWrites").asBoolean();
                        } catch (IOException bad) {
                          primary = false; // an unreadable status is no claim to be primary
                        }
                      }
                      record(
                          new Observation(
                              name, "status role", sent, SystemTime.NANO.nanoTime(), primary));
                      return null;
                    });
      }
      if (!pendingWrite.isDone()) {
        return; // one probe write at a time: a blocked one (sync mode, link down) just waits
      }
      if (reconnect && connection != null) {
        connection.close();
        connection = null;
      }
      long sent = SystemTime.NANO.nanoTime();
      try {
        if (connection == null || connection.closed().isDone()) {
          connection = NbdTestClient.connect(nbd, "vol0", ANSWER_TIMEOUT);
        }
      } catch (IOException e) {
        connection = null;
        record(new Observation(name, "nbd write", sent, SystemTime.NANO.nanoTime(), false));
        return;
      }
      NbdTestClient c = connection;
      byte[] block = new byte[4096];
      java.util.Arrays.fill(block, (byte) ++writes);
      pendingWrite =
          c.write(scratchOffset, block)
              .orTimeout(ANSWER_TIMEOUT.toMillis() * 5, TimeUnit.MILLISECONDS)
              .handle(
                  (v, e) -> {
                    record(
                        new Observation(
                            name, "nbd write", sent, SystemTime.NANO.nanoTime(), e == null));
                    // A refusal (EPERM from a standby) keeps the connection: the server checks
                    // the export's current mode on every write, so a promotion shows on it. A
                    // write that got no answer does not: reconnect next time, closing it there
                    // (this may run on the client's reader thread, which close() joins).
                    reconnect =
                        e instanceof java.util.concurrent.TimeoutException
                            || e instanceof java.util.concurrent.CompletionException
                                && e.getCause() instanceof java.util.concurrent.TimeoutException;
                    return null;
                  });
    }
  }

  private final HttpClient http = HttpClient.newBuilder().connectTimeout(ANSWER_TIMEOUT).build();
  private final List<Target> targets = new ArrayList<>();
  private final List<Observation> observations = new ArrayList<>();
  private final ScheduledExecutorService ticker =
      Executors.newSingleThreadScheduledExecutor(
          Thread.ofPlatform().name("two-writer-probe").daemon(true).factory());

  /** Probes both sites of {@code sites}; scratch blocks are the last two of the volume. */
  TwoWriterProbe(TwoSites sites, long volumeBytes) {
    targets.add(
        new Target(
            "tokyo",
            "127.0.0.1:" + sites.primaryAdmin,
            new InetSocketAddress("127.0.0.1", sites.primaryNbd),
            volumeBytes - 2 * 4096));
    targets.add(
        new Target(
            "hiroshima",
            "127.0.0.1:" + sites.standbyAdmin,
            new InetSocketAddress("127.0.0.1", sites.standbyNbd),
            volumeBytes - 4096));
  }

  TwoWriterProbe start() {
    ticker.scheduleWithFixedDelay(
        () -> {
          for (Target t : targets) {
            t.tick();
          }
        },
        0,
        TICK.toMillis(),
        TimeUnit.MILLISECONDS);
    return this;
  }

  private void record(Observation o) {
    synchronized (observations) {
      observations.add(o);
    }
  }

  /** How many accepted observations each site had, e.g. {@code tokyo 212, hiroshima 40}. */
  String summary() {
    StringBuilder out = new StringBuilder();
    for (Target t : targets) {
      long n;
      synchronized (observations) {
        n = observations.stream().filter(o -> o.site().equals(t.name) && o.accepting()).count();
      }
      out.append(out.isEmpty() ? "" : ", ").append(t.name).append(' ').append(n);
    }
    return out.toString();
  }

  /** A run of accepting observations of one site. */
  private record Era(String site, long from, long to, Observation first, Observation last) {}

  /**
   * Fails if one site's era of accepting writes overlaps the other's, among the answers so far
   * (after {@link #close()}: all of them).
   */
  void assertNeverTwoWriters(long originNanos) {
    List<Observation> all;
    synchronized (observations) {
      all = new ArrayList<>(observations);
    }
    List<Era> eras = new ArrayList<>();
    for (Target t : targets) {
      List<Observation> mine =
          all.stream()
              .filter(o -> o.site().equals(t.name))
              .sorted(Comparator.comparingLong(Observation::sentNanos))
              .toList();
      Era open = null;
      for (Observation o : mine) {
        if (o.accepting()) {
          open =
              open == null
                  ? new Era(t.name, o.sentNanos(), o.answeredNanos(), o, o)
                  : new Era(
                      t.name, open.from(), Math.max(open.to(), o.answeredNanos()), open.first(), o);
        } else if (open != null && o.answeredNanos() > open.to()) {
          eras.add(open);
          open = null;
        }
      }
      if (open != null) {
        eras.add(open);
      }
    }
    for (Era a : eras) {
      for (Era b : eras) {
        if (a.site().compareTo(b.site()) < 0 && a.from() < b.to() && b.from() < a.to()) {
          throw new AssertionError(
              String.format(
                  "two sites accepted writes for vol0 at once: %s from %d ms (%s) to %d ms (%s), %s from %d ms (%s) to %d ms (%s) [ms since the schedule started]",
                  a.site(),
                  ms(a.from(), originNanos),
                  a.first().how(),
                  ms(a.to(), originNanos),
                  a.last().how(),
                  b.site(),
                  ms(b.from(), originNanos),
                  b.first().how(),
                  ms(b.to(), originNanos),
                  b.last().how()));
        }
      }
    }
    assertThat(eras).as("the probe saw some site accept writes").isNotEmpty();
  }

  private static long ms(long nanos, long origin) {
    return (nanos - origin) / 1_000_000;
  }

  private boolean closed;

  /** Stops probing and waits for the last answers; idempotent. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    ticker.shutdown();
    for (Target t : targets) {
      try {
        if (!ticker.awaitTermination(10, TimeUnit.SECONDS)) {
          throw new AssertionError("two-writer probe did not stop within 10 s");
        }
        t.pendingWrite.get(15, TimeUnit.SECONDS);
        t.pendingStatus.get(15, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted while stopping the two-writer probe", e);
      } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
        throw new AssertionError("two-writer probe: " + t.name + "'s last answer did not come", e);
      }
      if (t.connection != null) {
        t.connection.close();
      }
    }
    http.close();
  }
}
