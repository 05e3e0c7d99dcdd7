package io.kagami.site.recovery;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code recover plan} reads a server's boot disk (MBR, FAT boot partition, SYSLINUX configuration,
 * the initramfs it names: cpio, gzip, concatenated archives) and tells whether the virtio block
 * driver is there. The disks are built here byte by byte, as build-guest's are laid out (MBR, FAT
 * at 1 MiB, {@code syslinux.cfg} naming {@code /initrd.img}); GuestBootIT reads the real ones.
 */
class BootDiskTest {
  private static final String CFG =
      """
      DEFAULT linux
      PROMPT 0
      LABEL rescue
        LINUX /vmlinuz
        INITRD /rescue.img
      LABEL linux
        LINUX /vmlinuz
        INITRD /initrd.img
        APPEND root=UUID=1234 ro console=ttyS0
      """;
  private static final String VIRTIO_BLK =
      "usr/lib/modules/6.1.0-28-amd64/kernel/drivers/block/virtio_blk.ko";
  private static final String AHCI = "usr/lib/modules/6.1.0-28-amd64/kernel/drivers/ata/ahci.ko";

  @TempDir Path dir;

  @Test
  void anInitramfsWithVirtioBlkIsFoundAndOneWithoutItIsNamed() throws Exception {
    Path virtio = disk("virtio", CFG, gzip(cpio(VIRTIO_BLK, AHCI)));
    Path legacy = disk("legacy", CFG, gzip(cpio(AHCI)));
    assertThat(Initramfs.virtioBlk(virtio).verdict()).isEqualTo(Initramfs.Verdict.PRESENT);
    Initramfs.VirtioBlk none = Initramfs.virtioBlk(legacy);
    assertThat(none.verdict()).as(String.valueOf(none)).isEqualTo(Initramfs.Verdict.ABSENT);
    assertThat(none.files()).as("the default entry's initramfs").containsExactly("/initrd.img");
  }

  @Test
  void anEarlyUncompressedArchiveAndABuiltInDriverCount() throws Exception {
    byte[] microcode = cpio("kernel/x86/microcode/GenuineIntel.bin");
    byte[] both = concat(microcode, new byte[512 - microcode.length % 512], gzip(cpio(VIRTIO_BLK)));
    assertThat(Initramfs.virtioBlk(disk("early", CFG, both)).verdict())
        .as("microcode archive, then the gzip-compressed main one")
        .isEqualTo(Initramfs.Verdict.PRESENT);
    byte[] builtin =
        cpioWith(
            Map.of(
                "usr/lib/modules/6.1.0/modules.builtin", "kernel/drivers/block/virtio_blk.ko\n"));
    assertThat(Initramfs.virtioBlk(disk("builtin", CFG, gzip(builtin))).verdict())
        .as("virtio_blk built into the kernel (modules.builtin)")
        .isEqualTo(Initramfs.Verdict.PRESENT);
    // zstd, the default of Debian 12 and Ubuntu: with and without the driver.
    assertThat(Initramfs.virtioBlk(disk("zstd", CFG, zstd(cpio(AHCI, VIRTIO_BLK)))).verdict())
        .isEqualTo(Initramfs.Verdict.PRESENT);
    assertThat(Initramfs.virtioBlk(disk("zstd-legacy", CFG, zstd(cpio(AHCI)))).verdict())
        .isEqualTo(Initramfs.Verdict.ABSENT);
  }

  @Test
  void whatCannotBeReadIsUnknownWithTheReasonNeverAVerdict() throws Exception {
    byte[] xz = {(byte) 0xfd, '7', 'z', 'X', 'Z', 0, 0, 0};
    Initramfs.VirtioBlk x = Initramfs.virtioBlk(disk("xz", CFG, xz));
    assertThat(x.verdict()).isEqualTo(Initramfs.Verdict.UNKNOWN);
    assertThat(x.reason()).contains("compressed with xz");
    Path blank = dir.resolve("blank.img");
    Files.write(blank, new byte[1 << 20]);
    Initramfs.VirtioBlk b = Initramfs.virtioBlk(blank);
    assertThat(b.verdict()).isEqualTo(Initramfs.Verdict.UNKNOWN);
    assertThat(b.reason()).contains("no partition table");
    Initramfs.VirtioBlk missing =
        Initramfs.virtioBlk(disk("grub", "LABEL x\n  LINUX /vmlinuz\n", gzip(cpio(AHCI))));
    assertThat(missing.verdict()).isEqualTo(Initramfs.Verdict.UNKNOWN);
    assertThat(missing.reason()).contains("names no initramfs");
    Path torn = disk("torn", CFG, gzip(cpio(AHCI)));
    byte[] t = Files.readAllBytes(torn);
    // The initrd's compressed bytes (cluster 3, after syslinux.cfg) damaged: a torn replica.
    int initrdAt = (1 << 20) + 15 * 512;
    for (int i = 12; i < 60; i++) {
      t[initrdAt + i] ^= (byte) 0x5a;
    }
    Files.write(torn, t);
    assertThat(Initramfs.virtioBlk(torn).verdict()).isEqualTo(Initramfs.Verdict.UNKNOWN);
  }

  @Test
  void thePlanWarnsForAServerOnVirtioWithoutTheDriverAndOnlyThen() throws Exception {
    Map<String, Path> files =
        Map.of(
            "legacy-disk", disk("legacy", CFG, gzip(cpio(AHCI))),
            "db-disk", disk("db", CFG, gzip(cpio(VIRTIO_BLK, AHCI))));
    List<ReplicaVolume> volumes =
        List.of(
            new ReplicaVolume("legacy-disk", "replicating", 2L << 20),
            new ReplicaVolume("db-disk", "replicating", 2L << 20));
    String yaml =
        """
        defaults: {healthCheck: {console: "login:"}, memory: 256MiB}
        servers:
          - {name: legacy, volumes: [legacy-disk], diskBus: BUS}
          - {name: db, volumes: [db-disk]}
        """;
    RecoveryPlan onVirtio = plan(yaml.replace("BUS", "virtio"), volumes, files);
    assertThat(onVirtio.ok()).as("a warning, not a refusal: %s", onVirtio.problems()).isTrue();
    assertThat(onVirtio.warnings())
        .filteredOn(w -> w.contains("virtio_blk"))
        .containsExactly(
            "server \"legacy\": diskBus virtio, but its boot disk (volume legacy-disk) has no"
                + " virtio_blk: neither its initramfs (/initrd.img) nor its kernel has the driver,"
                + " so it would not find its root disk; use diskBus: sata");
    RecoveryPlan onSata = plan(yaml.replace("BUS", "sata"), volumes, files);
    assertThat(onSata.warnings()).noneMatch(w -> w.contains("virtio_blk"));
  }

  private static RecoveryPlan plan(String yaml, List<ReplicaVolume> volumes, Map<String, Path> f) {
    return RecoveryPlanner.plan(
        RecoveryProfilesLoader.parse(yaml, "recovery.yaml"),
        RecoveryPlannerTest.HOST,
        volumes,
        f::get);
  }

  // ---- disks built by hand ---------------------------------------------------------------------

  /**
   * A 2 MiB disk: an MBR whose one partition (type 6, FAT16 by its type, FAT12 by its size, as the
   * cluster count decides) starts at 1 MiB, holding {@code syslinux.cfg}, {@code initrd.img} and an
   * empty {@code vmlinuz}.
   */
  private Path disk(String name, String cfg, byte[] initrd) throws IOException {
    int sectors = 2048;
    ByteBuffer d = ByteBuffer.allocate(2 * sectors * 512).order(ByteOrder.LITTLE_ENDIAN);
    d.put(446, (byte) 0x80).put(446 + 4, (byte) 0x06).putInt(446 + 8, 2048).putInt(446 + 12, 2048);
    d.putShort(510, (short) 0xaa55);
    int base = 2048 * 512;
    int fatSectors = 6;
    d.putShort(base + 11, (short) 512).put(base + 13, (byte) 1).putShort(base + 14, (short) 1);
    d.put(base + 16, (byte) 2).putShort(base + 17, (short) 16).putShort(base + 19, (short) sectors);
    d.putShort(base + 22, (short) fatSectors).putShort(base + 510, (short) 0xaa55);
    int fat = base + 512;
    int root = fat + 2 * fatSectors * 512;
    int data = root + 512;
    Map<String, byte[]> files = new LinkedHashMap<>();
    files.put("SYSLINUXCFG", cfg.getBytes(StandardCharsets.US_ASCII));
    files.put("INITRD  IMG", initrd);
    files.put("VMLINUZ    ", new byte[0]);
    int cluster = 2;
    int entry = root;
    for (Map.Entry<String, byte[]> f : files.entrySet()) {
      byte[] b = f.getValue();
      int n = Math.max(1, (b.length + 511) / 512);
      for (int i = 0; i < n; i++) {
        int c = cluster + i;
        fat12(d, fat, c, i == n - 1 ? 0xfff : c + 1);
        fat12(d, fat + fatSectors * 512, c, i == n - 1 ? 0xfff : c + 1);
      }
      d.put(entry, f.getKey().getBytes(StandardCharsets.US_ASCII));
      d.put(entry + 11, (byte) 0x20)
          .putShort(entry + 26, (short) cluster)
          .putInt(entry + 28, b.length);
      d.put(data + (cluster - 2) * 512, b);
      cluster += n;
      entry += 32;
    }
    Path p = dir.resolve(name + ".img");
    Files.write(p, d.array());
    return p;
  }

  private static void fat12(ByteBuffer d, int fat, int n, int v) {
    int off = fat + n + n / 2;
    if ((n & 1) == 0) {
      d.put(off, (byte) v);
      d.put(off + 1, (byte) ((d.get(off + 1) & 0xf0) | ((v >> 8) & 0x0f)));
    } else {
      d.put(off, (byte) ((d.get(off) & 0x0f) | ((v << 4) & 0xf0)));
      d.put(off + 1, (byte) (v >> 4));
    }
  }

  private static byte[] cpio(String... names) throws IOException {
    Map<String, String> files = new LinkedHashMap<>();
    for (String n : names) {
      files.put(n, "module " + n);
    }
    return cpioWith(files);
  }

  /** A newc archive of {@code files} (path to content), closed by its trailer. */
  private static byte[] cpioWith(Map<String, String> files) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    Map<String, String> all = new LinkedHashMap<>(files);
    all.put("TRAILER!!!", "");
    int ino = 1;
    for (Map.Entry<String, String> f : all.entrySet()) {
      byte[] name = (f.getKey() + "\0").getBytes(StandardCharsets.UTF_8);
      byte[] body = f.getValue().getBytes(StandardCharsets.UTF_8);
      String head =
          String.format(
              "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
              ino++, 0100644, 0, 0, 1, 0, body.length, 0, 0, 0, 0, name.length, 0);
      out.write(head.getBytes(StandardCharsets.US_ASCII));
      out.write(name);
      out.write(new byte[(4 - (110 + name.length) % 4) % 4]);
      out.write(body);
      out.write(new byte[(4 - body.length % 4) % 4]);
    }
    return out.toByteArray();
  }

  private static byte[] gzip(byte[] b) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream z = new GZIPOutputStream(out)) {
      z.write(b);
    }
    return out.toByteArray();
  }

  private static byte[] zstd(byte[] b) {
    return com.github.luben.zstd.Zstd.compress(b);
  }

  private static byte[] concat(byte[]... parts) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.write(p);
    }
    return out.toByteArray();
  }
}
