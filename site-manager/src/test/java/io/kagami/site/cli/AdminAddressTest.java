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
  void aLoopbackAddressIsPlainHttpUnlessSaidOtherwiseAndAnyOtherIsHttps() {
    assertThat(AdminAddress.target("127.0.0.1:9480").tls()).isFalse();
    assertThat(AdminAddress.target("[::1]:9480").tls()).isFalse();
    assertThat(AdminAddress.target("https://127.0.0.1:9480").tls()).isTrue();
    assertThat(AdminAddress.target("192.0.2.7:9480").tls()).isTrue();
    assertThat(AdminAddress.target("0.0.0.0:9480").tls()).isTrue();
    assertThat(AdminAddress.target("http://192.0.2.7:9480").tls()).isFalse();
    assertThat(AdminAddress.target("HTTPS://[::1]:9480/").address())
        .isEqualTo(new HostPort("::1", 9480));
  }

  @Test
  void theTokenIsNeverSentOverPlainHttpOffLoopback() {
    // 192.0.2.0/24 is TEST-NET-1: nothing answers there, and the refusal comes before any
    // connection.
    AdminClient c =
        new AdminClient(
            new HostPort("192.0.2.7", 9480),
            false,
            null,
            java.util.Map.of("KAGAMI_ADMIN_TOKEN", "0123456789abcdef0123456789abcdef"));
    assertThatThrownBy(() -> c.send("PUT", "/maintenance", null, java.time.Duration.ofSeconds(1)))
        .isInstanceOfSatisfying(
            CliError.class,
            e -> {
              assertThat(e.exitCode()).isEqualTo(ExitCode.USAGE);
              assertThat(e.getMessage())
                  .contains("refusing to send the admin token over plain HTTP to 192.0.2.7:9480");
              assertThat(e.next()).contains("https://192.0.2.7:9480");
            });
  }

  @Test
  void httpsWithoutACertificateToVerifyAgainstIsAUsageError() {
    AdminClient c =
        new AdminClient(new HostPort("192.0.2.7", 9480), true, null, java.util.Map.of());
    assertThatThrownBy(() -> c.get("/status"))
        .isInstanceOfSatisfying(
            CliError.class,
            e -> {
              assertThat(e.exitCode()).isEqualTo(ExitCode.USAGE);
              assertThat(e.next()).contains("--admin-ca");
            });
  }

  @Test
  void whatIsNotAnAdminAddressIsAUsageErrorThatSaysHowToWriteIt() {
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
