package io.kagami.site.cli;

import io.kagami.site.SiteLink;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kagami cert show --data-dir DIR --site-id ID}: prints the site's certificate (generating
 * the key pair on first use), to be copied to the paired site as its {@code wan.peerCertificate}.
 * Works before the site's configuration is complete, which is the point: pairing needs it first.
 */
@Command(
    name = "cert",
    description = "Show this site's WAN certificate, to pair it with the other site.",
    subcommands = CertCommand.Show.class)
final class CertCommand {
  @Command(
      name = "show",
      description = {
        "Print a site's WAN certificate (PEM), generating its key pair in DIR/tls on first use.",
        "Copy it to the other site, where wan.peerCertificate names it."
      })
  static final class Show implements Callable<Integer> {
    @Option(
        names = "--data-dir",
        required = true,
        paramLabel = "DIR",
        description = "The site's data directory (dataDir in its YAML).")
    Path dataDir;

    @Option(
        names = "--site-id",
        required = true,
        paramLabel = "ID",
        description = "The site's id (site.id in its YAML).")
    String siteId;

    @Option(
        names = "--json",
        description =
            "Print {\"siteId\", \"file\", \"certificate\"} as JSON; errors too, as {\"error\": {...}}.")
    boolean json;

    @Override
    public Integer call() throws Exception {
      Path cert = SiteLink.ensureCredentials(dataDir.resolve("tls"), siteId);
      String pem = Files.readString(cert);
      if (json) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("siteId", siteId);
        out.put("file", cert.toString());
        out.put("certificate", pem);
        SiteVerb.printJson(out);
      } else {
        System.out.print(pem);
      }
      return ExitCode.OK;
    }
  }
}
