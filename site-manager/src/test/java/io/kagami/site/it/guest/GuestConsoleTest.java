package io.kagami.site.it.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GuestConsoleTest {
  @TempDir Path dir;

  @Test
  void findsAMarkerInAConsoleFileThatGrowsAfterTheWaitBegan() throws Exception {
    Path file = dir.resolve("console.log");
    GuestConsole console = new GuestConsole("db");
    console.followFile(file);
    Files.writeString(file, "SYSLINUX 6.04\r\n[    0.000000] Linux version\n");
    Files.writeString(
        file, "\u001B[0mKAGAMI-GUEST WROTE 16\nKAGAMI-GUEST REA", StandardOpenOption.APPEND);
    assertThat(console.await(0, GuestConsole.WROTE, Duration.ofSeconds(30), "WROTE"))
        .isEqualTo("KAGAMI-GUEST WROTE 16");
    Files.writeString(file, "DY db\n", StandardOpenOption.APPEND);
    assertThat(console.await(0, GuestConsole.READY, Duration.ofSeconds(30), "READY"))
        .isEqualTo("KAGAMI-GUEST READY db");
    console.stopFollowing();
    assertThatThrownBy(
            () -> console.await(0, GuestConsole.VERIFY_OK, Duration.ofSeconds(30), "VERIFY"))
        .hasMessageContaining("the VM stopped first");
  }

  @Test
  void aKernelPanicFailsTheWaitAtOnceWithTheConsoleTail() {
    GuestConsole console = new GuestConsole("app");
    console.follow(
        new ByteArrayInputStream(
            ("VFS: Unable to mount root fs\n"
                    + "---[ end Kernel panic - not syncing: VFS: Unable to mount root fs ]---\n")
                .getBytes(StandardCharsets.UTF_8)),
        dir.resolve("serial.log"));
    assertThatThrownBy(
            () -> console.await(0, GuestConsole.READY, Duration.ofMinutes(10), "the guest ready"))
        .hasMessageContaining("app: the guest ready")
        .hasMessageContaining("VFS: Unable to mount root fs");
  }

  @Test
  void theRootNotFoundPatternMatchesDebianInitramfsMessages() {
    assertThat("Gave up waiting for root file system device.  Common problems:")
        .containsPattern(GuestConsole.ROOT_NOT_FOUND);
    assertThat("ALERT!  UUID=3b1c does not exist.  Dropping to a shell!")
        .containsPattern(GuestConsole.ROOT_NOT_FOUND);
  }
}
