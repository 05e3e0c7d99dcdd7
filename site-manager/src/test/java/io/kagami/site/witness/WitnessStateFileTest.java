package io.kagami.site.witness;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kagami.failover.witness.LeaseReply;
import io.kagami.failover.witness.LeaseRequest;
import io.kagami.failover.witness.WitnessState;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WitnessStateFileTest {
  @TempDir Path dir;

  private static final List<WitnessState.Saved> LEASES =
      List.of(
          new WitnessState.Saved("hiroshima+tokyo", "tokyo", 7, false),
          new WitnessState.Saved("odd group/ü", "site with space", 3, true));

  @Test
  void aFirstStartHasNoRecordAndASavedRecordReadsBackAsWritten() throws IOException {
    WitnessStateFile f = new WitnessStateFile(dir.resolve("witness"));
    assertThat(f.load()).isEmpty();
    f.save(LEASES);
    assertThat(new WitnessStateFile(dir.resolve("witness")).load()).isEqualTo(LEASES);
    assertThat(Files.readString(f.file())).startsWith("kagami-witness-leases 1\n");
    assertThat(Files.exists(dir.resolve("witness/witness-leases.tmp"))).isFalse();
  }

  @Test
  void aHalfWrittenTempFileFromACrashIsIgnoredAndRemoved() throws IOException {
    WitnessStateFile f = new WitnessStateFile(dir);
    f.save(LEASES);
    Path tmp = dir.resolve("witness-leases.tmp");
    Files.writeString(tmp, "kagami-witness-leases 1\nlease g tok");
    assertThat(new WitnessStateFile(dir).load()).isEqualTo(LEASES);
    assertThat(Files.exists(tmp)).isFalse();
  }

  @Test
  void everyTruncationOfTheFileIsRefusedWithAMessageNamingIt() throws IOException {
    WitnessStateFile f = new WitnessStateFile(dir);
    f.save(LEASES);
    byte[] whole = Files.readAllBytes(f.file());
    for (int n = 0; n < whole.length; n++) {
      Files.write(f.file(), Arrays.copyOf(whole, n));
      int cut = n;
      assertThatThrownBy(() -> new WitnessStateFile(dir).load())
          .as("the file cut to %d of %d bytes was accepted", cut, whole.length)
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining(f.file().toString())
          .hasMessageContaining("is damaged")
          .hasMessageContaining("refusing to start");
    }
  }

  @Test
  void everySingleBitFlipIsRefused() throws IOException {
    WitnessStateFile f = new WitnessStateFile(dir);
    f.save(LEASES);
    byte[] whole = Files.readAllBytes(f.file());
    for (int i = 0; i < whole.length * 8; i++) {
      byte[] flipped = whole.clone();
      flipped[i / 8] ^= (byte) (1 << (i % 8));
      Files.write(f.file(), flipped);
      int bit = i;
      assertThatThrownBy(() -> new WitnessStateFile(dir).load())
          .as("bit %d flipped was accepted", bit)
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining(f.file().toString());
    }
  }

  @Test
  void anotherFileOrFormatVersionIsNamedInTheMessage() throws IOException {
    WitnessStateFile f = new WitnessStateFile(dir);
    byte[] v2 =
        new String(WitnessStateFile.format(LEASES), StandardCharsets.UTF_8)
            .replace("kagami-witness-leases 1", "kagami-witness-leases 2")
            .getBytes(StandardCharsets.UTF_8);
    Files.write(f.file(), v2);
    assertThatThrownBy(f::load)
        .hasMessageContaining(f.file().toString())
        .hasMessageContaining("checksum"); // the header is covered by the checksum too
    Files.writeString(f.file(), "{\"leases\": []}\n");
    assertThatThrownBy(f::load).hasMessageContaining(f.file().toString());
  }

  @Test
  void anUnreadableFileIsRefusedNotTakenAsAFirstStart() throws IOException {
    WitnessStateFile f = new WitnessStateFile(dir);
    Files.createDirectory(f.file()); // a directory where the file should be: cannot be read
    assertThatThrownBy(f::load)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining(f.file().toString())
        .hasMessageContaining("cannot be read");
  }

  @Test
  void aWitnessRestartedFromTheFileRemembersHoldersAndTerms() {
    Duration lease = Duration.ofSeconds(10);
    Duration margin = Duration.ofSeconds(2);
    Instant[] now = {Instant.parse("2026-01-01T00:00:00Z")};
    InstantSource clock = () -> now[0];
    WitnessStateFile f = new WitnessStateFile(dir.resolve("w"));
    WitnessState first = new WitnessState(lease, margin, clock, f.load(), f);
    now[0] = now[0].plus(lease).plus(margin);
    assertThat(first.claim(new LeaseRequest("g", "tokyo", 4)).term()).isEqualTo(5);

    WitnessState restarted = new WitnessState(lease, margin, clock, f.load(), f);
    assertThat(restarted.renew(new LeaseRequest("g", "tokyo", 5)).granted()).isTrue();
    LeaseReply other = restarted.claim(new LeaseRequest("g", "hiroshima", 0));
    assertThat(other.granted()).isFalse();
    assertThat(other.reason()).contains("started recently");
    now[0] = now[0].plus(lease).plus(margin);
    LeaseReply later = restarted.claim(new LeaseRequest("g", "hiroshima", 0));
    assertThat(later.granted()).as(later.reason()).isTrue();
    assertThat(later.term()).isEqualTo(6);
    assertThat(f.load()).containsExactly(new WitnessState.Saved("g", "hiroshima", 6, false));
  }
}
