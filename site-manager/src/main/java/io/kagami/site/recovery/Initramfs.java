package io.kagami.site.recovery;

import com.github.luben.zstd.ZstdInputStream;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPInputStream;

/**
 * Whether a server's boot disk can find its root on a virtio disk: its kernel has the virtio block
 * driver ({@code virtio_blk}) built in, or its initramfs carries it as a module. Read from the disk
 * ({@link BootDisk}) without changing anything: each initramfs the boot loader names is a sequence
 * of cpio archives ({@code newc}, magic {@code 070701}/{@code 070702}), each uncompressed, gzip- or
 * zstd-compressed (an uncompressed early archive, e.g. CPU microcode, may precede the main one);
 * the module is an entry {@code .../virtio_blk.ko[.gz|.xz|.zst]}, and a built-in driver is listed
 * in the {@code modules.builtin} the initramfs carries. Other compressions (xz, lz4, bzip2, lzma)
 * are reported as not readable, never guessed.
 *
 * <p>newc header (ASCII hex, 110 bytes): magic 6, then 13 fields of 8: ino, mode, uid, gid, nlink,
 * mtime, filesize (at 54), devmajor, devminor, rdevmajor, rdevminor, namesize (at 94), check; the
 * name (with its NUL) and the data are each padded to 4 bytes; {@code TRAILER!!!} ends an archive.
 */
final class Initramfs {
  private Initramfs() {}

  /** What a boot disk says about the virtio block driver. */
  enum Verdict {
    /** The driver is in the initramfs or built into the kernel. */
    PRESENT,
    /** Every initramfs was read and none has it, nor does the kernel. */
    ABSENT,
    /** The disk or its initramfs could not be read: see the reason. */
    UNKNOWN
  }

  /** The verdict, the initramfs files read (their paths on the disk), and why when unknown. */
  record VirtioBlk(Verdict verdict, List<String> files, String reason) {}

  /** The largest amount of decompressed initramfs read: far beyond any real one. */
  static final long MAX_INFLATED = 4L << 30;

  /** Inspects the boot disk image {@code disk} (a replica file), read-only; never throws. */
  static VirtioBlk virtioBlk(Path disk) {
    List<BootDisk.BootFile> files;
    try {
      files = BootDisk.initramfs(disk);
    } catch (BootDisk.UnreadableException e) {
      return new VirtioBlk(Verdict.UNKNOWN, List.of(), e.getMessage());
    } catch (IOException | RuntimeException e) {
      return new VirtioBlk(Verdict.UNKNOWN, List.of(), "reading the disk failed: " + e);
    }
    List<String> paths = files.stream().map(BootDisk.BootFile::path).toList();
    try {
      for (BootDisk.BootFile f : files) {
        if (hasVirtioBlk(f.bytes())) {
          return new VirtioBlk(Verdict.PRESENT, paths, null);
        }
      }
      return new VirtioBlk(Verdict.ABSENT, paths, null);
    } catch (UnreadableInitramfs e) {
      return new VirtioBlk(Verdict.UNKNOWN, paths, e.getMessage());
    } catch (IOException | RuntimeException e) {
      return new VirtioBlk(Verdict.UNKNOWN, paths, "reading the initramfs failed: " + e);
    }
  }

  private static final class UnreadableInitramfs extends Exception {
    UnreadableInitramfs(String message) {
      super(message);
    }
  }

  /** True when the initramfs {@code image} carries virtio_blk (module, or listed built in). */
  static boolean hasVirtioBlk(byte[] image) throws IOException, UnreadableInitramfs {
    int pos = 0;
    while (true) {
      while (pos < image.length && image[pos] == 0) {
        pos++; // padding between concatenated archives
      }
      if (pos >= image.length) {
        return false;
      }
      if (startsWith(image, pos, "0707")) {
        Scan s = scan(new ByteArrayInputStream(image, pos, image.length - pos));
        if (s.found) {
          return true;
        }
        pos += (int) s.consumed;
        if (s.consumed == 0) {
          return false;
        }
        continue;
      }
      if (pos + 1 < image.length
          && (image[pos] & 0xff) == 0x1f
          && (image[pos + 1] & 0xff) == 0x8b) {
        // The rest is compressed (possibly several concatenated archives inside).
        try (InputStream in =
            new GZIPInputStream(new ByteArrayInputStream(image, pos, image.length - pos))) {
          return scanAll(in);
        }
      }
      if (startsWith(image, pos, ZSTD_MAGIC)) {
        try (InputStream in =
            new ZstdInputStream(new ByteArrayInputStream(image, pos, image.length - pos))) {
          return scanAll(in);
        }
      }
      throw new UnreadableInitramfs(
          "its initramfs is compressed with "
              + compression(image, pos)
              + ", which Kagami does not read");
    }
  }

  private static String compression(byte[] b, int pos) {
    int x = b[pos] & 0xff;
    int y = pos + 1 < b.length ? b[pos + 1] & 0xff : -1;
    if (x == 0x28 && y == 0xb5) {
      return "zstd";
    }
    if (x == 0xfd && y == '7') {
      return "xz";
    }
    if (x == 0x04 && y == 0x22 || x == 0x02 && y == 0x21) {
      return "lz4";
    }
    if (x == 'B' && y == 'Z') {
      return "bzip2";
    }
    if (x == 0x5d) {
      return "lzma";
    }
    return "an unknown format";
  }

  /** A zstd frame's magic number, 0xFD2FB528 little-endian. */
  private static final String ZSTD_MAGIC = "\u0028\u00b5\u002f\u00fd";

  private static boolean startsWith(byte[] b, int pos, String s) {
    if (pos + s.length() > b.length) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      if ((b[pos + i] & 0xff) != s.charAt(i)) {
        return false;
      }
    }
    return true;
  }

  /** Archives one after another in an inflated stream, until its end. */
  private static boolean scanAll(InputStream in) throws IOException, UnreadableInitramfs {
    Counting c = new Counting(in);
    while (true) {
      Scan s = scan(c);
      if (s.found) {
        return true;
      }
      if (s.consumed == 0 || s.atEnd) {
        return false;
      }
    }
  }

  private record Scan(boolean found, long consumed, boolean atEnd) {}

  /** One cpio archive from {@code in}: whether it has virtio_blk, and the bytes it took. */
  private static Scan scan(InputStream raw) throws IOException, UnreadableInitramfs {
    Counting in = raw instanceof Counting c ? c : new Counting(raw);
    long start = in.count;
    // Zero padding before an archive (after the previous trailer).
    int first;
    do {
      first = in.read();
    } while (first == 0);
    if (first < 0) {
      return new Scan(false, in.count - start, true);
    }
    byte[] head = new byte[110];
    head[0] = (byte) first;
    while (true) {
      if (in.readNBytes(head, head[0] == 0 ? 0 : 1, head[0] == 0 ? 110 : 109)
          < (head[0] == 0 ? 110 : 109)) {
        return new Scan(false, in.count - start, true);
      }
      String magic = new String(head, 0, 6, StandardCharsets.US_ASCII);
      if (!magic.equals("070701") && !magic.equals("070702")) {
        throw new UnreadableInitramfs("its initramfs holds a cpio archive that is not newc");
      }
      long fileSize = hex(head, 54);
      int nameSize = (int) hex(head, 94);
      if (nameSize <= 0 || nameSize > 4096 || fileSize < 0) {
        throw new UnreadableInitramfs("its initramfs has a malformed cpio entry");
      }
      byte[] name = in.readNBytes(nameSize);
      skip(in, pad(110 + nameSize));
      String n = new String(name, 0, Math.max(0, nameSize - 1), StandardCharsets.UTF_8);
      if (n.equals("TRAILER!!!")) {
        return new Scan(false, in.count - start, false);
      }
      if (isVirtioBlkModule(n)) {
        return new Scan(true, in.count - start, false);
      }
      if (n.endsWith("/modules.builtin") && fileSize < (16 << 20)) {
        String list = new String(in.readNBytes((int) fileSize), StandardCharsets.UTF_8);
        skip(in, pad(fileSize));
        if (list.lines().anyMatch(Initramfs::isVirtioBlkModule)) {
          return new Scan(true, in.count - start, false);
        }
      } else {
        skip(in, fileSize + pad(fileSize));
      }
      if (in.count - start > MAX_INFLATED) {
        throw new UnreadableInitramfs("its initramfs is larger than Kagami reads");
      }
      head[0] = 0;
    }
  }

  private static boolean isVirtioBlkModule(String path) {
    String f = path.substring(path.lastIndexOf('/') + 1);
    return f.equals("virtio_blk.ko") || f.startsWith("virtio_blk.ko.");
  }

  private static int pad(long n) {
    return (int) ((4 - (n & 3)) & 3);
  }

  private static long hex(byte[] b, int at) throws UnreadableInitramfs {
    try {
      return Long.parseLong(new String(b, at, 8, StandardCharsets.US_ASCII), 16);
    } catch (NumberFormatException e) {
      throw new UnreadableInitramfs("its initramfs has a malformed cpio header");
    }
  }

  private static void skip(InputStream in, long n) throws IOException {
    long left = n;
    while (left > 0) {
      long k = in.skip(left);
      if (k <= 0) {
        if (in.read() < 0) {
          return;
        }
        k = 1;
      }
      left -= k;
    }
  }

  /** An input stream that counts what it gave. */
  private static final class Counting extends java.io.FilterInputStream {
    long count;

    Counting(InputStream in) {
      super(in);
    }

    @Override
    public int read() throws IOException {
      int b = super.read();
      if (b >= 0) {
        count++;
      }
      return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = super.read(b, off, len);
      if (n > 0) {
        count += n;
      }
      return n;
    }

    @Override
    public long skip(long n) throws IOException {
      long k = super.skip(n);
      count += Math.max(0, k);
      return k;
    }
  }
}
