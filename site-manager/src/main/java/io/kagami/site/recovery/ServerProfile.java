package io.kagami.site.recovery;

import io.kagami.site.config.DataSize;
import java.time.Duration;
import java.util.List;

/**
 * How one protected server is started on the DR site, with the defaults of its recovery.yaml
 * already applied: immutable and validated by {@link RecoveryProfilesLoader}.
 *
 * @param volumes this site's volumes in disk order; the first is the boot disk
 * @param priority the boot group: group 1 starts first, group N+1 once every server of group N is
 *     healthy
 * @param dependsOn servers that must be healthy before this one starts (in its group or earlier)
 * @param bootFailure texts that, on a line of the serial console, mean the boot failed: the attempt
 *     ends at once (its VM stopped) instead of at the health timeout; empty: none
 */
public record ServerProfile(
    String name,
    List<String> volumes,
    int vcpus,
    DataSize memory,
    String machine,
    Firmware firmware,
    DiskBus diskBus,
    List<Nic> nics,
    int priority,
    List<String> dependsOn,
    HealthCheck healthCheck,
    List<String> bootFailure,
    Timeouts timeouts) {

  public ServerProfile {
    volumes = List.copyOf(volumes);
    bootFailure = List.copyOf(bootFailure);
    nics = List.copyOf(nics);
    dependsOn = List.copyOf(dependsOn);
  }

  /** True for the {@code pc} (i440fx) machine family, which has IDE; {@code q35} has not. */
  public boolean i440fx() {
    return machine.equals("pc") || machine.startsWith("pc-i440fx-");
  }

  /**
   * One network card: attached to {@code network} in a recovery and to {@code drillNetwork} (an
   * isolated network, so a drill's copy never answers on production addresses) in a drill; null:
   * left out in a drill.
   *
   * @param model the emulated card: {@code virtio}, {@code e1000} or {@code rtl8139}
   */
  public record Nic(String network, String drillNetwork, String mac, String model) {}

  /**
   * @param healthy how long the server may take from its start to its first passing health check
   *     before the recovery stops waiting for it (and for its group)
   * @param shutdown how long a drill's server gets to power off before it is stopped hard
   * @param attempts how many times a recovery starts the server before it counts as failed (its VM
   *     exited or missed {@code healthy}); 1..10, default 1
   */
  public record Timeouts(Duration healthy, Duration shutdown, int attempts) {
    public Timeouts(Duration healthy, Duration shutdown) {
      this(healthy, shutdown, 1);
    }
  }
}
