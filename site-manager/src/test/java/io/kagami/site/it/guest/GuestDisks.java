package io.kagami.site.it.guest;

import io.kagami.testkit.tools.ExternalTool;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Bootable "physical server" test guests: raw disk images with an MBR partition table, SYSLINUX, a
 * Debian kernel with its initramfs and an ext4 root, built from Debian packages by {@code
 * src/test/guest/build-guest} (see that script for the layout and the cache). A guest boots from
 * its own disk, with no kernel passed to QEMU, under BIOS or UEFI firmware ({@link
 * GuestVm.Firmware}).
 *
 * <p>Usage, e.g. for a recovery test:
 *
 * <pre>{@code
 * Path db = GuestDisks.build("db", GuestDisks.Variant.VIRTIO);   // cached; cold: ~4 min
 * // copy it onto a Kagami volume (at least GuestDisks.DISK_BYTES):
 * GuestDisks.copyToNbd(db, "nbd://127.0.0.1:" + port + "/vol0");
 * try (GuestVm vm = GuestVm.boot(new GuestVm.Spec("db", dir, uri, GuestVm.Bus.VIRTIO))) {
 *   vm.await(GuestConsole.WROTE, Duration.ofMinutes(4), "first boot's data");
 * }
 * }</pre>
 *
 * <p>The returned path is the shared cache entry: never boot it directly (copy it, or boot through
 * a volume or overlay). Builds are serialised (in this JVM and, by a lock file, across processes);
 * a cold cache is built, never skipped. The builder needs root and the tools scripts/test installs.
 */
public final class GuestDisks {
  /** The disk's size: a Kagami volume that holds a guest must be at least this large. */
  public static final long DISK_BYTES = (1 + 32 + 256) << 20;

  /**
   * Where the ext4 root partition starts on the disk (after the 1 MiB MBR gap and the 32 MiB FAT
   * boot partition): e2fsprogs read it in place as {@code disk.raw?offset=ROOT_OFFSET}.
   */
  public static final long ROOT_OFFSET = (1 + 32) << 20;

  /** Where guest-init keeps its files and manifest on the root. */
  public static final String DATA_DIR = "/var/lib/kagami-guest";

  /** A cold build (root file system from Debian packages plus the disk) takes a few minutes. */
  private static final Duration BUILD_TIMEOUT = Duration.ofMinutes(20);

  /** Which disk drivers the guest's initramfs holds. */
  public enum Variant {
    /** virtio_blk/virtio_pci, AHCI, PIIX and sd_mod: boots from a virtio, SATA or IDE disk. */
    VIRTIO("virtio"),
    /**
     * No virtio_blk/virtio_pci: boots from SATA or IDE only; on virtio the initramfs never finds
     * the root ({@link GuestConsole#ROOT_NOT_FOUND}), as a physical server's initramfs built with
     * MODULES=dep on its own hardware.
     */
    NOVIRTIO("novirtio");

    private final String arg;

    Variant(String arg) {
      this.arg = arg;
    }
  }

  private GuestDisks() {}

  /**
   * The disk of guest {@code name} (its host name, e.g. {@code db}, {@code app}) in {@code
   * variant}, built or taken from the cache. Returns the cache entry (read-only by convention).
   */
  public static synchronized Path build(String name, Variant variant)
      throws IOException, InterruptedException {
    ExternalTool.Result r =
        ExternalTool.of(builder()).run(BUILD_TIMEOUT, "--name", name, "--variant", variant.arg);
    if (!r.succeeded()) {
      throw new AssertionError(
          "building guest disk " + name + " (" + variant.arg + ") failed: " + r.describe());
    }
    String out = r.stdout().strip();
    Path disk = Path.of(out.substring(out.lastIndexOf('\n') + 1));
    if (!Files.isRegularFile(disk)) {
      throw new AssertionError("build-guest printed no disk path: " + r.describe());
    }
    System.out.printf(
        "GuestDisks: %s (%s) ready in %.1f s: %s%n",
        name, variant.arg, r.elapsed().toMillis() / 1000.0, disk);
    return disk;
  }

  /**
   * Writes {@code disk} onto the NBD export at {@code uri} (e.g. {@code nbd://127.0.0.1:P/vol0})
   * with nbdcopy, flushing at the end: holes in the image are written as zeroes, as a host writing
   * a disk image would.
   */
  public static void copyToNbd(Path disk, String uri) throws IOException, InterruptedException {
    ExternalTool.require("nbdcopy").runOk(Duration.ofMinutes(5), "--flush", disk.toString(), uri);
  }

  /**
   * A copy of {@code disk} (a cache entry of {@link #build}) at {@code out} whose root holds {@code
   * conf} as {@code /etc/kagami-guest.conf}, the settings guest-init reads at every boot (e.g.
   * {@code PROBE=10.0.2.2:PORT}, {@code LIVE_ROUNDS=0}): written into the ext4 root in place with
   * debugfs, no mount. The copy is sparse (and a reflink where the file system can).
   */
  public static Path withConfig(Path disk, Path out, String conf)
      throws IOException, InterruptedException {
    ExternalTool.require("cp")
        .runOk(
            Duration.ofMinutes(2),
            "--reflink=auto",
            "--sparse=always",
            disk.toString(),
            out.toString());
    Path confFile = out.resolveSibling(out.getFileName() + ".kagami-guest.conf");
    Files.writeString(confFile, conf);
    Path commands = out.resolveSibling(out.getFileName() + ".debugfs");
    Files.writeString(
        commands, "cd /etc\nrm kagami-guest.conf\nwrite " + confFile + " kagami-guest.conf\n");
    String fs = out + "?offset=" + ROOT_OFFSET;
    ExternalTool debugfs = ExternalTool.require("debugfs");
    debugfs.runOk(Duration.ofMinutes(1), "-w", "-f", commands.toString(), fs);
    ExternalTool.Result back =
        debugfs.runOk(Duration.ofMinutes(1), "-R", "cat /etc/kagami-guest.conf", fs);
    if (!back.stdout().equals(conf)) {
      throw new AssertionError(
          "debugfs did not write /etc/kagami-guest.conf into " + out + ": " + back.describe());
    }
    return out;
  }

  /** The builder script: {@code src/test/guest/build-guest} of the site-manager module. */
  public static Path builder() {
    Path here = Path.of("").toAbsolutePath();
    for (Path p = here; p != null; p = p.getParent()) {
      for (Path candidate :
          new Path[] {
            p.resolve("src/test/guest/build-guest"),
            p.resolve("site-manager/src/test/guest/build-guest")
          }) {
        if (Files.isExecutable(candidate)) {
          return candidate;
        }
      }
    }
    throw new IllegalStateException(
        "site-manager/src/test/guest/build-guest not found above " + here);
  }
}
