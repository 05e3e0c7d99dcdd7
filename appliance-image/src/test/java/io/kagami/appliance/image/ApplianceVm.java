package io.kagami.appliance.image;

import io.kagami.clock.SystemTime;
import io.kagami.testkit.tools.ExternalTool;
import java.io.IOException;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.URI;
import java.net.UnixDomainSocketAddress;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * One Kagami appliance as a QEMU virtual machine under TCG (no KVM): a copy-on-write overlay of the
 * appliance image as its boot disk, a data disk (serial {@code kagami-data}), an optional CIDATA
 * seed, a management NIC on QEMU's user-mode network with the NBD and admin ports forwarded to host
 * loopback, and a WAN NIC that is a UDP socket on loopback to the paired VM's (the only path
 * between the two). Its serial console is the {@link ConsoleLog}.
 *
 * <p>The disks outlive a boot: {@link #powerCut()} then {@link #boot()} starts the same machine
 * again, as after a power failure. Not thread-safe: one test drives it.
 */
final class ApplianceVm implements AutoCloseable {
  /** What the VM is made of; ports are host loopback ports. */
  record Spec(
      String name,
      Path dir,
      Path image,
      Path seed,
      int nbdHostPort,
      int adminHostPort,
      int wanLocalUdp,
      int wanRemoteUdp,
      String wanMac,
      int memoryMiB) {}

  static final int GUEST_NBD_PORT = 10809;
  static final int GUEST_ADMIN_PORT = 9480;

  private final Spec spec;
  private final ConsoleLog console;
  private volatile HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  private volatile String adminScheme = "http";
  private Process qemu;
  private int bootMark;
  private long bootStartNanos;

  private ApplianceVm(Spec spec) {
    this.spec = spec;
    this.console = new ConsoleLog(spec.name());
  }

  /** Creates the VM's disks (an overlay over {@code spec.image()} and an empty 4 GiB data disk). */
  static ApplianceVm create(Spec spec) throws IOException, InterruptedException {
    Files.createDirectories(spec.dir());
    ExternalTool qemuImg = ExternalTool.require("qemu-img");
    qemuImg.runOk(
        Duration.ofSeconds(30),
        "create",
        "-q",
        "-f",
        "qcow2",
        "-b",
        spec.image().toAbsolutePath().toString(),
        "-F",
        "qcow2",
        spec.dir().resolve("os.qcow2").toString());
    qemuImg.runOk(
        Duration.ofSeconds(30),
        "create",
        "-q",
        "-f",
        "qcow2",
        spec.dir().resolve("data.qcow2").toString(),
        "4G");
    return new ApplianceVm(spec);
  }

  String name() {
    return spec.name();
  }

  int nbdPort() {
    return spec.nbdHostPort();
  }

  int adminPort() {
    return spec.adminHostPort();
  }

  ConsoleLog console() {
    return console;
  }

  /** The console position where the current boot began. */
  int bootMark() {
    return bootMark;
  }

  /** Powers the VM on; returns at once (wait with {@link #awaitConsole} or {@link #awaitAdmin}). */
  void boot() throws IOException {
    if (qemu != null && qemu.isAlive()) {
      throw new IllegalStateException(spec.name() + " is already running");
    }
    Path dir = spec.dir();
    List<String> cmd = new ArrayList<>();
    cmd.add(ExternalTool.require("qemu-system-x86_64").executable().toString());
    cmd.addAll(
        List.of(
            "-name",
            spec.name(),
            "-machine",
            "pc",
            "-accel",
            "tcg,tb-size=256",
            "-m",
            Integer.toString(spec.memoryMiB()),
            "-smp",
            "1"));
    cmd.addAll(
        List.of(
            "-display",
            "none",
            "-serial",
            "stdio",
            "-monitor",
            "unix:" + monitorSocket() + ",server=on,wait=off"));
    cmd.addAll(
        List.of(
            "-drive",
            "file=" + dir.resolve("os.qcow2") + ",if=none,id=os,format=qcow2",
            "-device",
            "virtio-blk-pci,drive=os,bootindex=0"));
    cmd.addAll(
        List.of(
            "-drive",
            "file=" + dir.resolve("data.qcow2") + ",if=none,id=data,format=qcow2",
            "-device",
            "virtio-blk-pci,drive=data,serial=kagami-data"));
    if (spec.seed() != null) {
      cmd.addAll(
          List.of(
              "-drive",
              "file=" + spec.seed() + ",if=none,id=seed,format=raw,readonly=on",
              "-device",
              "virtio-blk-pci,drive=seed"));
    }
    cmd.addAll(
        List.of(
            "-netdev",
            "user,id=mgmt,hostfwd=tcp:127.0.0.1:"
                + spec.nbdHostPort()
                + "-:"
                + GUEST_NBD_PORT
                + ",hostfwd=tcp:127.0.0.1:"
                + spec.adminHostPort()
                + "-:"
                + GUEST_ADMIN_PORT,
            "-device",
            "virtio-net-pci,netdev=mgmt"));
    cmd.addAll(
        List.of(
            "-netdev",
            "socket,id=wan,udp=127.0.0.1:"
                + spec.wanRemoteUdp()
                + ",localaddr=127.0.0.1:"
                + spec.wanLocalUdp(),
            "-device",
            "virtio-net-pci,netdev=wan,mac=" + spec.wanMac()));
    Files.deleteIfExists(monitorSocket());
    bootMark = console.mark();
    bootStartNanos = SystemTime.NANO.nanoTime();
    qemu =
        new ProcessBuilder(cmd)
            .redirectError(dir.resolve("qemu.log").toFile())
            .redirectInput(ProcessBuilder.Redirect.PIPE)
            .start();
    Files.writeString(dir.resolve("qemu.cmdline"), String.join(" ", cmd) + "\n");
    InputStream serial = qemu.getInputStream();
    console.follow(serial, dir.resolve("console.log"));
  }

  /** Seconds since the current boot's power-on. */
  double secondsSinceBoot() {
    return SystemTime.NANO.nanosSince(bootStartNanos) / 1e9;
  }

  /** Waits for a console line of the current boot matching {@code regex}. */
  String awaitConsole(String regex, Duration timeout, String what) throws InterruptedException {
    return console.await(bootMark, Pattern.compile(regex), timeout, what);
  }

  /**
   * Waits until the site answers {@code GET path} on its forwarded admin port with 200, and returns
   * the body. QEMU accepts forwarded connections even while nothing listens in the guest, so only
   * an HTTP answer counts. Polls every half second: there is no event to wait on across the VM
   * boundary.
   */
  String awaitAdmin(String path, Duration timeout, String what) throws InterruptedException {
    long deadline = SystemTime.NANO.nanoTime() + timeout.toNanos();
    String last = "no answer yet";
    while (true) {
      if (!qemu.isAlive()) {
        throw new AssertionError(
            spec.name()
                + ": "
                + what
                + ": QEMU exited ("
                + qemu.exitValue()
                + "); console:\n"
                + console.tail(40));
      }
      try {
        HttpResponse<String> r = getAdmin(path);
        if (r.statusCode() == 200) {
          return r.body();
        }
        last = "HTTP " + r.statusCode() + " " + r.body();
      } catch (IOException e) {
        last = e.toString();
      }
      if (SystemTime.NANO.nanoTime() - deadline > 0) {
        throw new AssertionError(
            spec.name()
                + ": "
                + what
                + ": not within "
                + timeout.toSeconds()
                + " s (last: "
                + last
                + "); console:\n"
                + console.tail(40));
      }
      SystemTime.pause(Duration.ofMillis(500));
    }
  }

  /**
   * The site's admin port speaks HTTPS (its admin.listen is not loopback) and presents {@code
   * certificate} (PEM): {@link #getAdmin} verifies it from now on.
   */
  ApplianceVm adminTls(java.nio.file.Path certificate) {
    javax.net.ssl.SSLContext tls = io.kagami.site.auth.HttpTls.client(certificate);
    http =
        HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(2))
            .sslContext(tls)
            .sslParameters(io.kagami.site.auth.HttpTls.parameters(tls))
            .build();
    adminScheme = "https";
    return this;
  }

  /** {@code https://127.0.0.1:PORT} or {@code http://…}: the admin port through the forward. */
  String adminUrl() {
    return adminScheme + "://127.0.0.1:" + spec.adminHostPort();
  }

  /** One {@code GET} on the site's admin port through the forward. */
  HttpResponse<String> getAdmin(String path) throws IOException, InterruptedException {
    HttpRequest req =
        HttpRequest.newBuilder(URI.create(adminUrl() + path))
            .timeout(Duration.ofSeconds(5))
            .GET()
            .build();
    return http.send(req, HttpResponse.BodyHandlers.ofString());
  }

  /** Runs one command on QEMU's human monitor and returns its output; fails on an error reply. */
  String monitor(String command) throws IOException {
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(monitorSocket()));
      readUntilPrompt(ch);
      ch.write(ByteBuffer.wrap((command + "\n").getBytes(StandardCharsets.UTF_8)));
      String out = readUntilPrompt(ch);
      if (out.contains("Error") || out.contains("error") || out.contains("unknown command")) {
        throw new IOException(
            spec.name() + ": monitor command '" + command + "' failed: " + out.strip());
      }
      return out;
    }
  }

  private static String readUntilPrompt(SocketChannel ch) throws IOException {
    StringBuilder sb = new StringBuilder();
    ByteBuffer buf = ByteBuffer.allocate(4096);
    while (!sb.toString().endsWith("(qemu) ")) {
      buf.clear();
      if (ch.read(buf) < 0) {
        throw new IOException("QEMU monitor closed the connection after: " + sb);
      }
      sb.append(StandardCharsets.UTF_8.decode(buf.flip()));
    }
    return sb.toString();
  }

  private Path monitorSocket() {
    return spec.dir().resolve("monitor.sock");
  }

  /** Attaches a raw disk image to the running VM as a new read-only virtio disk. */
  void hotplugDisk(String id, Path image) throws IOException {
    monitor(
        "drive_add 0 if=none,id="
            + id
            + ",file="
            + image.toAbsolutePath()
            + ",format=raw,readonly=on");
    monitor("device_add virtio-blk-pci,drive=" + id + ",id=" + id + "-dev");
  }

  /** Power cut: SIGKILL to QEMU, the guest gets no chance to flush or shut down. */
  void powerCut() throws InterruptedException {
    qemu.destroyForcibly();
    if (!qemu.waitFor(30, TimeUnit.SECONDS)) {
      throw new AssertionError(spec.name() + ": QEMU did not die within 30 s of SIGKILL");
    }
  }

  /**
   * Clean shutdown (ACPI power button); power cut if the guest has not stopped within the timeout.
   */
  void shutdown(Duration timeout) throws InterruptedException {
    if (qemu == null || !qemu.isAlive()) {
      return;
    }
    try {
      monitor("system_powerdown");
    } catch (IOException e) {
      powerCut();
      return;
    }
    if (!qemu.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      powerCut();
    }
  }

  /** The QEMU process's resident memory in bytes (the whole VM as the host sees it). */
  long qemuResidentBytes() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/" + qemu.pid() + "/status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
      }
    }
    throw new IOException("no VmRSS for QEMU pid " + qemu.pid());
  }

  @Override
  public void close() {
    if (qemu != null && qemu.isAlive()) {
      qemu.destroyForcibly();
      try {
        qemu.waitFor(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
