package io.kagami.site;

import io.kagami.replicator.nbd.Exports;
import io.kagami.replicator.nbd.InFlightShare;
import io.kagami.replicator.nbd.NbdServer;
import io.kagami.replicator.nbd.NbdServerConfig;
import io.kagami.replicator.volume.BlockDevice;
import io.kagami.site.config.HostPort;
import java.util.List;

/** The site's NBD listener serving one export per volume, and a drill's clone while one runs. */
final class NbdExports implements AutoCloseable {
  /**
   * How long a shutdown lets the requests in flight complete before closing their connections (a
   * share of {@link Site#SHUTDOWN_BUDGET}). Safe to cut: a request not answered by then was never
   * acknowledged to its host; one that was is in the journal.
   */
  static final java.time.Duration DRAIN_TIMEOUT = java.time.Duration.ofSeconds(3);

  private final NbdServer server;
  private final Exports exports;

  /** {@code share}: the NBD in-flight share of the site's memory budget. */
  NbdExports(HostPort listen, List<BlockDevice> devices, InFlightShare share) {
    this.exports = new Exports(devices);
    this.server =
        new NbdServer(
            NbdServerConfig.listen(listen.host(), listen.port()).withDrainTimeout(DRAIN_TIMEOUT),
            exports,
            share);
  }

  /** Exports {@code device} from now on (a drill's clone). */
  void add(BlockDevice device) {
    exports.add(device);
  }

  /** Stops exporting {@code name} and closes its connections; returns how many were closed. */
  int remove(String name) {
    exports.remove(name);
    return server.closeConnections(name);
  }

  void start() {
    server.start();
  }

  int port() {
    return server.port();
  }

  @Override
  public void close() {
    server.close();
  }
}
