package io.kagami.site.recovery;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Reads, read-only, what a server's boot disk (the replica of its first volume) would boot: the
 * partition table (MBR, or GPT behind a protective MBR), each FAT partition on it, the SYSLINUX or
 * EXTLINUX configuration there ({@code syslinux.cfg}, {@code extlinux.conf}, also under {@code
 * /syslinux}, {@code /boot/syslinux}, {@code /EFI/BOOT}) and the initramfs files its default entry
 * names ({@code INITRD}, or {@code initrd=} in {@code APPEND}). What {@code recover plan} needs to
 * tell whether the server can find its root disk on the bus it is given ({@link Initramfs}).
 *
 * <p>Anything it cannot read (no partition table, no FAT partition, a GRUB or other loader, a file
 * system it does not know) is an {@link UnreadableException} with the reason, never a guess.
 * Bounded: directory walks and cluster chains stop at the partition's size, a file at {@link
 * #MAX_FILE_BYTES}.
 *
 * <p>Layouts (little-endian): MBR entries at 446 + 16·i (type at +4, first LBA at +8, sectors at
 * +12), signature 0x55AA at 510; GPT header at LBA 1 ({@code EFI PART}; entries' LBA at 72, count
 * at 80, entry size at 84; an entry's first and last LBA at 32 and 40); FAT boot sector: bytes per
 * sector at 11, sectors per cluster 13, reserved sectors 14, FATs 16, root entries 17, sectors (16
 * bit) 19, sectors per FAT (16 bit) 22, sectors (32 bit) 32, FAT32 sectors per FAT 36 and root
 * cluster 44; 32-byte directory entries (name 0..10, attributes 11, cluster high 20, low 26, size
 * 28; long names in entries of attribute 0x0F).
 */
final class BootDisk {
  /** The largest boot file read: a kernel's initramfs is tens of MiB. */
  static final int MAX_FILE_BYTES = 512 << 20;

  private static final String[] CONFIGS = {
    "/syslinux.cfg",
    "/syslinux/syslinux.cfg",
    "/boot/syslinux/syslinux.cfg",
    "/extlinux.conf",
    "/extlinux/extlinux.conf",
    "/boot/extlinux/extlinux.conf",
    "/EFI/BOOT/syslinux.cfg"
  };

  /** Why the disk's boot files could not be read. */
  static final class UnreadableException extends Exception {
    UnreadableException(String message) {
      super(message);
    }
  }

  /** A boot file read from the disk: its path as the boot loader names it, and its bytes. */
  record BootFile(String path, byte[] bytes) {}

  private final FileChannel disk;
  private final long size;

  private BootDisk(FileChannel disk) throws IOException {
    this.disk = disk;
    this.size = disk.size();
  }

  /**
   * The initramfs files the default boot entry of {@code image} loads, in order; refused with the
   * reason when the disk's boot loader or file systems are not ones this class reads.
   */
  static List<BootFile> initramfs(Path image) throws IOException, UnreadableException {
    try (FileChannel ch = FileChannel.open(image, StandardOpenOption.READ)) {
      return new BootDisk(ch).initramfs();
    }
  }

  private List<BootFile> initramfs() throws IOException, UnreadableException {
    List<long[]> partitions = partitions();
    List<String> seen = new ArrayList<>();
    for (long[] p : partitions) {
      Fat fat = Fat.at(this, p[0] * 512, p[1] * 512);
      if (fat == null) {
        continue;
      }
      for (String c : CONFIGS) {
        byte[] cfg = fat.read(c);
        if (cfg == null) {
          continue;
        }
        List<String> paths = initrdPaths(new String(cfg, StandardCharsets.ISO_8859_1));
        if (paths.isEmpty()) {
          throw new UnreadableException(c + " names no initramfs (no INITRD or initrd=)");
        }
        List<BootFile> out = new ArrayList<>();
        for (String path : paths) {
          String abs = path.startsWith("/") ? path : c.substring(0, c.lastIndexOf('/') + 1) + path;
          byte[] b = fat.read(abs);
          if (b == null) {
            throw new UnreadableException(c + " names " + path + ", which is not on the disk");
          }
          out.add(new BootFile(abs, b));
        }
        return out;
      }
      seen.add("FAT partition at sector " + p[0]);
    }
    throw new UnreadableException(
        seen.isEmpty()
            ? "no FAT boot partition (a GRUB or other boot loader, or a file system Kagami does not read)"
            : "no SYSLINUX or EXTLINUX configuration on the "
                + String.join(", ", seen)
                + " (a GRUB or other boot loader Kagami does not read)");
  }

  /** Each partition's first sector and sector count. */
  private List<long[]> partitions() throws IOException, UnreadableException {
    ByteBuffer mbr = read(0, 512);
    if ((mbr.getShort(510) & 0xffff) != 0xaa55) {
      throw new UnreadableException("no partition table (the disk is blank or not a boot disk)");
    }
    List<long[]> out = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      int e = 446 + 16 * i;
      int type = mbr.get(e + 4) & 0xff;
      long first = mbr.getInt(e + 8) & 0xffffffffL;
      long count = mbr.getInt(e + 12) & 0xffffffffL;
      if (type == 0xee) {
        return gpt();
      }
      if (type != 0 && count > 0) {
        out.add(new long[] {first, count});
      }
    }
    if (out.isEmpty()) {
      throw new UnreadableException("the partition table holds no partition");
    }
    return out;
  }

  private List<long[]> gpt() throws IOException, UnreadableException {
    ByteBuffer h = read(512, 512);
    byte[] sig = new byte[8];
    h.get(0, sig);
    if (!new String(sig, StandardCharsets.US_ASCII).equals("EFI PART")) {
      throw new UnreadableException("a protective MBR without a GPT header behind it");
    }
    long entries = h.getLong(72);
    int count = Math.min(h.getInt(80), 256);
    int entrySize = h.getInt(84);
    if (entrySize < 128 || entrySize > 4096) {
      throw new UnreadableException("GPT entries of " + entrySize + " bytes");
    }
    List<long[]> out = new ArrayList<>();
    ByteBuffer all = read(entries * 512, count * entrySize);
    for (int i = 0; i < count; i++) {
      int e = i * entrySize;
      if (all.getLong(e) == 0 && all.getLong(e + 8) == 0) {
        continue; // unused entry
      }
      long first = all.getLong(e + 32);
      long last = all.getLong(e + 40);
      if (first > 0 && last >= first) {
        out.add(new long[] {first, last - first + 1});
      }
    }
    return out;
  }

  /** {@code length} bytes at {@code pos} (zeros past the end of the disk). */
  ByteBuffer read(long pos, int length) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
    while (b.hasRemaining() && pos + b.position() < size) {
      if (disk.read(b, pos + b.position()) < 0) {
        break;
      }
    }
    return b.clear();
  }

  /**
   * The initramfs paths of the default entry of a SYSLINUX configuration: the {@code DEFAULT}
   * label's (else the first label's) {@code INITRD} or {@code initrd=} of its {@code APPEND}, each
   * of a comma-separated list.
   */
  static List<String> initrdPaths(String cfg) {
    String def = null;
    String label = null;
    String first = null;
    java.util.Map<String, String> initrds = new java.util.LinkedHashMap<>();
    for (String raw : cfg.split("\r?\n")) {
      String line = raw.strip();
      int sp = line.indexOf(' ');
      String word = (sp < 0 ? line : line.substring(0, sp)).toUpperCase(Locale.ROOT);
      String rest = sp < 0 ? "" : line.substring(sp + 1).strip();
      switch (word) {
        case "DEFAULT" -> def = rest.split("\\s+")[0];
        case "LABEL" -> {
          label = rest;
          if (first == null) {
            first = rest;
          }
        }
        case "INITRD" -> {
          if (label != null) {
            initrds.put(label, rest);
          }
        }
        case "APPEND" -> {
          for (String arg : rest.split("\\s+")) {
            if (label != null && arg.startsWith("initrd=")) {
              initrds.putIfAbsent(label, arg.substring("initrd=".length()));
            }
          }
        }
        default -> {}
      }
    }
    String chosen = def != null && initrds.containsKey(def) ? def : first;
    String list = chosen == null ? null : initrds.get(chosen);
    List<String> out = new ArrayList<>();
    if (list != null) {
      for (String p : list.split(",")) {
        if (!p.isBlank()) {
          out.add(p.strip());
        }
      }
    }
    return out;
  }

  /** One FAT12/16/32 file system, read through the disk. */
  private static final class Fat {
    private final BootDisk disk;
    private final long base;
    private final int bytesPerSector;
    private final int clusterBytes;
    private final long fatStart;
    private final long dataStart;
    private final long rootDirStart;
    private final int rootDirBytes;
    private final long rootCluster;
    private final int bits;
    private final long clusters;

    private Fat(BootDisk disk, long base, ByteBuffer bs) {
      this.disk = disk;
      this.base = base;
      this.bytesPerSector = bs.getShort(11) & 0xffff;
      int sectorsPerCluster = bs.get(13) & 0xff;
      int reserved = bs.getShort(14) & 0xffff;
      int fats = bs.get(16) & 0xff;
      int rootEntries = bs.getShort(17) & 0xffff;
      long total = bs.getShort(19) & 0xffff;
      if (total == 0) {
        total = bs.getInt(32) & 0xffffffffL;
      }
      long fatSectors = bs.getShort(22) & 0xffff;
      if (fatSectors == 0) {
        fatSectors = bs.getInt(36) & 0xffffffffL;
      }
      this.clusterBytes = sectorsPerCluster * bytesPerSector;
      this.fatStart = base + (long) reserved * bytesPerSector;
      this.rootDirStart = fatStart + fats * fatSectors * bytesPerSector;
      this.rootDirBytes = rootEntries * 32;
      long rootDirSectors = (rootDirBytes + bytesPerSector - 1) / bytesPerSector;
      this.dataStart = rootDirStart + rootDirSectors * bytesPerSector;
      long dataSectors = total - reserved - fats * fatSectors - rootDirSectors;
      this.clusters = dataSectors / Math.max(1, sectorsPerCluster);
      this.bits = clusters < 4085 ? 12 : clusters < 65525 ? 16 : 32;
      this.rootCluster = bits == 32 ? bs.getInt(44) & 0x0fffffffL : 0;
    }

    /** The FAT file system at {@code base}, or null when the partition holds none. */
    static Fat at(BootDisk disk, long base, long length) throws IOException {
      ByteBuffer bs = disk.read(base, 512);
      int bps = bs.getShort(11) & 0xffff;
      int spc = bs.get(13) & 0xff;
      boolean fatLike =
          (bs.getShort(510) & 0xffff) == 0xaa55
              && (bps == 512 || bps == 1024 || bps == 2048 || bps == 4096)
              && spc > 0
              && Integer.bitCount(spc) == 1
              && (bs.get(16) & 0xff) > 0
              && (bs.getShort(14) & 0xffff) > 0;
      return fatLike && length > 0 ? new Fat(disk, base, bs) : null;
    }

    /** The file at {@code path} (case-insensitive, '/'-separated), or null when there is none. */
    byte[] read(String path) throws IOException, UnreadableException {
      Entry e = null;
      for (String part : path.split("/")) {
        if (part.isEmpty()) {
          continue;
        }
        List<Entry> dir = e == null ? rootDir() : list(e);
        e = null;
        for (Entry c : dir) {
          if (c.name.equalsIgnoreCase(part)) {
            e = c;
            break;
          }
        }
        if (e == null) {
          return null;
        }
      }
      if (e == null || e.directory) {
        return null;
      }
      if (e.size > MAX_FILE_BYTES) {
        throw new UnreadableException(path + " is " + e.size + " bytes, beyond what Kagami reads");
      }
      return contents(e.cluster, (int) e.size);
    }

    private record Entry(String name, boolean directory, long cluster, long size) {}

    private List<Entry> rootDir() throws IOException, UnreadableException {
      if (bits == 32) {
        return entries(contents(rootCluster, -1));
      }
      ByteBuffer b = disk.read(rootDirStart, rootDirBytes);
      byte[] a = new byte[rootDirBytes];
      b.get(a);
      return entries(a);
    }

    private List<Entry> list(Entry dir) throws IOException, UnreadableException {
      return dir.directory ? entries(contents(dir.cluster, -1)) : List.of();
    }

    /** A cluster chain's bytes: {@code length} of them, or (-1) the whole chain. */
    private byte[] contents(long cluster, int length) throws IOException, UnreadableException {
      java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
      long c = cluster;
      long steps = 0;
      while (c >= 2 && c < clusters + 2 && (length < 0 || out.size() < length)) {
        if (++steps > clusters) {
          throw new UnreadableException("a FAT cluster chain loops");
        }
        ByteBuffer b = disk.read(dataStart + (c - 2) * clusterBytes, clusterBytes);
        int n = length < 0 ? clusterBytes : Math.min(clusterBytes, length - out.size());
        out.write(b.array(), 0, n);
        c = next(c);
      }
      if (length >= 0 && out.size() < length) {
        throw new UnreadableException("a file's cluster chain ends before its size");
      }
      return out.toByteArray();
    }

    private long next(long cluster) throws IOException {
      return switch (bits) {
        case 12 -> {
          long off = cluster + cluster / 2;
          ByteBuffer b = disk.read(fatStart + off, 2);
          int v = b.getShort(0) & 0xffff;
          v = (cluster & 1) == 0 ? v & 0xfff : v >>> 4;
          yield v >= 0xff8 ? -1 : v;
        }
        case 16 -> {
          int v = disk.read(fatStart + cluster * 2, 2).getShort(0) & 0xffff;
          yield v >= 0xfff8 ? -1 : v;
        }
        default -> {
          long v = disk.read(fatStart + cluster * 4, 4).getInt(0) & 0x0fffffffL;
          yield v >= 0x0ffffff8L ? -1 : v;
        }
      };
    }

    private List<Entry> entries(byte[] dir) {
      List<Entry> out = new ArrayList<>();
      StringBuilder lfn = new StringBuilder();
      ByteBuffer b = ByteBuffer.wrap(dir).order(ByteOrder.LITTLE_ENDIAN);
      for (int e = 0; e + 32 <= dir.length; e += 32) {
        int first = dir[e] & 0xff;
        if (first == 0) {
          break;
        }
        int attr = dir[e + 11] & 0xff;
        if (first == 0xe5) {
          lfn.setLength(0);
          continue;
        }
        if (attr == 0x0f) {
          StringBuilder part = new StringBuilder();
          for (int[] r : new int[][] {{1, 5}, {14, 6}, {28, 2}}) {
            for (int k = 0; k < r[1]; k++) {
              char ch = b.getChar(e + r[0] + 2 * k);
              if (ch == 0 || ch == 0xffff) {
                break;
              }
              part.append(ch);
            }
          }
          lfn.insert(0, part); // long-name entries come last piece first
          continue;
        }
        if ((attr & 0x08) != 0) {
          lfn.setLength(0);
          continue; // volume label
        }
        String base = new String(dir, e, 8, StandardCharsets.ISO_8859_1).strip();
        String ext = new String(dir, e + 8, 3, StandardCharsets.ISO_8859_1).strip();
        String shortName = ext.isEmpty() ? base : base + "." + ext;
        String name = lfn.isEmpty() ? shortName : lfn.toString();
        lfn.setLength(0);
        long cluster = ((long) (b.getShort(e + 20) & 0xffff) << 16) | (b.getShort(e + 26) & 0xffff);
        long size = b.getInt(e + 28) & 0xffffffffL;
        boolean directory = (attr & 0x10) != 0;
        if (!name.equals(".") && !name.equals("..")) {
          out.add(new Entry(name, directory, cluster, size));
          if (!name.equalsIgnoreCase(shortName)) {
            out.add(new Entry(shortName, directory, cluster, size));
          }
        }
      }
      return out;
    }
  }
}
