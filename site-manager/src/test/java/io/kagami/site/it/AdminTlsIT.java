package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.site.SiteLink;
import io.kagami.site.auth.HttpTls;
import io.kagami.testkit.net.FreePorts;
import io.kagami.testkit.tools.ExternalTool;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #16 d): the real {@code kagami} CLI (its own process) against a real site whose admin port
 * speaks HTTPS. With the site's certificate ({@code --admin-ca}) {@code status} and a mutating
 * {@code link set} succeed; with another site's certificate both fail with exit 4 and a message
 * naming the certificate presented, and nothing changes. A packet capture on {@code lo} ({@code
 * tcpdump}) of the mutating call holds no byte of the admin token; a control capture of the same
 * call sent as plain HTTP to the same port does, so the check can fail.
 */
class AdminTlsIT {
  private static final Duration T = Duration.ofSeconds(60);
  private static final Path ROOT = Path.of("").toAbsolutePath().getParent();
  @TempDir Path dir;

  private static ExternalTool kagami(Path tokenFile) {
    return ExternalTool.of(ROOT.resolve("kagami"))
        .withEnv("KAGAMI_SKIP_BUILD", "1")
        .withEnv("KAGAMI_ADMIN", "")
        .withEnv("KAGAMI_ADMIN_CA", "")
        .withEnv("KAGAMI_ADMIN_TOKEN_FILE", tokenFile.toString());
  }

  @Test
  void cliVerifiesTheAdminServerAndTheTokenNeverCrossesTheWireInClear() throws Exception {
    int[] ports = FreePorts.loopbackPorts(4);
    int nbd = ports[0];
    int admin = ports[1];
    int wan = ports[2];
    int peerWan = ports[3];
    Path own = SiteLink.ensureCredentials(dir.resolve("tokyo/tls"), "tokyo");
    Path other = SiteLink.ensureCredentials(dir.resolve("hiroshima/tls"), "hiroshima");
    Files.writeString(
        dir.resolve("tokyo.yaml"),
        """
        site: {id: tokyo, role: primary}
        dataDir: tokyo
        nbd: {listen: "127.0.0.1:%d"}
        admin: {listen: "127.0.0.1:%d", tls: on}
        wan: {peer: "127.0.0.1:%d", listen: "127.0.0.1:%d", peerSiteId: hiroshima, peerCertificate: %s}
        volumes: [{name: vol0, size: 4MiB}]
        """
            .formatted(nbd, admin, peerWan, wan, dir.relativize(other)));
    String https = "https://127.0.0.1:" + admin;
    try (SiteProcess site =
        new SiteProcess(dir.resolve("tokyo.yaml"), "127.0.0.1:" + admin, HttpTls.client(own))) {
      site.start();
      assertThat(site.log()).contains("admin https://127.0.0.1:" + admin);
      Path tokenFile = dir.resolve("tokyo/admin.token");
      String token = Files.readString(tokenFile).strip();
      ExternalTool cli = kagami(tokenFile);

      // The right certificate: reading and changing the site work.
      ExternalTool.Result status =
          cli.run(T, "status", "--admin", https, "--admin-ca", own.toString());
      assertThat(status.exitCode()).as(status.describe()).isZero();
      assertThat(status.stdout()).contains("tokyo");

      ExternalTool.Result set;
      Capture tls = Capture.start(dir.resolve("tls.pcap"), admin);
      try {
        set =
            cli.run(
                T,
                "link",
                "set",
                "--bandwidth",
                "2MB",
                "--admin",
                https,
                "--admin-ca",
                own.toString());
        tls.awaitClosed();
      } finally {
        tls.stop();
      }
      assertThat(set.exitCode()).as(set.describe()).isZero();
      assertThat(site.status().path("link").toString()).contains("2000000");

      // Another site's certificate: refused before anything is sent, exit 4, saying what it saw.
      for (String[] verb :
          new String[][] {
            {"status"}, {"link", "set", "--bandwidth", "1MB"},
          }) {
        String[] args = new String[verb.length + 4];
        System.arraycopy(verb, 0, args, 0, verb.length);
        args[verb.length] = "--admin";
        args[verb.length + 1] = https;
        args[verb.length + 2] = "--admin-ca";
        args[verb.length + 3] = other.toString();
        ExternalTool.Result wrong = cli.run(T, args);
        assertThat(wrong.exitCode()).as(wrong.describe()).isEqualTo(4);
        assertThat(wrong.output())
            .as(wrong.describe())
            .contains(
                "the admin server at " + https + " presented a certificate not signed by " + other)
            .contains("CN=tokyo (SHA-256 ");
      }
      assertThat(site.status().path("link").toString())
          .as("the refused link set changed nothing")
          .contains("2000000")
          .doesNotContain("1000000");

      // Control: the same mutating call as plain HTTP on loopback carries the token in clear (the
      // TLS port then refuses it): the capture and the search do see a token when there is one.
      ExternalTool.Result plain;
      Capture clear = Capture.start(dir.resolve("plain.pcap"), admin);
      try {
        plain =
            cli.run(T, "link", "set", "--bandwidth", "3MB", "--admin", "http://127.0.0.1:" + admin);
        clear.awaitClosed();
      } finally {
        clear.stop();
      }
      assertThat(plain.exitCode()).as(plain.describe()).isEqualTo(4);
      assertThat(plain.output()).contains("https://127.0.0.1:" + admin);

      byte[] tokenBytes = token.getBytes(StandardCharsets.US_ASCII);
      byte[] tlsCapture = Files.readAllBytes(dir.resolve("tls.pcap"));
      byte[] plainCapture = Files.readAllBytes(dir.resolve("plain.pcap"));
      System.out.printf(
          "AdminTlsIT: TLS capture %d packets, %d bytes; plain capture %d packets, %d bytes%n",
          tls.packets(), tlsCapture.length, clear.packets(), plainCapture.length);
      assertThat(indexOf(plainCapture, tokenBytes))
          .as("control: the plain-HTTP capture holds the token (so the search can find one)")
          .isNotNegative();
      assertThat(indexOf(tlsCapture, tokenBytes))
          .as("the admin token appears in clear in the capture of link set over HTTPS")
          .isNegative();
      assertThat(indexOf(tlsCapture, "Bearer".getBytes(StandardCharsets.US_ASCII))).isNegative();
    }
  }

  private static int indexOf(byte[] hay, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= hay.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (hay[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  /**
   * {@code tcpdump} on {@code lo} for one TCP port, writing every packet to a file as it arrives
   * and printing a line per packet; bounded by a packet count, stopped by the test.
   */
  private static final class Capture {
    private static final int MAX_PACKETS = 2000;
    private final Process process;
    private final AtomicInteger packets = new AtomicInteger();
    private final StringBuffer lines = new StringBuffer();
    private final CompletableFuture<Void> listening = new CompletableFuture<>();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();

    private Capture(Process process) {
      this.process = process;
    }

    static Capture start(Path file, int port) throws Exception {
      Path tcpdump =
          ExternalTool.find("tcpdump")
              .orElseThrow(() -> new AssertionError("tcpdump is needed (Debian package tcpdump)"));
      Process p =
          new ProcessBuilder(
                  tcpdump.toString(),
                  "-i",
                  "lo",
                  "-n",
                  "-l",
                  "-U",
                  "--print",
                  "-c",
                  String.valueOf(MAX_PACKETS),
                  "-w",
                  file.toString(),
                  "tcp port " + port)
              .start();
      Capture c = new Capture(p);
      Thread.ofVirtual()
          .start(
              () -> {
                try (BufferedReader err =
                    new BufferedReader(
                        new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8))) {
                  for (String line; (line = err.readLine()) != null; ) {
                    if (line.contains("listening on")) {
                      c.listening.complete(null);
                    }
                  }
                } catch (IOException e) {
                  c.listening.completeExceptionally(e);
                }
                c.listening.completeExceptionally(new AssertionError("tcpdump exited"));
              });
      Thread.ofVirtual()
          .start(
              () -> {
                try (BufferedReader out =
                    new BufferedReader(
                        new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                  for (String line; (line = out.readLine()) != null; ) {
                    c.packets.incrementAndGet();
                    c.lines.append(line).append('\n');
                    // A FIN (or the reset of a refused handshake) comes only after the request
                    // was sent and its answer, if any, read: everything before it is in the file.
                    if (line.contains("Flags [F") || line.contains("Flags [R")) {
                      c.closed.complete(null);
                    }
                  }
                } catch (IOException e) {
                  c.closed.completeExceptionally(e);
                }
              });
      try {
        c.listening.get(30, TimeUnit.SECONDS);
      } catch (Exception e) {
        c.stop();
        throw new AssertionError("tcpdump did not start capturing on lo within 30 s", e);
      }
      return c;
    }

    /** Waits (bounded) until one end of the connection closed or reset it. */
    void awaitClosed() throws Exception {
      try {
        closed.get(30, TimeUnit.SECONDS);
      } catch (java.util.concurrent.TimeoutException e) {
        throw new AssertionError(
            "no FIN or RST captured within 30 s; tcpdump printed:\n" + lines, e);
      }
    }

    int packets() {
      return packets.get();
    }

    /** SIGTERM (tcpdump flushes the file), SIGKILL if it lingers. */
    void stop() throws InterruptedException {
      process.destroy();
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
      }
    }
  }
}
