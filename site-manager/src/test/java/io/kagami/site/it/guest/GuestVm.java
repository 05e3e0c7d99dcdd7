package io.kagami.site.it.guest;

import io.kagami.clock.SystemTime;
import io.kagami.testkit.tools.ExternalTool;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One test guest ({@link GuestDisks}) running under QEMU with TCG (no KVM), booting from its own
 * disk (SeaBIOS → SYSLINUX on the disk → kernel and initramfs from the disk): one vCPU, a few
 * hundred MiB, the disk on the chosen bus, serial console on QEMU's stdio as a {@link
 * GuestConsole}, and optionally one NIC on QEMU's user-mode network: restricted (no route out of
 * the guest) with the guest's health port forwarded to a host loopback port, or open, reaching the
 * host's loopback services as {@code 10.0.2.2} ({@link Spec#reachesHost}).
 *
 * <pre>{@code
 * var spec = new GuestVm.Spec("db", dir, "nbd://127.0.0.1:" + port + "/vol0", GuestVm.Bus.VIRTIO);
 * try (GuestVm vm = GuestVm.boot(spec)) {
 *   String line = vm.await(GuestConsole.VERIFY_OK, Duration.ofMinutes(4), "data verified");
 *   System.out.println("booted to VERIFY in " + vm.secondsSinceBoot() + " s");
 *   vm.powerOff(Duration.ofSeconds(60));   // clean: sync, root read-only, ACPI power-off
 * }
 * }</pre>
 *
 * <p>The disk is any QEMU drive file: an {@code nbd://host:port/export} URI (a Kagami export), a
 * raw file or a qcow2 overlay. {@link #close()} kills QEMU (a power cut) if it still runs. Not
 * thread-safe: one test drives it. At most two guests at once on the test machines.
 */
public final class GuestVm implements AutoCloseable {
  /** The bus the disk sits on, as in a recovery profile's {@code bus}. */
  public enum Bus {
    /** virtio-blk-pci on a q35 machine. */
    VIRTIO,
    /** SATA: the q35 machine's built-in AHCI controller. */
    SATA,
    /** IDE (PATA) on the i440fx machine's PIIX controller. */
    IDE
  }

  /** The firmware, as in a recovery profile's {@code firmware}; the guest disks boot with both. */
  public enum Firmware {
    /** SeaBIOS: the disk's MBR boot code, then SYSLINUX from the boot partition. */
    BIOS,
    /**
     * OVMF (Debian package ovmf): {@code \EFI\BOOT\BOOTX64.EFI} from the boot partition. Slower
     * under TCG than BIOS (the firmware itself takes some 20 s).
     */
    UEFI
  }

  /** OVMF's code and its variable store template, as Debian 12 installs them. */
  static final Path OVMF_CODE = Path.of("/usr/share/OVMF/OVMF_CODE_4M.fd");

  static final Path OVMF_VARS = Path.of("/usr/share/OVMF/OVMF_VARS_4M.fd");

  /** The guest's TCP health port ({@code guest-init} answers with a line there). */
  public static final int GUEST_HEALTH_PORT = 7070;

  /**
   * What the VM is made of.
   *
   * @param drive a QEMU drive file: {@code nbd://…} URI, raw image or qcow2
   * @param healthHostPort host loopback port forwarded to the guest's health port; 0: none
   * @param reachesHost true: the NIC's user network is not restricted, so the guest reaches the
   *     host's loopback services at the gateway address {@code 10.0.2.2} (the production network a
   *     server has in production, for a test's control); false: restricted, it reaches nothing. A
   *     NIC exists when this is true or {@code healthHostPort} is set.
   */
  public record Spec(
      String name,
      Path dir,
      String drive,
      Bus bus,
      int memoryMiB,
      int healthHostPort,
      Firmware firmware,
      boolean reachesHost) {
    /** A restricted NIC (if any). */
    public Spec(
        String name,
        Path dir,
        String drive,
        Bus bus,
        int memoryMiB,
        int healthHostPort,
        Firmware firmware) {
      this(name, dir, drive, bus, memoryMiB, healthHostPort, firmware, false);
    }

    /** BIOS firmware. */
    public Spec(String name, Path dir, String drive, Bus bus, int memoryMiB, int healthHostPort) {
      this(name, dir, drive, bus, memoryMiB, healthHostPort, Firmware.BIOS);
    }

    /** 256 MiB, no NIC, BIOS firmware. */
    public Spec(String name, Path dir, String drive, Bus bus) {
      this(name, dir, drive, bus, 256, 0, Firmware.BIOS);
    }
  }

  private final Spec spec;
  private final GuestConsole console;
  private final Process qemu;
  private final int bootMark;
  private final long bootStartNanos;

  private GuestVm(Spec spec, GuestConsole console, Process qemu, int bootMark, long started) {
    this.spec = spec;
    this.console = console;
    this.qemu = qemu;
    this.bootMark = bootMark;
    this.bootStartNanos = started;
  }

  /** Powers the VM on; returns at once (wait with {@link #await}). */
  public static GuestVm boot(Spec spec) throws IOException {
    Files.createDirectories(spec.dir());
    if (spec.firmware() == Firmware.UEFI) {
      if (!Files.isRegularFile(OVMF_CODE)) {
        throw new IllegalStateException(OVMF_CODE + " not found: apt-get install ovmf");
      }
      // The VM's own variable store (OVMF writes its boot entries there).
      Path vars = spec.dir().resolve("OVMF_VARS.fd");
      if (!Files.exists(vars)) {
        Files.copy(OVMF_VARS, vars);
      }
    }
    List<String> cmd = command(spec);
    GuestConsole console = new GuestConsole(spec.name());
    Files.writeString(spec.dir().resolve("qemu.cmdline"), String.join(" ", cmd) + "\n");
    long started = SystemTime.NANO.nanoTime();
    Process qemu =
        new ProcessBuilder(cmd)
            .redirectError(spec.dir().resolve("qemu.log").toFile())
            .redirectInput(ProcessBuilder.Redirect.PIPE)
            .start();
    console.follow(qemu.getInputStream(), spec.dir().resolve("console.log"));
    return new GuestVm(spec, console, qemu, console.mark(), started);
  }

  /** The QEMU command line for {@code spec}. */
  public static List<String> command(Spec spec) {
    List<String> cmd = new ArrayList<>();
    cmd.add(ExternalTool.require("qemu-system-x86_64").executable().toString());
    cmd.addAll(
        List.of(
            "-name",
            spec.name(),
            "-machine",
            spec.bus() == Bus.IDE ? "pc" : "q35",
            "-accel",
            "tcg,tb-size=128",
            "-m",
            Integer.toString(spec.memoryMiB()),
            "-smp",
            "1",
            "-display",
            "none",
            "-vga",
            "none",
            "-serial",
            "stdio",
            "-monitor",
            "none",
            "-no-reboot"));
    if (spec.firmware() == Firmware.UEFI) {
      cmd.addAll(
          List.of(
              "-drive",
              "if=pflash,format=raw,unit=0,readonly=on,file=" + OVMF_CODE,
              "-drive",
              "if=pflash,format=raw,unit=1,file=" + spec.dir().resolve("OVMF_VARS.fd")));
    }
    String drive = "file=" + spec.drive() + ",format=raw,if=none,id=disk0,cache=writeback";
    if (spec.drive().endsWith(".qcow2")) {
      drive = drive.replace("format=raw", "format=qcow2");
    }
    cmd.addAll(List.of("-drive", drive, "-device"));
    cmd.add(
        switch (spec.bus()) {
          case VIRTIO -> "virtio-blk-pci,drive=disk0,bootindex=0";
          case SATA -> "ide-hd,drive=disk0,bus=ide.0,bootindex=0"; // q35's ich9-ahci port 0
          case IDE -> "ide-hd,drive=disk0,bus=ide.0,unit=0,bootindex=0";
        });
    if (spec.healthHostPort() > 0 || spec.reachesHost()) {
      String netdev = "user,id=net0" + (spec.reachesHost() ? "" : ",restrict=on");
      if (spec.healthHostPort() > 0) {
        netdev += ",hostfwd=tcp:127.0.0.1:" + spec.healthHostPort() + "-:" + GUEST_HEALTH_PORT;
      }
      cmd.addAll(List.of("-netdev", netdev, "-device", "virtio-net-pci,netdev=net0"));
    } else {
      cmd.addAll(List.of("-nic", "none"));
    }
    return cmd;
  }

  public String name() {
    return spec.name();
  }

  public GuestConsole console() {
    return console;
  }

  /** Seconds since this VM was powered on. */
  public double secondsSinceBoot() {
    return SystemTime.NANO.nanosSince(bootStartNanos) / 1e9;
  }

  /** Waits for a console line of this boot matching {@code regex} (see {@link GuestConsole}). */
  public String await(String regex, Duration timeout, String what) throws InterruptedException {
    return console.await(bootMark, regex, timeout, what);
  }

  public boolean alive() {
    return qemu.isAlive();
  }

  /**
   * Waits until the guest's health port (through the host port forward) answers with its line,
   * {@code KAGAMI-GUEST HEALTHY <name>}, and returns that line. QEMU accepts forwarded connections
   * even while nothing listens in the guest, so only the answer counts. Polls every half second:
   * there is no event to wait on across the VM boundary.
   */
  public String awaitHealthy(Duration timeout) throws InterruptedException {
    if (spec.healthHostPort() <= 0) {
      throw new IllegalStateException(spec.name() + " has no NIC (Spec.healthHostPort 0)");
    }
    long deadline = SystemTime.NANO.nanoTime() + timeout.toNanos();
    String last = "no answer yet";
    while (true) {
      if (!qemu.isAlive()) {
        throw new AssertionError(
            spec.name() + ": health check: QEMU exited; console:\n" + console.tail(40));
      }
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress("127.0.0.1", spec.healthHostPort()), 2000);
        s.setSoTimeout(5000);
        String line =
            new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8))
                .readLine();
        if (line != null && line.startsWith("KAGAMI-GUEST HEALTHY")) {
          return line;
        }
        last = line == null ? "connection closed without an answer" : "answered: " + line;
      } catch (IOException e) {
        last = e.toString();
      }
      if (SystemTime.NANO.nanoTime() - deadline > 0) {
        throw new AssertionError(
            spec.name()
                + ": health port 127.0.0.1:"
                + spec.healthHostPort()
                + " did not answer within "
                + timeout.toSeconds()
                + " s (last: "
                + last
                + "); console:\n"
                + console.tail(40));
      }
      SystemTime.pause(Duration.ofMillis(500));
    }
  }

  /** Sends one command line to the guest's console ({@code poweroff}, {@code sync}). */
  public void send(String command) throws IOException {
    OutputStream in = qemu.getOutputStream();
    in.write((command + "\n").getBytes(StandardCharsets.UTF_8));
    in.flush();
  }

  /**
   * Clean stop: the guest stops its writer, syncs, remounts its root read-only and powers off; QEMU
   * then exits. Fails if that does not happen within {@code timeout} (and cuts the power).
   */
  public void powerOff(Duration timeout) throws IOException, InterruptedException {
    int from = console.mark();
    send("poweroff");
    console.await(from, GuestConsole.POWEROFF, timeout, "clean power-off");
    if (!qemu.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      powerCut();
      throw new AssertionError(spec.name() + ": QEMU still ran " + timeout + " after POWEROFF");
    }
  }

  /** Power cut: SIGKILL to QEMU; the guest gets no chance to flush. */
  public void powerCut() throws InterruptedException {
    qemu.destroyForcibly();
    if (!qemu.waitFor(30, TimeUnit.SECONDS)) {
      throw new AssertionError(spec.name() + ": QEMU did not die within 30 s of SIGKILL");
    }
  }

  @Override
  public void close() {
    if (qemu.isAlive()) {
      qemu.destroyForcibly();
      try {
        qemu.waitFor(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
