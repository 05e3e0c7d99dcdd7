package io.kagami.failover;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kagami.failover.fence.FenceCommand;
import io.kagami.failover.monitor.MonitorConfig;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FailoverConfigTest {
  @Test
  void automaticFailoverIsOffByDefault() {
    FailoverConfig d = FailoverConfig.defaults();
    assertThat(d.autoFailover()).isFalse();
    assertThat(d.selfFenceAfter()).isLessThan(d.lease()).isLessThan(d.peerLostAfter());
    assertThat(d.fence()).isNull();
    assertThat(d.heartbeatPaths()).containsExactly("wan", "witness");
  }

  @Test
  void selfFenceTimeoutMustBeShorterThanTheLease() {
    assertThatThrownBy(
            () ->
                FailoverConfig.defaults()
                    .withTimings(
                        Duration.ofSeconds(1),
                        Duration.ofSeconds(30),
                        Duration.ofSeconds(10),
                        Duration.ofSeconds(10)))
        .hasMessage(
            "failover: selfFenceAfter 10s must be shorter than the witness lease 10s, so an isolated primary has stopped writing before"
                + " the witness can grant the lease to the standby");
  }

  @Test
  void selfFenceTimeoutMustBeShorterThanPeerLostAfter() {
    assertThatThrownBy(
            () ->
                FailoverConfig.defaults()
                    .withTimings(
                        Duration.ofSeconds(1),
                        Duration.ofSeconds(5),
                        Duration.ofSeconds(6),
                        Duration.ofSeconds(10)))
        .hasMessageContaining("selfFenceAfter 6s must be shorter than peerLostAfter 5s");
  }

  @Test
  void heartbeatsMustBeFrequentEnoughForTheFenceTimeout() {
    assertThatThrownBy(
            () ->
                FailoverConfig.defaults()
                    .withTimings(
                        Duration.ofMillis(2500),
                        Duration.ofSeconds(10),
                        Duration.ofSeconds(6),
                        Duration.ofSeconds(10)))
        .hasMessageContaining("heartbeatInterval 2500ms is too long for selfFenceAfter 6s");
  }

  @Test
  void fenceCommandAndMonitorsAreValidatedWithOperatorMessages() {
    assertThatThrownBy(() -> new FenceCommand(List.of(), Map.of(), null))
        .hasMessageContaining("fence agent's program is missing");
    assertThatThrownBy(
            () -> new FenceCommand(List.of("fence_ipmilan"), Map.of("action", "reboot"), null))
        .hasMessageContaining("do not set \"action\"");
    assertThatThrownBy(() -> new FenceCommand(List.of("fence_ipmilan"), Map.of("ip", "a\nb"), null))
        .hasMessageContaining("one key=value line");
    assertThatThrownBy(() -> new MonitorConfig.Tcp("db", "10.0.0.1", 0, null))
        .hasMessage("monitor \"db\": port 0 is out of range 1-65535");
    assertThatThrownBy(
            () ->
                FailoverConfig.defaults()
                    .withMonitors(
                        List.of(
                            new MonitorConfig.Tcp("db", "h", 1, null),
                            new MonitorConfig.Postgres("db", "h", 5432, null)),
                        3))
        .hasMessageContaining("two monitors are named \"db\"");
    assertThatThrownBy(() -> FailoverConfig.defaults().withMonitors(List.of(), 0))
        .hasMessageContaining("monitorFailures must be at least 1");
    assertThat(new FenceCommand(List.of("fence_virsh"), Map.of("plug", "tokyo"), null).timeout())
        .isEqualTo(FenceCommand.DEFAULT_TIMEOUT);
  }
}
