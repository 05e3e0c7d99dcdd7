package io.kagami.failover.witness;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * The witness's decisions: one primary lease per pair (volume-group id). Pure state and a clock;
 * the HTTP service around it ({@code kagami witness}) lives in the site manager.
 *
 * <p>Rules:
 *
 * <ul>
 *   <li><b>renew</b> succeeds only for the current holder at the current term, and extends the
 *       lease to {@code now + lease}.
 *   <li><b>claim</b> is granted when nobody holds the group, the holder released it, or the
 *       holder's lease expired at least {@code margin} ago (the margin covers clock-rate drift
 *       between the witness and the holder). Every grant bumps the term above every term seen.
 *   <li><b>release</b> by the holder at its term frees the group at once (planned switchover,
 *       step-down after an application failure).
 *   <li>After (re)start the witness grants nothing for {@code lease + margin} in a group it does
 *       not remember: a holder it forgot may still be inside a lease it granted before.
 *   <li>With a {@link Durable} store (the {@code kagami witness} state file), every change of
 *       holder, term or release is recorded <em>before</em> the reply is given (write-ahead; a
 *       store that fails turns the grant into a refusal). Renewals change nothing durable and are
 *       not recorded. A witness restarted from its record remembers every holder and term: the
 *       holder may renew at once, and because it cannot know how long it was down, it treats each
 *       remembered lease as granted at the restart: nobody else is granted the group before a full
 *       {@code lease + margin} has passed, and terms never go back.
 * </ul>
 *
 * <p>So at most one site holds a valid lease for a group at any instant, and a holder that stops
 * writing when its own lease evidence ends (see {@code FailoverPolicy}) has stopped before anybody
 * else is granted the group. Thread-safe (one lock; every operation is tiny).
 */
public final class WitnessState {
  /** The witness's view of one group. {@code expiresAt} is the witness's clock. */
  public record Lease(
      String group, String holder, long term, Instant expiresAt, boolean released) {}

  /** What the witness must not forget across a restart: one group's holder, term, release. */
  public record Saved(String group, String holder, long term, boolean released) {}

  /**
   * Where grants are recorded before they are answered (the witness's state file). {@code save}
   * gets every group's current record and returns once it is durable, or throws.
   */
  public interface Durable {
    void save(java.util.List<Saved> leases) throws java.io.IOException;
  }

  private final Duration lease;
  private final Duration margin;
  private final Durable durable;
  private final InstantSource clock;
  private final Instant grantsFrom;
  private final Map<String, Lease> leases = new TreeMap<>();

  /** A witness that keeps its leases in memory only. */
  public WitnessState(Duration lease, Duration margin, InstantSource clock) {
    this(lease, margin, clock, java.util.List.of(), null);
  }

  /**
   * A witness restarted from {@code restored} (its durable record; empty on first start) that
   * records every later change in {@code durable} (null: memory only).
   */
  public WitnessState(
      Duration lease,
      Duration margin,
      InstantSource clock,
      java.util.List<Saved> restored,
      Durable durable) {
    if (lease.isNegative() || lease.isZero()) {
      throw new IllegalArgumentException("witness: lease duration must be positive, got " + lease);
    }
    if (margin.isNegative()) {
      throw new IllegalArgumentException(
          "witness: safety margin must not be negative, got " + margin);
    }
    this.lease = lease;
    this.margin = margin;
    this.clock = Objects.requireNonNull(clock);
    this.grantsFrom = clock.instant().plus(lease).plus(margin);
    this.durable = durable;
    // How long ago a remembered lease was last renewed is unknown: count it as renewed now.
    Instant restartedAt = clock.instant();
    for (Saved r : restored) {
      leases.put(
          r.group(),
          new Lease(r.group(), r.holder(), r.term(), restartedAt.plus(lease), r.released()));
    }
  }

  /** Every group's durable record (what {@link Durable#save} gets). */
  public synchronized java.util.List<Saved> saved() {
    return saved(leases);
  }

  private static java.util.List<Saved> saved(Map<String, Lease> from) {
    return from.values().stream()
        .map(l -> new Saved(l.group(), l.holder(), l.term(), l.released()))
        .toList();
  }

  /**
   * Puts {@code next} for its group after recording it durably when its holder, term or release
   * differs from what is recorded; false when the record could not be written (nothing changed).
   */
  private boolean put(Lease next) {
    Lease prev = leases.get(next.group());
    boolean changes =
        prev == null
            || !prev.holder().equals(next.holder())
            || prev.term() != next.term()
            || prev.released() != next.released();
    if (changes && durable != null) {
      Map<String, Lease> after = new TreeMap<>(leases);
      after.put(next.group(), next);
      try {
        durable.save(saved(after));
      } catch (java.io.IOException | RuntimeException e) {
        lastSaveError = e.getMessage();
        return false;
      }
    }
    leases.put(next.group(), next);
    return true;
  }

  private String lastSaveError;

  public Duration lease() {
    return lease;
  }

  /** The witness's clock now (for reporting remaining lease time). */
  public Instant now() {
    return clock.instant();
  }

  public synchronized LeaseReply renew(LeaseRequest r) {
    validate(r);
    Instant now = clock.instant();
    Lease l = leases.get(r.group());
    if (l == null) {
      if (now.isBefore(grantsFrom)) {
        return refused(
            r.group(),
            null,
            0,
            "witness started recently; no grants until "
                + secondsUntil(now, grantsFrom)
                + " from now (a lease it forgot may still run)");
      }
      // The witness forgot the group (restart); the holder tells it the term it holds.
      return grant(
          r.group(),
          r.site(),
          Math.max(1, r.term()),
          now,
          "lease re-established at term " + Math.max(1, r.term()));
    }
    if (!l.holder().equals(r.site()) || l.term() != r.term() || l.released()) {
      return refused(
          r.group(),
          l.released() ? null : l.holder(),
          l.term(),
          l.released() && l.holder().equals(r.site()) && l.term() == r.term()
              ? "lease was released at term " + l.term()
              : "lease is held by "
                  + l.holder()
                  + " at term "
                  + l.term()
                  + ", not by "
                  + r.site()
                  + " at term "
                  + r.term());
    }
    return grant(r.group(), r.site(), l.term(), now, "renewed");
  }

  public synchronized LeaseReply claim(LeaseRequest r) {
    validate(r);
    Instant now = clock.instant();
    if (now.isBefore(grantsFrom)) {
      Lease l = leases.get(r.group());
      return refused(
          r.group(),
          l == null ? null : l.holder(),
          l == null ? 0 : l.term(),
          "witness started recently; no grants until "
              + secondsUntil(now, grantsFrom)
              + " from now (a lease it forgot may still run)");
    }
    Lease l = leases.get(r.group());
    long next = Math.max(r.term(), l == null ? 0 : l.term()) + 1;
    if (l == null) {
      return grant(
          r.group(), r.site(), next, now, "granted at term " + next + " (the group had no holder)");
    }
    if (l.holder().equals(r.site()) && !l.released()) {
      // The holder asking again (e.g. it lost the reply to its first claim): same term, extended.
      return grant(
          r.group(),
          r.site(),
          l.term(),
          now,
          r.site() + " already holds the lease at term " + l.term());
    }
    if (l.released()) {
      return grant(
          r.group(),
          r.site(),
          next,
          now,
          "granted at term " + next + " (" + l.holder() + " released term " + l.term() + ")");
    }
    Instant free = l.expiresAt().plus(margin);
    if (!now.isBefore(free)) {
      return grant(
          r.group(),
          r.site(),
          next,
          now,
          "granted at term "
              + next
              + " ("
              + l.holder()
              + "'s lease at term "
              + l.term()
              + " expired "
              + secondsUntil(l.expiresAt(), now)
              + " ago)");
    }
    return refused(
        r.group(),
        l.holder(),
        l.term(),
        l.holder()
            + " holds the lease at term "
            + l.term()
            + (now.isBefore(l.expiresAt())
                ? " (valid for " + secondsUntil(now, l.expiresAt()) + ")"
                : " (expired, claimable after the "
                    + margin.toMillis()
                    + "ms safety margin, in "
                    + secondsUntil(now, free)
                    + ")"));
  }

  public synchronized LeaseReply release(LeaseRequest r) {
    validate(r);
    Lease l = leases.get(r.group());
    if (l == null || !l.holder().equals(r.site()) || l.term() != r.term()) {
      return refused(
          r.group(),
          l == null ? null : l.holder(),
          l == null ? 0 : l.term(),
          r.site() + " does not hold the lease at term " + r.term());
    }
    if (!put(new Lease(r.group(), l.holder(), l.term(), clock.instant(), true))) {
      return unrecorded(r.group(), l.holder(), l.term());
    }
    return new LeaseReply(
        true,
        r.group(),
        null,
        l.term(),
        lease.toMillis(),
        "released by " + r.site() + " at term " + l.term());
  }

  /** The group's lease as the witness sees it, or null if it knows nothing of the group. */
  public synchronized Lease status(String group) {
    return leases.get(group);
  }

  /** Every group the witness knows. */
  public synchronized Map<String, Lease> all() {
    return Map.copyOf(leases);
  }

  /**
   * Who may write for the group at this instant by the witness's book: the holder of an unexpired
   * lease.
   */
  public synchronized String validHolder(String group) {
    Lease l = leases.get(group);
    return l == null || l.released() || !clock.instant().isBefore(l.expiresAt())
        ? null
        : l.holder();
  }

  private LeaseReply grant(String group, String site, long term, Instant now, String reason) {
    Lease before = leases.get(group);
    if (!put(new Lease(group, site, term, now.plus(lease), false))) {
      return unrecorded(
          group, before == null ? null : before.holder(), before == null ? 0 : before.term());
    }
    return LeaseReply.granted(group, site, term, lease.toMillis(), reason);
  }

  private LeaseReply unrecorded(String group, String holder, long term) {
    return refused(
        group,
        holder,
        term,
        "the witness cannot record the change in its state file, so it grants nothing: "
            + lastSaveError);
  }

  private LeaseReply refused(String group, String holder, long term, String reason) {
    return LeaseReply.refused(group, holder, term, lease.toMillis(), reason);
  }

  private static void validate(LeaseRequest r) {
    if (r == null
        || r.group() == null
        || r.group().isBlank()
        || r.site() == null
        || r.site().isBlank()) {
      throw new IllegalArgumentException("a lease request needs a group and a site");
    }
    if (r.term() < 0) {
      throw new IllegalArgumentException("term " + r.term() + " is negative");
    }
  }

  private static String secondsUntil(Instant from, Instant to) {
    return String.format("%.1fs", Duration.between(from, to).toMillis() / 1000.0);
  }
}
