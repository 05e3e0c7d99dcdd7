package io.kagami.site.config;

import java.util.List;

/**
 * A site's memory budget ({@code memory.budget}) and the shares it is split into, computed once
 * from the budget and the number of volumes. Every cache, buffer and in-flight window of the site
 * is one of these shares, never a per-volume constant, so adding volumes divides the budget instead
 * of growing the process; what the JVM itself needs (and what each volume costs it) is reserved
 * first:
 *
 * <pre>
 * budget                        e.g. 512 MiB (the default, for a 1 GiB appliance)
 * ├─ JVM runtime     RUNTIME_RESERVE_BYTES + RUNTIME_PER_VOLUME_BYTES per volume: class metadata,
 * │                  JIT code, GC data, thread stacks, native libraries and their mapped code,
 * │                  malloc's own overhead
 * └─ usable = budget − JVM runtime
 *    ├─ off-heap      3/16, at least 16 MiB + NBD in flight + 2 MiB per volume: the JVM's
 *    │                -XX:MaxDirectMemorySize (Netty's receive buffers, READ replies and WAN
 *    │                frames; each volume's 1 MiB segment write buffer; the JDK's temporary I/O
 *    │                buffers, none cached above 256 KiB)
 *    ├─ RocksDB       3/16: one cache holding the block cache (1/4) with the memtables of all
 *    │                volumes (3/4) charged to it
 *    └─ heap          the rest (the JVM's -Xmx)
 *       ├─ tail caches   1/4, split evenly: each volume's recent journal entries
 *       ├─ WAN windows   1/4, split evenly: each volume's unacknowledged shipped bytes
 *       ├─ volume writes 1/8: journaled writes waiting for the primary's volume file
 *       ├─ NBD in flight 5/64 of usable, at most 1/8 of the heap: WRITE payloads, received
 *       │                into the arrays that become their journal records, and READ replies
 *       │                (those off the heap, within the off-heap share)
 *       └─ the rest      WAN receive buffers, compression, GC headroom
 * </pre>
 *
 * <p>A full share back-pressures, it never fails: a WRITE whose payload does not fit the NBD share
 * is not received (its connection is not read) until payloads drain (a request alone on an idle
 * server is always admitted, so any single request fits); a full WAN window stops the volume's
 * shipper reading history until the standby acknowledges; a full volume-write backlog makes the
 * journal acknowledge writes only after the volume file holds them; the tail caches and the block
 * cache evict (the journal on disk holds everything); full memtables are flushed.
 *
 * @param budgetBytes the whole budget
 * @param volumes the number of volumes sharing it (at least 1 for the arithmetic)
 */
public record MemoryBudget(long budgetBytes, int volumes) {
  private static final long MIB = 1L << 20;

  /** Default budget: half of a 1 GiB appliance, the rest left to the OS and the page cache. */
  public static final long DEFAULT_BYTES = 512 * MIB;

  /**
   * Memory of the JVM itself and its native libraries, outside every share, with no volume:
   * measured under write load with Native Memory Tracking (benchmarks/memory-budget.py).
   */
  public static final long RUNTIME_RESERVE_BYTES = 144 * MIB;

  /**
   * What each volume adds to the JVM runtime: its threads' stacks, RocksDB's column family (its
   * memtable's first block, table readers) and its part of every per-volume structure.
   */
  public static final long RUNTIME_PER_VOLUME_BYTES = 1 * MIB;

  /** Off-heap memory of each volume: its segment write buffer and a waiting receive buffer. */
  static final long DIRECT_PER_VOLUME_BYTES = 2 * MIB;

  /** Off-heap memory whatever the volumes: NBD and WAN event loops, JDK I/O buffers. */
  static final long DIRECT_FIXED_BYTES = 16 * MIB;

  /** Largest temporary direct buffer the JDK keeps per thread for I/O on heap buffers. */
  static final long MAX_CACHED_IO_BUFFER_BYTES = 256 << 10;

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
    if (fits()) {
      return null;
    }
    return "memory.budget "
        + new DataSize(budgetBytes)
        + " cannot hold "
        + volumes
        + (volumes == 1 ? " volume" : " volumes")
        + ": the JVM needs "
        + (RUNTIME_RESERVE_BYTES / MIB)
        + " MiB and "
        + (RUNTIME_PER_VOLUME_BYTES / MIB)
        + " MiB per volume, the heap at least "
        + (MIN_HEAP_BYTES / MIB)
        + " MiB and 4 MiB per volume (tail cache and WAN window), off-heap memory "
        + (DIRECT_PER_VOLUME_BYTES / MIB)
        + " MiB per volume (segment write buffer, NBD receive buffer); raise memory.budget to at"
        + " least "
        + new DataSize(leastFor(volumes))
        + " or run fewer volumes on this site";
  }

  private boolean fits() {
    return usable() > 0 && heapBytes() >= minHeapBytes();
  }

  private long minHeapBytes() {
    return Math.max(MIN_HEAP_BYTES, 4 * MIN_PER_VOLUME_BYTES * volumes);
  }

  /** The smallest budget, in whole 4 MiB steps, that holds {@code volumes} volumes. */
  public static long leastFor(int volumes) {
    long b = RUNTIME_RESERVE_BYTES + MIN_HEAP_BYTES;
    while (!new MemoryBudget(b, volumes).fits()) {
      b += 4 * MIB;
    }
    return b;
  }

  private long usable() {
    return Math.max(0, budgetBytes - runtimeBytes());
  }

  /** The JVM's own memory: outside every share. */
  public long runtimeBytes() {
    return RUNTIME_RESERVE_BYTES + RUNTIME_PER_VOLUME_BYTES * volumes;
  }

  /** The JVM's maximum heap (-Xmx): what the other shares leave, in whole 4 MiB G1 regions. */
  public long heapBytes() {
    long rest = usable() - directBytes() - rocksBytes();
    return Math.max(4 * MIB, rest / (4 * MIB) * (4 * MIB));
  }

  /**
   * The JVM's direct-memory limit (-XX:MaxDirectMemorySize). 3/16 of the usable budget, or with
   * many volumes what they need: 16 MiB for the event loops' receive buffers, the WAN link's frames
   * and the JDK's I/O buffers, the NBD in-flight share (READ replies), and 2 MiB per volume (its
   * segment write buffer, and the one receive buffer a connection holds while its next WRITE waits
   * for the NBD share).
   */
  public long directBytes() {
    long least = DIRECT_FIXED_BYTES + nbdShareOfUsable() + volumes * DIRECT_PER_VOLUME_BYTES;
    return Math.max(least, usable() * 3 / 16 / MIB * MIB);
  }

  private long nbdShareOfUsable() {
    return usable() * 5 / 64;
  }

  /**
   * NBD payload bytes of all connections with the device at once: WRITE payloads on the heap (the
   * arrays they are received into become their journal records) and READ replies off it, so the
   * share is at most 1/8 of the heap, and the off-heap share holds it beside its other users.
   */
  public long nbdInFlightBytes() {
    return Math.max(MIB, Math.min(nbdShareOfUsable(), heapBytes() / 8));
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
    return jvmOptions(1);
  }

  /**
   * The JVM options of a process that runs {@code sites} sites of this budget side by side ({@code
   * kagami demo} runs a primary and a standby in one JVM): each site sizes its shares from its own
   * budget, so the heap and the direct-memory limit are the sum of theirs. Sized for one site, the
   * demo's two sites shared one site's heap and its 1 MiB writes ran at less than half the speed
   * (fio-nbd.sh: 115-148 MiB/s against 250 with the heap of two).
   */
  public List<String> jvmOptions(int sites) {
    if (sites < 1) {
      throw new IllegalArgumentException("sites must be at least 1, not " + sites);
    }
    return List.of(
        "-Xms" + Math.min(64, heapBytes() / MIB) + "m",
        "-Xmx" + sites * heapBytes() / MIB + "m",
        "-XX:MaxDirectMemorySize=" + sites * directBytes() / MIB + "m",
        // Threads that write heap buffers to files (the volume writes, the standby's appliers)
        // would each keep a direct copy of the largest they wrote, outside every share.
        "-Djdk.nio.maxCachedBufferSize=" + MAX_CACHED_IO_BUFFER_BYTES,
        // Memory that RocksDB, the JIT compilers and short-lived threads free goes back to the OS
        // within seconds, instead of staying resident in malloc's arenas.
        "-XX:TrimNativeHeapInterval=" + TRIM_INTERVAL_MS,
        "-XX:+ExitOnOutOfMemoryError");
  }

  /** How often the JVM gives memory that malloc holds free back to the OS. */
  static final int TRIM_INTERVAL_MS = 5000;

  /**
   * A warning when a JVM whose largest heap is {@code maxHeapBytes} runs {@code sites} sites of
   * this budget with more heap than their shares (a site started without the launcher's options can
   * outgrow its budget), or null when it fits.
   */
  public String heapWarning(long maxHeapBytes, int sites) {
    if (maxHeapBytes <= sites * heapBytes() * 5 / 4) {
      return null;
    }
    return "the JVM's heap ("
        + (maxHeapBytes >> 20)
        + " MiB) is larger than the heap share of memory.budget ("
        + (sites * heapBytes() >> 20)
        + " MiB"
        + (sites == 1 ? "" : " for " + sites + " sites")
        + "): the process can outgrow its budget; start it with the kagami launcher, which passes "
        + String.join(" ", jvmOptions(sites));
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
        + mib(runtimeBytes());
  }

  private static String mib(long bytes) {
    return bytes % MIB == 0
        ? bytes / MIB + " MiB"
        : String.format("%.1f MiB", bytes / (double) MIB);
  }
}
