package io.kagami.site.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kagami.site.config.HostPort;
import org.junit.jupiter.api.Test;

/** The forms --admin and KAGAMI_ADMIN take, and the usage errors for the ones they do not. */
class AdminAddressTest {
  @Test
  void hostPortAndTheUrlTheDemoPrintsNameTheSameSite() {
    assertThat(AdminAddress.parse("127.0.0.1:9481")).isEqualTo(new HostPort("127.0.0.1", 9481));
    assertThat(AdminAddress.parse("http://127.0.0.1:9481"))
        .isEqualTo(new HostPort("127.0.0.1", 9481));
    assertThat(AdminAddress.parse("http://127.0.0.1:9481/"))
        .isEqualTo(new HostPort("127.0.0.1", 9481));
    assertThat(AdminAddress.parse("http://127.0.0.1:9481/status"))
        .as("the status URL the demo prints")
        .isEqualTo(new HostPort("127.0.0.1", 9481));
    assertThat(AdminAddress.parse("HTTP://tokyo.example.net:9480"))
        .isEqualTo(new HostPort("tokyo.example.net", 9480));
  }

  @Test
  void ipv6InBracketsWithOrWithoutTheScheme() {
    assertThat(AdminAddress.parse("[::1]:9480")).isEqualTo(new HostPort("::1", 9480));
    assertThat(AdminAddress.parse("http://[::1]:9480")).isEqualTo(new HostPort("::1", 9480));
  }

  @Test
  void whatIsNotAnAdminAddressIsAUsageErrorThatSaysHowToWriteIt() {
    assertUsage("https://127.0.0.1:9480", "plain HTTP");
    assertUsage("http://127.0.0.1", "no port");
    assertUsage("http://127.0.0.1:9480/metrics", "without a path");
    assertUsage("127.0.0.1", "not host:port");
    assertUsage("127.0.0.1:http", "port is not a number");
    assertUsage("127.0.0.1:0", "port 0");
    assertUsage("", "not host:port");
  }

  private static void assertUsage(String admin, String says) {
    assertThatThrownBy(() -> AdminAddress.parse(admin))
        .as("--admin %s", admin)
        .isInstanceOfSatisfying(
            CliError.class,
            e -> {
              assertThat(e.exitCode()).isEqualTo(ExitCode.USAGE);
              assertThat(e.getMessage()).contains(says);
              assertThat(e.next()).isNotBlank();
            });
  }
}
