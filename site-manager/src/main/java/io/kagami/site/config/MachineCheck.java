package io.kagami.site.config;

import io.kagami.wan.tls.SiteCredentials;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Checks a configuration against the machine it is about to run on, before the site creates, binds
 * or writes anything, adding every problem to the loader's {@link Problems} (so they are reported
 * with the file's other problems, all at once). It only reads, except the port probe, which binds
 * each listen address for an instant and releases it.
 *
 * <ul>
 *   <li><b>dataDir</b>: an existing directory this user can write, or a path that can be created:
 *       its nearest existing ancestor is a directory this user can write. A file at the path, or on
 *       the way to it, is refused.
 *   <li><b>Certificates</b>: {@code wan.peerCertificate} parses as a PEM X.509 certificate whose CN
 *       is {@code wan.peerSiteId}; {@code wan.certificate} and {@code wan.privateKey} parse (PEM
 *       certificate; PKCS#8 or traditional OpenSSL key, unencrypted), belong together, and the CN
 *       is {@code site.id}. A key pair the site generated earlier in {@code dataDir/tls} must be
 *       for {@code site.id} too.
 *   <li><b>Volume sizes</b>, for each volume file that does not exist yet ({@code
 *       dataDir/volumes/NAME.img}, created sparse): refused when larger than the whole filesystem
 *       that will hold it (it could never be filled); a warning when the volumes to be created are
 *       together larger than its free space (sparse files start empty, but the site fails writes
 *       with ENOSPC once the disk is full). An existing file is checked by the site as it opens it.
 *   <li><b>Ports</b> (only when asked: {@code kagami run} and {@code kagami config check}): every
 *       listen address is bound for an instant, with SO_REUSEADDR as the site binds, and released.
 *       A port in use, or a host that is not an address of this machine, is a problem; on a primary
 *       {@code wan.listen} is only bound once it becomes the standby, so there it is a warning. The
 *       probe cannot promise the port is still free a moment later: the site's own bind still fails
 *       with the key named.
 * </ul>
 *
 * Not thread-safe: one per load.
 */
final class MachineCheck {
  private final boolean probePorts;

  /** {@code probePorts}: whether to try each listen port (not for configurations merely read). */
  MachineCheck(boolean probePorts) {
    this.probePorts = probePorts;
  }

  /**
   * Checks {@code c} (a draft: fields whose values had problems are null) and adds to {@code p};
   * {@code sizeKeys}: each volume's key for its size ({@code volumes[1].size}).
   */
  void check(SiteConfig c, Map<String, String> sizeKeys, Problems p) {
    boolean dataDirUsable = c.dataDir() != null && dataDir(c.dataDir(), p);
    certificates(c, dataDirUsable, p);
    if (dataDirUsable) {
      volumes(c, sizeKeys, p);
    }
    if (probePorts) {
      ports(c, p);
    }
  }

  /** Whether the data directory exists as one, or can be created; adds why not. */
  private static boolean dataDir(Path dir, Problems p) {
    if (Files.exists(dir)) {
      if (!Files.isDirectory(dir)) {
        p.add(
            "dataDir",
            "dataDir "
                + dir
                + " is a file, not a directory: name a directory (it is created if missing)");
        return false;
      }
      if (!Files.isWritable(dir) || !Files.isExecutable(dir)) {
        p.add(
            "dataDir",
            "dataDir " + dir + " is not writable by this user (" + user() + "): fix its owner");
        return false;
      }
      return true;
    }
    Path ancestor = dir.toAbsolutePath().getParent();
    while (ancestor != null && !Files.exists(ancestor)) {
      ancestor = ancestor.getParent();
    }
    if (ancestor == null) {
      p.add("dataDir", "dataDir " + dir + " cannot be created: no part of its path exists");
      return false;
    }
    if (!Files.isDirectory(ancestor)) {
      p.add(
          "dataDir",
          "dataDir "
              + dir
              + " cannot be created: "
              + ancestor
              + " on its path is a file, not a directory");
      return false;
    }
    if (!Files.isWritable(ancestor) || !Files.isExecutable(ancestor)) {
      p.add(
          "dataDir",
          "dataDir "
              + dir
              + " does not exist and cannot be created: "
              + ancestor
              + " is not writable by this user ("
              + user()
              + ")");
      return false;
    }
    return true;
  }

  private static String user() {
    return System.getProperty("user.name");
  }

  private static void certificates(SiteConfig c, boolean dataDirUsable, Problems p) {
    WanSettings wan = c.wan();
    if (wan == null) {
      return;
    }
    Path peer = wan.peerCertificate();
    if (peer != null && Files.isReadable(peer)) {
      X509Certificate cert = certificate(peer, "wan.peerCertificate", p);
      if (cert != null && wan.peerSiteId() != null) {
        String cn = SiteCredentials.commonName(cert);
        if (!cn.equals(wan.peerSiteId())) {
          p.add(
              "wan.peerCertificate",
              "wan.peerCertificate "
                  + peer
                  + " is for site \""
                  + cn
                  + "\", but wan.peerSiteId is \""
                  + wan.peerSiteId()
                  + "\": copy the paired site's certificate (`kagami cert show` on that site)");
        }
      }
    }
    Path cert = wan.certificate();
    Path key = wan.privateKey();
    if (cert != null && key != null && Files.isReadable(cert) && Files.isReadable(key)) {
      // Each file on its own first, so the message names the one that is wrong.
      if (certificate(cert, "wan.certificate", p) != null) {
        ownPair(key, cert, "wan.privateKey", c.siteId(), p);
      }
    } else if (cert == null && key == null && dataDirUsable && c.siteId() != null) {
      Path tls = c.tlsDir();
      Path generatedKey = tls.resolve(SiteCredentials.KEY_FILE);
      Path generatedCert = tls.resolve(SiteCredentials.CERT_FILE);
      if (Files.exists(generatedKey) && Files.exists(generatedCert)) {
        ownPair(generatedKey, generatedCert, "dataDir", c.siteId(), p);
      }
    }
  }

  /** The certificate in {@code file}, or null after adding why it is not one. */
  private static X509Certificate certificate(Path file, String key, Problems p) {
    try {
      return SiteCredentials.readCertificate(file);
    } catch (IllegalArgumentException | UncheckedIOException e) {
      p.add(
          key,
          key
              + " "
              + file
              + " is not a PEM X.509 certificate ("
              + e.getMessage()
              + "); expected a file starting with -----BEGIN CERTIFICATE-----");
      return null;
    }
  }

  private static void ownPair(Path key, Path cert, String problemKey, String siteId, Problems p) {
    try {
      SiteCredentials own = SiteCredentials.load(key, cert);
      if (siteId != null && !own.siteId().equals(siteId)) {
        p.add(
            problemKey.equals("dataDir") ? "dataDir" : "wan.certificate",
            "certificate "
                + cert
                + " is for site \""
                + own.siteId()
                + "\", but site.id is \""
                + siteId
                + "\": its subject must be CN="
                + siteId);
      }
    } catch (IllegalArgumentException | IllegalStateException | UncheckedIOException e) {
      p.add(
          problemKey,
          problemKey
              + ": "
              + e.getMessage()
              + " (expected an unencrypted PEM private key, PKCS#8 \"-----BEGIN PRIVATE KEY-----\" or OpenSSL, belonging to "
              + cert
              + ")");
    }
  }

  private static void volumes(SiteConfig c, Map<String, String> sizeKeys, Problems p) {
    FileStore store = storeOf(c.dataDir());
    if (store == null) {
      return;
    }
    long total;
    long usable;
    try {
      total = store.getTotalSpace();
      usable = store.getUsableSpace();
    } catch (IOException e) {
      return; // the filesystem does not say; the site finds out as it writes
    }
    long toCreate = 0;
    List<String> created = new ArrayList<>();
    for (VolumeConfig v : c.volumes()) {
      if (Files.exists(c.volumeFile(v.name()))) {
        continue;
      }
      String key = sizeKeys.getOrDefault(v.name(), "volumes");
      if (total > 0 && v.sizeBytes() > total) {
        p.add(
            key,
            "volume \""
                + v.name()
                + "\" of "
                + new DataSize(v.sizeBytes())
                + " ("
                + v.sizeBytes()
                + " bytes) is larger than the whole filesystem of dataDir "
                + c.dataDir()
                + " ("
                + total
                + " bytes): it could never be filled; make it smaller or move dataDir");
        continue;
      }
      toCreate += v.sizeBytes();
      created.add(v.name());
    }
    if (!created.isEmpty() && toCreate > usable) {
      p.warn(
          "volumes",
          "the volumes to be created ("
              + String.join(", ", created)
              + ", "
              + toCreate
              + " bytes) are larger than the free space of dataDir's filesystem ("
              + usable
              + " bytes): they are created sparse, but writes fail (ENOSPC) once the disk is full");
    }
  }

  /** The filesystem that holds {@code dir}, or would once created; null when it cannot be told. */
  private static FileStore storeOf(Path dir) {
    Path at = dir.toAbsolutePath();
    while (at != null && !Files.exists(at)) {
      at = at.getParent();
    }
    try {
      return at == null ? null : Files.getFileStore(at);
    } catch (IOException e) {
      return null;
    }
  }

  private static void ports(SiteConfig c, Problems p) {
    Map<String, HostPort> listen = new LinkedHashMap<>();
    listen.put("nbd.listen", c.nbdListen());
    listen.put("admin.listen", c.adminListen());
    if (c.wan() != null) {
      listen.put("wan.listen", c.wan().listen());
    }
    for (Map.Entry<String, HostPort> e : listen.entrySet()) {
      HostPort a = e.getValue();
      if (a == null || a.port() == 0) {
        continue; // port 0: any free port, chosen as it binds
      }
      String why = bindFails(a);
      if (why == null) {
        continue;
      }
      String reason = e.getKey() + " " + a + " cannot be bound: " + why;
      if (e.getKey().equals("wan.listen") && c.role() == Role.PRIMARY) {
        p.warn(
            e.getKey(),
            reason
                + " (a primary binds it only once it becomes the standby, e.g. by a switchover)");
      } else {
        p.add(e.getKey(), reason);
      }
    }
  }

  /** Why {@code a} cannot be bound now, or null when it can (it is released at once). */
  private static String bindFails(HostPort a) {
    InetSocketAddress address = new InetSocketAddress(a.host(), a.port());
    if (address.isUnresolved()) {
      return "host " + a.host() + " does not resolve to an address";
    }
    try (ServerSocket s = new ServerSocket()) {
      s.setReuseAddress(true);
      s.bind(address);
      return null;
    } catch (java.net.BindException e) {
      String m = String.valueOf(e.getMessage());
      if (m.contains("in use")) {
        return "port " + a.port() + " is in use by another process (see: ss -ltnp)";
      }
      if (m.contains("assign")) {
        return a.host() + " is not an address of this machine";
      }
      if (m.contains("denied")) {
        return "permission denied (ports below 1024 need CAP_NET_BIND_SERVICE)";
      }
      return m;
    } catch (IOException e) {
      return String.valueOf(e.getMessage());
    }
  }
}
