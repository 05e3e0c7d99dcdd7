package io.kagami.site.admin;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.kagami.site.VolumeState;

/**
 * One volume in {@code GET /status}. {@code lastAckedByPeerSeq} is reported by a primary, {@code
 * lastAppliedSeq} by a standby. Lag is what the other side still has to get (primary: not yet
 * durable on the standby; standby: received but not yet applied to the replica). {@code
 * resumedFromSeq} (primary) is where the link last resumed: the standby's durable point. {@code
 * mode} is the configured replication mode ({@code async}|{@code sync}), {@code state} where the
 * volume stands now (e.g. {@code replicating}, {@code buffering}, {@code degraded}, {@code bitmap},
 * {@code resyncing}, {@code inconsistent}). {@code resync} (primary): progress of the copy of
 * changed regions to the standby. {@code historyCapacityBytes}: the configured bound of the history
 * ({@code historyCapacity}); see {@link VolumeState} for the states. A standby with retention
 * reports {@code recoverableFrom} (see {@link Point}), and {@code drill} while one runs.
 *
 * <p>History (primary): {@code historyBytes} are journaled bytes not yet sent to the standby (what
 * piles up when writes outrun the link), {@code oldestUnsentAgeSeconds} the age of the oldest of
 * them, and {@code drainEtaSeconds} how long sending them takes at the volume's recent send rate
 * were writes to stop now: null when there is no history or nothing was sent recently (not
 * draining). Lag, by contrast, also counts bytes sent but not yet acknowledged.
 *
 * <p>{@code peer}: the site the volume is replicated with (on an N:1 standby, the primary whose
 * volume this is; its name is then {@code <peer>.<volume>}). {@code verify} (standby): see {@link
 * Verify}.
 *
 * <p>{@code lastWriteSeq}: the newest host write (write, trim or zeroing) the volume holds: a
 * primary's newest journaled, a standby's newest applied to its replica. Sequence numbers also
 * count verification points, which change nothing and follow each other on an idle volume; the
 * volume's content is what it was after this write. Lag ({@code lagBytes}, {@code lagSeconds},
 * {@code oldestUnsentAgeSeconds}) counts writes only: points alone never make a volume lag.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record VolumeStatus(
    String name,
    String role,
    String mode,
    VolumeState state,
    long sizeBytes,
    long lastJournaledSeq,
    Long lastAckedByPeerSeq,
    Long lastAppliedSeq,
    Long resumedFromSeq,
    long lagBytes,
    long historyCapacityBytes,
    double lagSeconds,
    Long historyBytes,
    Double oldestUnsentAgeSeconds,
    @JsonInclude(JsonInclude.Include.ALWAYS) Double drainEtaSeconds,
    Resync resync,
    String error,
    Point recoverableFrom,
    Drill drill,
    PrimaryView primary,
    String peer,
    Verify verify,
    Long lastWriteSeq) {

  /** Without the peer's site id (set by {@link #withPeer}). */
  public VolumeStatus(
      String name,
      String role,
      String mode,
      VolumeState state,
      long sizeBytes,
      long lastJournaledSeq,
      Long lastAckedByPeerSeq,
      Long lastAppliedSeq,
      Long resumedFromSeq,
      long lagBytes,
      long historyCapacityBytes,
      double lagSeconds,
      Long historyBytes,
      Double oldestUnsentAgeSeconds,
      Double drainEtaSeconds,
      Resync resync,
      String error,
      Point recoverableFrom,
      Drill drill,
      PrimaryView primary) {
    this(
        name,
        role,
        mode,
        state,
        sizeBytes,
        lastJournaledSeq,
        lastAckedByPeerSeq,
        lastAppliedSeq,
        resumedFromSeq,
        lagBytes,
        historyCapacityBytes,
        lagSeconds,
        historyBytes,
        oldestUnsentAgeSeconds,
        drainEtaSeconds,
        resync,
        error,
        recoverableFrom,
        drill,
        primary,
        null,
        null,
        null);
  }

  /** The status without history or drill (a primary, or a standby that keeps none). */
  public VolumeStatus(
      String name,
      String role,
      String mode,
      VolumeState state,
      long sizeBytes,
      long lastJournaledSeq,
      Long lastAckedByPeerSeq,
      Long lastAppliedSeq,
      Long resumedFromSeq,
      long lagBytes,
      long historyCapacityBytes,
      double lagSeconds,
      Long historyBytes,
      Double oldestUnsentAgeSeconds,
      Double drainEtaSeconds,
      Resync resync,
      String error) {
    this(
        name,
        role,
        mode,
        state,
        sizeBytes,
        lastJournaledSeq,
        lastAckedByPeerSeq,
        lastAppliedSeq,
        resumedFromSeq,
        lagBytes,
        historyCapacityBytes,
        lagSeconds,
        historyBytes,
        oldestUnsentAgeSeconds,
        drainEtaSeconds,
        resync,
        error,
        null,
        null,
        null,
        null,
        null,
        null);
  }

  /** This status with a standby's retained history and running drill (either may be null). */
  public VolumeStatus withHistory(Point recoverableFrom, Drill drill) {
    return with(recoverableFrom, drill, peer, verify, lastWriteSeq);
  }

  /** This status naming the site the volume is replicated with. */
  public VolumeStatus withPeer(String peerSiteId) {
    return with(recoverableFrom, drill, peerSiteId, verify, lastWriteSeq);
  }

  /** This status with a standby's verification figures. */
  public VolumeStatus withVerify(Verify v) {
    return with(recoverableFrom, drill, peer, v, lastWriteSeq);
  }

  /** This status with the volume's newest write (see the class comment). */
  public VolumeStatus withLastWrite(long seq) {
    return with(recoverableFrom, drill, peer, verify, seq);
  }

  /** This status with the fields that are added after it is built replaced. */
  private VolumeStatus with(
      Point recoverableFrom, Drill drill, String peer, Verify verify, Long lastWriteSeq) {
    return new VolumeStatus(
        name,
        role,
        mode,
        state,
        sizeBytes,
        lastJournaledSeq,
        lastAckedByPeerSeq,
        lastAppliedSeq,
        resumedFromSeq,
        lagBytes,
        historyCapacityBytes,
        lagSeconds,
        historyBytes,
        oldestUnsentAgeSeconds,
        drainEtaSeconds,
        resync,
        error,
        recoverableFrom,
        drill,
        primary,
        peer,
        verify,
        lastWriteSeq);
  }

  /**
   * In-stream verification of a standby's replica (see {@code io.kagami.journal.VerifyPoint}):
   * regions and bytes checked against the primary at the same point of the history, mismatches
   * found, the last complete pass (its number, the seq of its last point and when it completed;
   * null before the first), the last mismatch as text, and the byte range waiting to be copied
   * again ({@code repairPending}, e.g. {@code "1048576..2097151"}), while the replica is
   * inconsistent because of it.
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Verify(
      long regionsChecked,
      long bytesChecked,
      long mismatches,
      Long lastPass,
      Long lastPassSeq,
      String lastPassAt,
      long checkedThroughSeq,
      String lastMismatch,
      String repairPending) {}

  /**
   * What a standby knows of its primary's journal of this volume, from the primary's heartbeats
   * (every 2 s while the link is up): {@code lastContactAt} when the last one arrived (this site's
   * clock, ISO-8601), {@code secondsSinceContact}, the primary's {@code lastJournaledSeq} and the
   * {@code unackedBytes} of writes it had not seen acknowledged then. Null before the first
   * heartbeat.
   */
  public record PrimaryView(
      String lastContactAt, double secondsSinceContact, long lastJournaledSeq, long unackedBytes) {}

  /**
   * The earliest point a standby can drill on or promote to (its retained history): the seq, when
   * the entry after it was journaled here (ISO-8601), and the bytes of before-images held.
   */
  public record Point(long seq, String time, long undoBytes) {}

  /**
   * A running DR drill: the clone's export and URI, the seq it shows, since when, bytes written
   * into it, and why the clone fails every request (a resync rewrote the replica under it), or
   * null.
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Drill(
      String export, String uri, long seq, String startedAt, long writtenBytes, String voided) {}

  /**
   * A copy of changed regions to the standby (primary; absent when none is due): bytes left and in
   * total for the current pass, the pass's average rate, and the time left at that rate.
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Resync(
      boolean running,
      long totalBytes,
      long remainingBytes,
      double bytesPerSecond,
      Double etaSeconds) {}
}
