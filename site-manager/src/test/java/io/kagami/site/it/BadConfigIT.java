package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.testkit.net.FreePorts;
import io.kagami.testkit.tools.ExternalTool;
import io.kagami.wan.tls.SiteCredentials;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad configurations given to the real {@code kagami run} (issue #16): each is refused before the
 * site starts, with exit code 2 and a message naming the file, the key and the reason, and
 * afterwards no configured port is bound and the data directory is byte for byte as it was (still
 * absent when it did not exist: no journal, no admin.token, no tls/); nothing is published under
 * the runtime directory either. {@code kagami config check} reports the same problem with the same
 * exit code. The control: the good configuration the cases are made from starts a site.
 */
class BadConfigIT {
  private static final Path ROOT = Path.of("").toAbsolutePath().getParent();
  private static final Duration T = Duration.ofSeconds(120);

  @TempDir static Path dir;
  private static Path runtime;

  @BeforeAll
  static void certificates() throws IOException {
    SiteCredentials.loadOrCreate(dir.resolve("peer-tls"), "hiroshima");
    Files.writeString(dir.resolve("not-a-cert.pem"), "-----BEGIN NONSENSE-----\nxyz\n");
    runtime = dir.resolve("runtime");
  }

  private static ExternalTool kagami() {
    return ExternalTool.of(ROOT.resolve("kagami"))
        .withEnv("KAGAMI_SKIP_BUILD", "1")
        .withEnv("KAGAMI_ADMIN", "")
        .withEnv("KAGAMI_RUNTIME_DIR", runtime.toString());
  }

  /** A primary's configuration in its own directory, with fresh loopback ports. */
  private static final class Site {
    final Path home;
    final Path dataDir;
    final int nbd;
    final int admin;
    final int wan;
    String yaml;

    Site(String name) throws IOException {
      home = Files.createDirectories(dir.resolve(name));
      dataDir = home.resolve("data");
      int[] ports = FreePorts.loopbackPorts(3);
      nbd = ports[0];
      admin = ports[1];
      wan = ports[2];
      yaml =
          """
          site: {id: tokyo, role: primary}
          dataDir: %s
          nbd: {listen: "127.0.0.1:%d"}
          admin: {listen: "127.0.0.1:%d"}
          wan: {peer: "127.0.0.1:7800", listen: "127.0.0.1:%d", peerSiteId: hiroshima, peerCertificate: %s}
          volumes:
            - {name: vol0, size: 16MiB}
          """
              .formatted(dataDir, nbd, admin, wan, dir.resolve("peer-tls/site.crt"));
    }

    Site change(String from, String to) {
      assertThat(yaml).as("the text to change").contains(from);
      yaml = yaml.replace(from, to);
      return this;
    }

    /** A data directory a site used before: something to leave alone. */
    Site existingDataDir() throws IOException {
      Files.createDirectories(dataDir.resolve("journal"));
      Files.write(dataDir.resolve("journal/000001.log"), new byte[] {1, 2, 3, 4, 5});
      Files.writeString(dataDir.resolve("notes.txt"), "kept as it is\n");
      return this;
    }

    Path write() throws IOException {
      Path file = home.resolve("site.yaml");
      Files.writeString(file, yaml);
      return file;
    }
  }

  /**
   * Runs {@code kagami run} and {@code kagami config check} on {@code site}: both exit 2 naming the
   * file, {@code key} and {@code reason}; the data directory and ports are as before.
   */
  private static String refused(Site site, String key, String reason) throws Exception {
    Path file = site.write();
    Map<String, String> before = snapshot(site.dataDir);
    Map<String, String> runtimeBefore = snapshot(runtime);

    ExternalTool.Result run = kagami().run(T, "run", "--config", file.toString());

    assertThat(run.exitCode()).as(run.describe()).isEqualTo(2);
    assertThat(run.stderr())
        .as("what kagami run printed")
        .contains(file.toString())
        .contains(key)
        .contains(reason)
        .contains("kagami: next: fix each key named");
    assertThat(line(run.stderr(), key))
        .as("the line naming %s", key)
        .startsWith("  " + file + ": ")
        .contains(reason);
    assertThat(snapshot(site.dataDir))
        .as("data directory %s after kagami run", site.dataDir)
        .isEqualTo(before);
    assertThat(snapshot(runtime)).as("published admin tokens").isEqualTo(runtimeBefore);
    for (int port : new int[] {site.nbd, site.admin, site.wan}) {
      assertThat(bindable(port)).as("port %d after kagami run", port).isTrue();
    }

    ExternalTool.Result check = kagami().run(T, "config", "check", "--config", file.toString());
    assertThat(check.exitCode()).as(check.describe()).isEqualTo(2);
    assertThat(check.stderr()).contains(file.toString()).contains(key).contains(reason);
    assertThat(snapshot(site.dataDir)).as("data directory after config check").isEqualTo(before);
    return run.stderr();
  }

  /** The line of {@code output} that names {@code key} (a problem line, indented). */
  private static String line(String output, String key) {
    return output
        .lines()
        .filter(l -> l.startsWith("  ") && l.contains(key))
        .findFirst()
        .orElse("(no problem line names " + key + ")");
  }

  @Test
  void nbdAndAdminOnTheSameAddress() throws Exception {
    Site s = new Site("same-address");
    s.change("127.0.0.1:" + s.admin, "127.0.0.1:" + s.nbd);
    refused(s, "admin.listen", "clashes with nbd.listen 127.0.0.1:" + s.nbd);
  }

  @Test
  void aCertificateFileThatIsNotPem() throws Exception {
    Site s = new Site("not-pem").existingDataDir();
    s.change(dir.resolve("peer-tls/site.crt").toString(), dir.resolve("not-a-cert.pem").toString());
    refused(s, "wan.peerCertificate", "is not a PEM X.509 certificate");
  }

  @Test
  void aVolumeLargerThanTheFilesystem() throws Exception {
    Site s = new Site("too-large").existingDataDir();
    s.change("size: 16MiB", "size: 7000000TiB");
    refused(s, "volumes[0].size", "is larger than the whole filesystem");
  }

  @Test
  void aDataDirThatIsAFile() throws Exception {
    Site s = new Site("data-file");
    Files.writeString(s.dataDir, "I am a file, not a directory\n");
    refused(s, "dataDir", "is a file, not a directory");
  }

  @Test
  void aListenPortAnotherProcessHolds() throws Exception {
    Site s = new Site("busy-port");
    try (ServerSocket other = new ServerSocket()) {
      other.bind(new InetSocketAddress(FreePorts.loopback(), s.admin));
      Path file = s.write();
      ExternalTool.Result run = kagami().run(T, "run", "--config", file.toString());
      assertThat(run.exitCode()).as(run.describe()).isEqualTo(2);
      assertThat(line(run.stderr(), "admin.listen"))
          .startsWith("  " + file + ": ")
          .contains("is in use by another process");
      assertThat(Files.exists(s.dataDir)).as("data directory created").isFalse();
    }
    assertThat(bindable(s.nbd)).as("nbd port after kagami run").isTrue();
  }

  @Test
  void aMisspeltKeyAndBadValuesAreListedTogether() throws Exception {
    Site s = new Site("typos");
    s.change("volumes:", "volume:")
        .change("role: primary", "role: leader")
        .change("nbd: {listen:", "nbd: {lisen:");
    String out = refused(s, "volume", "unknown key volume; did you mean volumes?");
    assertThat(out)
        .contains("nbd.lisen; did you mean nbd.listen?")
        .contains("site.role \"leader\" is not allowed (primary or standby)");
  }

  @Test
  void theFourOfTheIssueAtOnce() throws Exception {
    Site s = new Site("all-four");
    s.change("127.0.0.1:" + s.admin, "127.0.0.1:" + s.nbd)
        .change(
            dir.resolve("peer-tls/site.crt").toString(), dir.resolve("not-a-cert.pem").toString())
        .change("size: 16MiB", "size: 7000000TiB")
        .change("dataDir: " + s.dataDir, "dataDir: " + s.dataDir.resolveSibling("data.img"));
    Files.writeString(s.home.resolve("data.img"), "a file where the data directory should be\n");
    String out = refused(s, "dataDir", "is a file, not a directory");
    assertThat(out).contains("admin.listen").contains("wan.peerCertificate").contains("3 problems");
    // With the data directory fixed (and absent), the volume's size is checked too.
    s.change("dataDir: " + s.dataDir.resolveSibling("data.img"), "dataDir: " + s.dataDir);
    assertThat(refused(s, "volumes[0].size", "is larger than the whole filesystem"))
        .contains("admin.listen")
        .contains("wan.peerCertificate");
  }

  @Test
  void theGoodConfigurationTheCasesComeFromStartsASite() throws Exception {
    Site s = new Site("good");
    Path file = s.write();
    ExternalTool.Result check = kagami().run(T, "config", "check", "--config", file.toString());
    assertThat(check.exitCode()).as(check.describe()).isZero();
    assertThat(check.stdout()).contains(file + ": ok: site tokyo (primary)");
    assertThat(Files.exists(s.dataDir)).as("data directory created by config check").isFalse();
    try (SiteProcess site = new SiteProcess(file, "127.0.0.1:" + s.admin).start()) {
      assertThat(site.status().path("role").asText()).isEqualTo("primary");
      assertThat(bindable(s.admin)).as("admin port while the site runs").isFalse();
      site.stop();
    }
    assertThat(Files.exists(s.dataDir.resolve("admin.token"))).isTrue();
  }

  private static boolean bindable(int port) {
    try (ServerSocket s = new ServerSocket()) {
      s.setReuseAddress(true);
      s.bind(new InetSocketAddress(FreePorts.loopback(), port));
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * Every path under {@code root} (or {@code root} itself, a file) with its type, size, SHA-256 and
   * modification time; "absent" when there is nothing.
   */
  private static Map<String, String> snapshot(Path root) throws IOException {
    Map<String, String> out = new TreeMap<>();
    if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
      out.put(root.toString(), "absent");
      return out;
    }
    try (Stream<Path> s = Files.walk(root)) {
      for (Path p : s.toList()) {
        String mtime = Files.getLastModifiedTime(p).toString();
        out.put(
            root.relativize(p).toString(),
            Files.isDirectory(p)
                ? "dir " + mtime
                : "file " + Files.size(p) + " " + sha256(Files.readAllBytes(p)) + " " + mtime);
      }
    }
    return out;
  }

  private static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
