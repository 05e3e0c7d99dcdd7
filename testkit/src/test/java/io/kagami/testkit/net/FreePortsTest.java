package io.kagami.testkit.net;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class FreePortsTest {
  @Test
  void portsAreDistinctAndBindableOnLoopback() throws Exception {
    int[] ports = FreePorts.loopbackPorts(8);
    assertThat(Arrays.stream(ports).distinct().count()).isEqualTo(8);
    for (int port : ports) {
      try (ServerSocket s = new ServerSocket()) {
        s.bind(new InetSocketAddress(FreePorts.loopback(), port));
        assertThat(s.getLocalPort()).isEqualTo(port);
      }
    }
  }

  @Test
  void neverHandsOutAPortTwice() {
    int[] first = FreePorts.loopbackPorts(20);
    int[] second = FreePorts.loopbackPorts(20);
    assertThat(first).doesNotContain(second);
  }

  @Test
  void addressIsIpv4Loopback() {
    InetSocketAddress a = FreePorts.loopbackAddress();
    assertThat(a.getAddress().getHostAddress()).isEqualTo("127.0.0.1");
    assertThat(a.getPort()).isPositive();
  }
}
