package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.site.it.guest.GuestConsole;
import io.kagami.site.it.guest.GuestDisks;
import io.kagami.site.it.guest.GuestVm;
import io.kagami.testkit.net.FreePorts;
import io.kagami.testkit.tools.ExternalTool;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real Linux "physical server" boots from its own disk on a Kagami volume (partition table,
 * SYSLINUX, kernel, initramfs and root all on the volume; QEMU gets no kernel), writes data with a
 * checksum manifest through the primary, loses its power mid-write, and after the primary is killed
 * (kill -9) and the standby promoted it boots from the standby's export and its data verifies. (A
 * server whose initramfs lacks virtio_blk, on SATA and on virtio: RecoverDiskBusIT, through {@code
 * kagami recover}.)
 *
 * <p>Guests run under TCG (no KVM), one at a time, 256 MiB, one vCPU; the disks come from {@link
 * GuestDisks} (built from Debian packages when the cache is cold). Prints boot-to-marker seconds.
 */
class GuestBootIT {
  /** The guest disk plus room: volume sizes are multiples of 4 KiB. */
  private static final long VOLUME = GuestDisks.DISK_BYTES + (16L << 20);

  /** TCG boots take tens of seconds on an idle machine; the suite's load can make that minutes. */
  private static final Duration BOOT = Duration.ofMinutes(6);

  @TempDir Path dir;

  @Test
  void aGuestWritingThroughThePrimaryBootsFromThePromotedStandbyAndItsDataVerifies()
      throws Exception {
    Path disk = GuestDisks.build("db", GuestDisks.Variant.VIRTIO);
    try (TwoSites sites = new TwoSites(dir, VOLUME).start()) {
      GuestDisks.copyToNbd(disk, sites.primaryUri());

      int wrote;
      int live;
      try (GuestVm vm =
          GuestVm.boot(
              new GuestVm.Spec(
                  "db", dir.resolve("vm-primary"), sites.primaryUri(), GuestVm.Bus.VIRTIO))) {
        String boot = vm.await("KAGAMI-GUEST BOOT", BOOT, "the guest's init on the primary");
        System.out.printf(
            "GuestBootIT: power-on to init (root %s): %.1f s%n",
            boot.substring(boot.lastIndexOf(' ') + 1), vm.secondsSinceBoot());
        wrote = number(vm.await(GuestConsole.WROTE, BOOT, "first boot's files and manifest"));
        System.out.printf(
            "GuestBootIT: power-on to WROTE %d (first boot, primary export): %.1f s%n",
            wrote, vm.secondsSinceBoot());
        assertThat(wrote).isPositive();
        vm.await(GuestConsole.READY, BOOT, "the guest ready");
        // Power cut while the live writer runs: the copy is crash-consistent, not clean.
        live = number(vm.await("KAGAMI-GUEST LIVE (\\d+)", BOOT, "a live write round"));
        vm.powerCut();
      }

      sites.awaitInSync(Duration.ofMinutes(3));
      sites.primary.kill9();
      PromoteIT.Cli promoted =
          PromoteIT.cli("promote", "--admin", "127.0.0.1:" + sites.standbyAdmin);
      assertThat(promoted.exit()).as(promoted.output()).isZero();

      int health = FreePorts.loopbackPorts(1)[0];
      try (GuestVm vm =
          GuestVm.boot(
              new GuestVm.Spec(
                  "db",
                  dir.resolve("vm-standby"),
                  sites.standbyUri(),
                  GuestVm.Bus.VIRTIO,
                  256,
                  health))) {
        String verified =
            vm.await(GuestConsole.VERIFIED, BOOT, "verification on the promoted standby");
        System.out.printf(
            "GuestBootIT: power-on to '%s' (promoted standby export): %.1f s%n",
            verified, vm.secondsSinceBoot());
        assertThat(verified)
            .as("the guest's data on the promoted standby, against its manifest")
            .matches(".*" + GuestConsole.VERIFY_OK);
        assertThat(number(verified))
            .as("manifest entries on the replica (wrote %d, live writer reached %d)", wrote, live)
            .isGreaterThanOrEqualTo(live);
        vm.await(GuestConsole.READY, BOOT, "the recovered guest ready");
        assertThat(vm.awaitHealthy(Duration.ofMinutes(1))).isEqualTo("KAGAMI-GUEST HEALTHY db");
        System.out.printf(
            "GuestBootIT: power-on to health port answering: %.1f s%n", vm.secondsSinceBoot());
        vm.powerOff(Duration.ofMinutes(2));
      }
    }
  }

  @Test
  void theSameDiskBootsWithUefiAndItsVerificationCatchesAChangedBlock() throws Exception {
    Path disk = GuestDisks.build("db", GuestDisks.Variant.VIRTIO);
    Path overlay = overlay(disk, dir.resolve("uefi.qcow2"));
    int wrote;
    try (GuestVm vm =
        GuestVm.boot(
            new GuestVm.Spec(
                "db",
                dir.resolve("vm-uefi"),
                overlay.toString(),
                GuestVm.Bus.VIRTIO,
                256,
                0,
                GuestVm.Firmware.UEFI))) {
      vm.await("BdsDxe: starting", BOOT, "OVMF starting the disk's EFI boot loader");
      wrote = number(vm.await(GuestConsole.WROTE, BOOT, "the guest's first boot under UEFI"));
      System.out.printf("GuestBootIT: power-on to WROTE (UEFI): %.1f s%n", vm.secondsSinceBoot());
      vm.powerOff(Duration.ofMinutes(2));
    }
    assertThat(wrote).isGreaterThanOrEqualTo(3);

    // The verification can fail: zero one block of a file the manifest names, as a replica that
    // missed a write would hold, and boot again (BIOS this time).
    Path raw = dir.resolve("changed.raw");
    ExternalTool.require("qemu-img")
        .runOk(
            Duration.ofMinutes(2),
            "convert",
            "-q",
            "-f",
            "qcow2",
            "-O",
            "raw",
            overlay.toString(),
            raw.toString());
    String fs = raw + "?offset=" + GuestDisks.ROOT_OFFSET;
    String file = GuestDisks.DATA_DIR + "/files/f000003";
    String bmap =
        ExternalTool.require("debugfs")
            .runOk(Duration.ofMinutes(1), "-R", "bmap " + file + " 0", fs)
            .stdout();
    long block = Long.parseLong(bmap.strip().lines().reduce((a, b) -> b).orElseThrow().strip());
    String header =
        ExternalTool.require("dumpe2fs").runOk(Duration.ofMinutes(1), "-h", fs).stdout();
    Matcher bs = Pattern.compile("Block size:\\s+(\\d+)").matcher(header);
    assertThat(bs.find()).as("dumpe2fs -h: %s", header).isTrue();
    int blockSize = Integer.parseInt(bs.group(1));
    try (FileChannel ch = FileChannel.open(raw, StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.allocate(blockSize), GuestDisks.ROOT_OFFSET + block * blockSize);
    }
    try (GuestVm vm =
        GuestVm.boot(
            new GuestVm.Spec(
                "db", dir.resolve("vm-changed"), raw.toString(), GuestVm.Bus.VIRTIO))) {
      assertThat(vm.await(GuestConsole.VERIFIED, BOOT, "verification of the changed disk"))
          .isEqualTo("KAGAMI-GUEST VERIFY FAIL files/f000003");
    }
  }

  /** A copy-on-write overlay over a cached guest disk (the cache entry stays untouched). */
  private static Path overlay(Path disk, Path overlay) throws Exception {
    ExternalTool.require("qemu-img")
        .runOk(
            Duration.ofSeconds(30),
            "create",
            "-q",
            "-f",
            "qcow2",
            "-b",
            disk.toString(),
            "-F",
            "raw",
            overlay.toString());
    return overlay;
  }

  private static int number(String line) {
    Matcher m = Pattern.compile("(\\d+)\\s*$").matcher(line);
    if (!m.find()) {
      throw new AssertionError("no count in console line: " + line);
    }
    return Integer.parseInt(m.group(1));
  }
}
