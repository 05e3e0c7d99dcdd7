package io.kagami.site.cli;

import io.kagami.clock.SystemTime;
import io.kagami.failover.witness.WitnessState;
import io.kagami.site.auth.BearerToken;
import io.kagami.site.config.HostPort;
import io.kagami.site.witness.WitnessServer;
import io.kagami.site.witness.WitnessStateFile;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code kagami witness --listen HOST:PORT --token-file FILE [--data-dir DIR] [--tls-dir DIR]
 * [--lease 10s] [--margin 2s]}: the third party that settles partitions between two sites, in the
 * foreground until SIGINT/SIGTERM. Run it at a third location that both sites reach by a path other
 * than their WAN link. Lease requests must carry the token in {@code FILE} (created if missing;
 * each site names a copy in {@code failover.witnessTokenFile}); without {@code --token-file} anyone
 * who reaches the port may ask, which is said at start. Grants are recorded in {@code
 * DIR/witness-leases} before they are answered ({@link WitnessStateFile}; {@code DIR} defaults to
 * the token file's directory), so a witness restarted, even after kill -9, honours every lease it
 * granted; a damaged record stops it from starting, with a message naming the file.
 */
@Command(
    name = "witness",
    description = "Run the failover witness (primary leases per pair), in the foreground.")
final class WitnessCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Option(
      names = "--listen",
      required = true,
      description = "HTTP listen address, e.g. 0.0.0.0:7900")
  String listen;

  @Option(
      names = "--token-file",
      description =
          "the token lease requests must carry (created, owner-only, if missing); copy it to each site's failover.witnessTokenFile")
  java.nio.file.Path tokenFile;

  @Option(
      names = "--data-dir",
      description =
          "where the witness records its leases (witness-leases), fsync'd before each grant is answered, so a restarted witness never grants a lease it already granted; default: the --token-file's directory. Without either, leases are kept in memory only")
  java.nio.file.Path dataDir;

  @Option(
      names = "--tls-dir",
      description =
          "serve HTTPS with the key and certificate in this directory (site.key, site.crt with CN=witness; generated if missing); give site.crt to each site as failover.witnessCertificate. Required unless --listen is a loopback address or --certificate is given")
  java.nio.file.Path tlsDir;

  @Option(
      names = "--certificate",
      description =
          "serve HTTPS with this PEM certificate (with --private-key) instead of --tls-dir")
  java.nio.file.Path certificate;

  @Option(names = "--private-key", description = "the PEM private key of --certificate")
  java.nio.file.Path privateKey;

  @Option(
      names = "--lease",
      defaultValue = "10s",
      description =
          "lease duration granted to a primary (default ${DEFAULT-VALUE}); every site's failover.selfFenceAfter must be shorter")
  String lease;

  @Option(
      names = "--margin",
      defaultValue = "2s",
      description =
          "safety margin after a lease expires before another site may claim it (default ${DEFAULT-VALUE}); covers clock-rate drift")
  String margin;

  @Override
  public Integer call() throws InterruptedException {
    HostPort hp;
    Duration leaseDuration;
    Duration safetyMargin;
    WitnessState state;
    WitnessStateFile record = null;
    Path dir = dataDir != null ? dataDir : tokenFile == null ? null : parentOf(tokenFile);
    try {
      hp = HostPort.parse(listen);
      leaseDuration = parseDuration("--lease", lease);
      safetyMargin = parseDuration("--margin", margin);
      List<WitnessState.Saved> restored = List.of();
      if (dir != null) {
        record = new WitnessStateFile(dir);
        restored = record.load();
      }
      state = new WitnessState(leaseDuration, safetyMargin, SystemTime.WALL, restored, record);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    } catch (IllegalStateException e) {
      System.err.println("kagami: witness: " + e.getMessage());
      return 2;
    }
    if (record == null) {
      System.out.println(
          "kagami: WARNING: no --data-dir (nor --token-file): leases are kept in memory only; after a restart the witness grants nothing for lease + margin");
    } else {
      List<WitnessState.Saved> held = state.saved();
      System.out.println(
          "kagami: witness state in "
              + record.file()
              + ": "
              + (held.isEmpty()
                  ? "no leases recorded yet"
                  : held.size()
                      + " group(s) remembered ("
                      + String.join(
                          ", ",
                          held.stream()
                              .map(
                                  l ->
                                      l.group()
                                          + ": "
                                          + l.holder()
                                          + " at term "
                                          + l.term()
                                          + (l.released() ? " released" : ""))
                              .toList())
                      + "); their holders may renew now, nobody else is granted them before "
                      + leaseDuration.plus(safetyMargin).toMillis()
                      + "ms"));
    }
    BearerToken token = null;
    if (tokenFile != null) {
      try {
        token =
            BearerToken.loadOrCreate(
                tokenFile,
                () ->
                    System.out.println(
                        "kagami: witness token created in "
                            + tokenFile
                            + ": copy it to each site and name it in failover.witnessTokenFile"));
      } catch (IllegalStateException e) {
        throw new ParameterException(spec.commandLine(), "--token-file: " + e.getMessage());
      }
    } else {
      System.out.println(
          "kagami: WARNING: no --token-file: anyone who reaches this port can claim or release a pair's lease");
    }
    javax.net.ssl.SSLContext tls = tls(hp);
    WitnessServer server =
        new WitnessServer(new InetSocketAddress(hp.host(), hp.port()), state, token, tls);
    Foreground fg = new Foreground();
    fg.onStop(server::close);
    server.start();
    InetSocketAddress bound = server.address();
    System.out.printf(
        "kagami: witness listening on %s://%s:%d (lease %s, margin %s; no grants for the first %s after start)%n",
        tls == null ? "http" : "https",
        hp.host(),
        bound.getPort(),
        lease,
        margin,
        leaseDuration.plus(safetyMargin).toMillis() + "ms");
    System.out.flush();
    fg.awaitStop();
    return 0;
  }

  /**
   * The TLS context the options name, or null for plain HTTP, which is refused off loopback (lease
   * requests carry the witness token).
   */
  private javax.net.ssl.SSLContext tls(HostPort hp) {
    if ((certificate == null) != (privateKey == null)) {
      throw new ParameterException(
          spec.commandLine(), "--certificate and --private-key go together: give both or neither");
    }
    if (certificate != null && tlsDir != null) {
      throw new ParameterException(
          spec.commandLine(), "give --tls-dir or --certificate/--private-key, not both");
    }
    io.kagami.wan.tls.SiteCredentials own;
    try {
      if (certificate != null) {
        own = io.kagami.wan.tls.SiteCredentials.load(privateKey, certificate);
      } else if (tlsDir != null) {
        own = io.kagami.wan.tls.SiteCredentials.loadOrCreate(tlsDir, "witness");
      } else if (hp.isLoopback()) {
        return null;
      } else {
        throw new ParameterException(
            spec.commandLine(),
            "--listen "
                + hp
                + " is not a loopback address: the witness must speak TLS there (its token would travel in clear); add --tls-dir DIR (a key and certificate are generated there) or --certificate/--private-key");
      }
    } catch (RuntimeException e) {
      if (e instanceof ParameterException pe) {
        throw pe;
      }
      throw new ParameterException(spec.commandLine(), "TLS: " + e.getMessage());
    }
    System.out.println(
        "kagami: witness certificate "
            + own.certificateFile()
            + " ("
            + io.kagami.site.auth.HttpTls.describe(own.certificate())
            + "): give it to each site as failover.witnessCertificate");
    return io.kagami.site.auth.HttpTls.server(own);
  }

  private static Path parentOf(Path file) {
    Path p = file.toAbsolutePath().getParent();
    return p == null ? Path.of(".") : p;
  }

  /** {@code 10s}, {@code 500ms}, {@code 1m}, or an ISO-8601 duration ({@code PT10S}). */
  static Duration parseDuration(String option, String text) {
    String t = text.trim().toLowerCase(Locale.ROOT);
    try {
      if (t.startsWith("pt")) {
        return Duration.parse(text.trim());
      }
      if (t.endsWith("ms")) {
        return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
      }
      if (t.endsWith("s")) {
        return Duration.ofSeconds(Long.parseLong(t.substring(0, t.length() - 1)));
      }
      if (t.endsWith("m")) {
        return Duration.ofMinutes(Long.parseLong(t.substring(0, t.length() - 1)));
      }
    } catch (RuntimeException e) {
      // fall through to the message below
    }
    throw new IllegalArgumentException(
        option + " \"" + text + "\" is not a duration (e.g. 10s, 500ms, 1m)");
  }
}
