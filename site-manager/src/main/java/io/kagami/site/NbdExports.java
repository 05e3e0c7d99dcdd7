package io.kagami.site;

import io.kagami.replicator.nbd.Exports;
import io.kagami.replicator.nbd.NbdServer;
import io.kagami.replicator.nbd.NbdServerConfig;
import io.kagami.replicator.volume.BlockDevice;
import io.kagami.site.config.HostPort;
import java.util.List;

/** The site's NBD listener serving one export per volume. */
final class NbdExports implements AutoCloseable {
  private final NbdServer server;

  NbdExports(HostPort listen, List<BlockDevice> devices) {
    this.server = new NbdServer(NbdServerConfig.listen(listen.host(), listen.port()), new Exports(devices));
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
