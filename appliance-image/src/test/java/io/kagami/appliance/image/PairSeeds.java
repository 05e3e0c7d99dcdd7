package io.kagami.appliance.image;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Random;

/**
 * Seeds for a primary and a standby appliance paired with each other, written the way an operator
 * would (see the README's seed format): each site's key pair made on the host by {@code kagami cert
 * show}, each seed carrying its own key and certificate, the peer's certificate, an admin token,
 * the site configuration, a static WAN address on the NIC with the given MAC, and the data disk.
 */
final class PairSeeds {
  /** One site of the pair. */
  record Site(
      String id,
      String role,
      String wanAddress,
      String wanMac,
      String instanceId,
      String adminToken) {}

  static final String VOLUME = "vol0";
  static final String VOLUME_SIZE = "64MiB";

  private PairSeeds() {}

  static Site site(String id, String role, String wanAddress, String wanMac, Random random) {
    byte[] token = new byte[16];
    random.nextBytes(token);
    return new Site(
        id,
        role,
        wanAddress,
        wanMac,
        id + "-" + Integer.toHexString(random.nextInt()),
        HexFormat.of().formatHex(token));
  }

  /** Writes both seeds under {@code dir} and returns the seed volume of {@code self}. */
  static Path write(Site self, Site peer, Path dir) throws IOException, InterruptedException {
    Path keys = dir.resolve("keys");
    Path seed = dir.resolve("seed-" + self.id());
    Path kagami = seed.resolve("kagami");
    Files.createDirectories(kagami);
    Files.copy(certificate(keys, self), kagami.resolve("site.crt"));
    Files.copy(keys.resolve(self.id()).resolve("tls/site.key"), kagami.resolve("site.key"));
    Files.copy(certificate(keys, peer), kagami.resolve("peer.crt"));
    Files.writeString(kagami.resolve("admin.token"), self.adminToken() + "\n");
    Files.writeString(
        seed.resolve("meta-data"),
        """
        instance-id: %s
        local-hostname: %s
        """
            .formatted(self.instanceId(), self.id()));
    Files.writeString(
        seed.resolve("kagami.conf"),
        """
        # Kagami appliance seed (test pair)
        SITE=%s
        ADDRESS=%s/24
        WAN_MAC=%s
        DATA_DISK=/dev/disk/by-id/virtio-kagami-data
        """
            .formatted(self.id(), self.wanAddress(), self.wanMac()));
    Files.writeString(
        kagami.resolve("site.yaml"),
        """
        site: {id: %s, role: %s}
        dataDir: /var/lib/kagami/%s
        nbd: {listen: "0.0.0.0:10809"}
        admin: {listen: "0.0.0.0:9480", tokenFile: admin.token}
        wan:
          listen: "0.0.0.0:7800"
          peer: "%s:7800"
          peerSiteId: %s
          peerCertificate: peer.crt
          certificate: site.crt
          privateKey: site.key
        volumes:
          - {name: %s, size: %s}
        """
            .formatted(
                self.id(),
                self.role(),
                self.id(),
                peer.wanAddress(),
                peer.id(),
                VOLUME,
                VOLUME_SIZE));
    return ImageScripts.makeSeed(seed, dir.resolve("seed-" + self.id() + ".img"));
  }

  /**
   * The site's certificate, made (with its key) by the real {@code kagami cert show} on first use.
   */
  private static Path certificate(Path keys, Site site) throws IOException, InterruptedException {
    Path dataDir = keys.resolve(site.id());
    Path cert = dataDir.resolve("tls/site.crt");
    if (!Files.exists(cert)) {
      HostKagami.run(
              Duration.ofMinutes(1),
              "cert",
              "show",
              "--data-dir",
              dataDir.toString(),
              "--site-id",
              site.id())
          .requireSuccess();
    }
    return cert;
  }
}
