package io.kagami.site.config;

import java.util.List;

/**
 * A site's memory budget ({@code memory.budget}) and the shares it is split into, computed once
 * from the budget and the number of volumes. Every cache and in-flight window of the site is one of
 * these shares, never a per-volume constant, so adding volumes divides the budget instead of
 * growing the process:
 *
 * <pre>
 * budget                        e.g. 512 MiB (the default, for a 1 GiB appliance)
 * ├─ runtime reserve            112 MiB: metaspace, JIT code, thread stacks, GC data, native libraries
 * └─ usable = budget − reserve
 *    ├─ heap          5/8       the JVM's -Xmx (the launcher passes it)
 *    │  ├─ tail caches   1/4 of the heap, split evenly: each volume's recent journal entries
 *    │  ├─ WAN windows   1/4 of the heap, split evenly: each volume's unacknowledged shipped bytes
 *    │  ├─ volume writes 1/8 of the heap: journaled writes waiting for the primary's volume file
 *    │  ├─ NBD in flight as journal records (the same bytes as below, at most 1/8 of the heap)
 *    │  └─ the rest      WAN receive buffers, compression, GC headroom
 *    ├─ off-heap      3/16      -XX:MaxDirectMemorySize: Netty buffers
 *    │  └─ NBD in flight 1/2 of it (at most 1/8 of the heap): WRITE/READ payloads of all NBD
 *    │                   connections with the journal
 *    └─ RocksDB       3/16      memtables of all volumes (3/4 of it) and the block cache (1/4)
 * </pre>
 *
 * <p>A full share back-pressures, it never fails: a full NBD share leaves further requests unread
 * on their sockets until payloads drain (a request alone on an idle server is always admitted, so
 * any single request fits); a full WAN window stops the volume's shipper reading history until the
 * standby acknowledges; a full volume-write backlog makes the journal acknowledge writes only after
 * the volume file holds them; the tail caches and the block cache evict (the journal on disk holds
 * everything); full memtables are flushed.
 *
 * @param budgetBytes the whole budget
 * @param volumes the number of volumes sharing it (at least 1 for the arithmetic)
 */
public record MemoryBudget(long budgetBytes, int volumes) {
  private static final long MIB = 1L << 20;

  /** Default budget: half of a 1 GiB appliance, the rest left to the OS and the page cache. */
  public static final long DEFAULT_BYTES = 512 * MIB;

  /** Memory of the JVM itself and its native libraries, outside every share. */
  public static final long RUNTIME_RESERVE_BYTES = 112 * MIB;

  /** Smallest heap a site runs with. */
  static final long MIN_HEAP_BYTES = 96 * MIB;

  /** Smallest tail cache and WAN window of one volume. */
  static final long MIN_PER_VOLUME_BYTES = MIB;

  /** Largest WAN window of one volume (more does not fill a link faster). */
  static final long MAX_WINDOW_BYTES = 16 * MIB;

  /** Largest tail cache of one volume. */
  static final long MAX_TAIL_BYTES = 64 * MIB;

  public MemoryBudget {
    volumes = Math.max(1, volumes);
  }

  /**
   * Why this budget cannot run {@code volumes} volumes, in an operator's words, or null when it
   * can.
   */
  public String problem() {
    long least = leastFor(volumes);
    if (budgetBytes >= least) {
      return null;
    }
    return "memory.budget "
        + new DataSize(budgetBytes)
        + " cannot hold "
        + volumes
        + (volumes == 1 ? " volume" : " volumes")
        + ": the JVM needs "
        + (RUNTIME_RESERVE_BYTES / MIB)
        + " MiB, the heap at least "
        + (MIN_HEAP_BYTES / MIB)
        + " MiB and each volume 1 MiB of tail cache and 1 MiB of WAN window (a quarter of the heap"
        + " each); raise memory.budget to at least "
        + new DataSize(least)
        + " or run fewer volumes on this site";
  }

  /** The smallest budget, in whole MiB, that holds {@code volumes} volumes. */
  static long leastFor(int volumes) {
    long heap = Math.max(MIN_HEAP_BYTES, 4 * MIN_PER_VOLUME_BYTES * Math.max(1, volumes));
    // heap = usable * 5/8, rounded down to 4 MiB: ask for enough that rounding still leaves it.
    long usable = (heap + 4 * MIB) * 8 / 5;
    return RUNTIME_RESERVE_BYTES + (usable + MIB - 1) / MIB * MIB;
  }

  private long usable() {
    return Math.max(0, budgetBytes - RUNTIME_RESERVE_BYTES);
  }

  /** The JVM's maximum heap (-Xmx), a whole number of 4 MiB G1 regions. */
  public long heapBytes() {
    return Math.max(MIN_HEAP_BYTES, usable() * 5 / 8 / (4 * MIB) * (4 * MIB));
  }

  /** The JVM's direct-memory limit (-XX:MaxDirectMemorySize): Netty's buffers. */
  public long directBytes() {
    return Math.max(16 * MIB, usable() * 3 / 16 / MIB * MIB);
  }

  /**
   * NBD payload bytes of all connections with the device at once: they are held twice, as received
   * (off the heap) and as journal records (on it), so the share fits both.
   */
  public long nbdInFlightBytes() {
    return Math.min(directBytes() / 2, heapBytes() / 8);
  }

  /** RocksDB: memtables of all volumes and the block cache together. */
  public long rocksBytes() {
    return Math.max(8 * MIB, usable() * 3 / 16 / MIB * MIB);
  }

  public long memtableBytes() {
    return rocksBytes() * 3 / 4;
  }

  public long blockCacheBytes() {
    return rocksBytes() - memtableBytes();
  }

  /** Each volume's journal tail cache. */
  public long tailCacheBytesPerVolume() {
    return clamp(heapBytes() / 4 / volumes, MAX_TAIL_BYTES);
  }

  /**
   * Journaled writes (all volumes) whose write to the primary's volume file is still pending: past
   * it, acknowledgements wait for the volume file.
   */
  public long volumeWriteBacklogBytes() {
    return heapBytes() / 8;
  }

  /** Each volume's window of shipped, unacknowledged bytes. */
  public int wanWindowBytesPerVolume() {
    return (int) clamp(heapBytes() / 4 / volumes, MAX_WINDOW_BYTES);
  }

  private static long clamp(long share, long most) {
    return Math.min(most, Math.max(MIN_PER_VOLUME_BYTES, share / MIB * MIB));
  }

  /** The JVM options that make the process fit the budget (what the launchers pass). */
  public List<String> jvmOptions() {
    return List.of(
        "-Xms" + Math.min(64, heapBytes() / MIB) + "m",
        "-Xmx" + heapBytes() / MIB + "m",
        "-XX:MaxDirectMemorySize=" + directBytes() / MIB + "m",
        "-XX:+ExitOnOutOfMemoryError");
  }

  /** One line for the start-up log and {@code status}. */
  public String describe() {
    return "memory budget "
        + mib(budgetBytes)
        + " for "
        + volumes
        + (volumes == 1 ? " volume" : " volumes")
        + ": heap "
        + mib(heapBytes())
        + " (tail cache "
        + mib(tailCacheBytesPerVolume())
        + " and WAN window "
        + mib(wanWindowBytesPerVolume())
        + " per volume, volume-write backlog "
        + mib(volumeWriteBacklogBytes())
        + "), off-heap "
        + mib(directBytes())
        + " (NBD in flight "
        + mib(nbdInFlightBytes())
        + "), RocksDB "
        + mib(rocksBytes())
        + " (memtables "
        + mib(memtableBytes())
        + ", block cache "
        + mib(blockCacheBytes())
        + "), JVM runtime "
        + mib(RUNTIME_RESERVE_BYTES);
  }

  private static String mib(long bytes) {
    return bytes % MIB == 0
        ? bytes / MIB + " MiB"
        : String.format("%.1f MiB", bytes / (double) MIB);
  }
}
