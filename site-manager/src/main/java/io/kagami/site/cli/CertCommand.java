package io.kagami.site.cli;

import io.kagami.site.SiteLink;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kagami cert show --data-dir DIR --site-id ID}: prints the site's certificate (generating
 * the key pair on first use), to be copied to the paired site as its {@code wan.peerCertificate}.
 * Works before the site's configuration is complete, which is the point: pairing needs it first.
 */
@Command(name = "cert", description = "Show this site's WAN certificate.", subcommands = CertCommand.Show.class)
final class CertCommand {
  @Command(name = "show", description = "Print a site's certificate PEM (key pair generated on first use).")
  static final class Show implements Callable<Integer> {
    @Option(names = "--data-dir", required = true, description = "the site's data directory (dataDir in its YAML)")
    Path dataDir;

    @Option(names = "--site-id", required = true, description = "the site's id (site.id in its YAML)")
    String siteId;

    @Override
    public Integer call() throws Exception {
      Path cert = SiteLink.ensureCredentials(dataDir.resolve("tls"), siteId);
      System.out.print(Files.readString(cert));
      return 0;
    }
  }
}
