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
 *    ├─ heap          the rest  the JVM's -Xmx (the launcher passes it): 5/8 with few volumes
 *    │  ├─ tail caches   1/4 of the heap, split evenly: each volume's recent journal entries
 *    │  ├─ WAN windows   1/4 of the heap, split evenly: each volume's unacknowledged shipped bytes
 *    │  ├─ volume writes 1/8 of the heap: journaled writes waiting for the primary's volume file
 *    │  ├─ NBD in flight as journal records (the same bytes as below, at most 1/8 of the heap)
 *    │  └─ the rest      WAN receive buffers, compression, GC headroom
 *    ├─ off-heap      3/16      -XX:MaxDirectMemorySize: Netty buffers; with many volumes more:
 *    │                          NBD in flight + 3 MiB per volume (receive buffers) + 16 MiB
 *    │  └─ NBD in flight 5/64 of usable (at most 1/8 of the heap): WRITE/READ payloads of all NBD
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
        + " MiB, the heap at least "
        + (MIN_HEAP_BYTES / MIB)
        + " MiB and 4 MiB per volume (tail cache and WAN window), off-heap memory 3 MiB per volume"
        + " (NBD receive buffers); raise memory.budget to at least "
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
  static long leastFor(int volumes) {
    long b = RUNTIME_RESERVE_BYTES + MIN_HEAP_BYTES;
    while (!new MemoryBudget(b, volumes).fits()) {
      b += 4 * MIB;
    }
    return b;
  }

  private long usable() {
    return Math.max(0, budgetBytes - RUNTIME_RESERVE_BYTES);
  }

  /** The JVM's maximum heap (-Xmx): what the other shares leave, in whole 4 MiB G1 regions. */
  public long heapBytes() {
    long rest = usable() - directBytes() - rocksBytes();
    return Math.max(4 * MIB, rest / (4 * MIB) * (4 * MIB));
  }

  /**
   * The JVM's direct-memory limit (-XX:MaxDirectMemorySize): Netty's buffers. 3/16 of the usable
   * budget, or with many volumes what their connections need: the NBD in-flight share, 3 MiB per
   * volume (a connection's receive buffers: the request that waits and the next one arriving) and
   * 16 MiB for the WAN link and the admin port.
   */
  public long directBytes() {
    long least = nbdShareOfUsable() + volumes * 3 * MIB + 16 * MIB;
    return Math.max(least, usable() * 3 / 16 / MIB * MIB);
  }

  /**
   * The JVM's direct-memory limit: the whole budget, not the off-heap share. NBD receive buffers
   * (what the decoder holds of requests arriving while a session waits for its share) are not
   * admitted through a share, and under 32 volumes of 1 MiB writes at QD16 Netty reserved over 270
   * MiB; a failed Netty allocation closes a host's connection, which is worse than an overshoot.
   */
  public long directLimitBytes() {
    return budgetBytes;
  }

  private long nbdShareOfUsable() {
    return usable() * 5 / 64;
  }

  /**
   * NBD payload bytes of all connections with the device at once: they are held twice, as received
   * (off the heap) and as journal records (on it), so the share is at most 1/8 of the heap.
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
        "-XX:MaxDirectMemorySize=" + sites * directLimitBytes() / MIB + "m",
        "-XX:+ExitOnOutOfMemoryError");
  }

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
        + mib(RUNTIME_RESERVE_BYTES);
  }

  private static String mib(long bytes) {
    return bytes % MIB == 0
        ? bytes / MIB + " MiB"
        : String.format("%.1f MiB", bytes / (double) MIB);
  }
}
