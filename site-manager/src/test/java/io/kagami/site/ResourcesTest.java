package io.kagami.site;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * The site's resources close newest first, every failure collected, each close timed on the
 * injected clock; a bounded resource gets the shutdown's deadline; the report names what the
 * shutdown waited for, longest first.
 */
class ResourcesTest {
  private final AtomicLong now = new AtomicLong();
  private final Resources resources = new Resources(now::get);

  @Test
  void closesNewestFirstCollectsFailuresAndNamesWhatItWaitedFor() {
    List<String> order = new ArrayList<>();
    List<Deadline> handed = new ArrayList<>();
    resources.push("journal", () -> order.add("journal"));
    resources.pushBounded(
        "volume vol0 file writes",
        deadline -> {
          handed.add(deadline);
          order.add("drain");
          now.addAndGet(Duration.ofMillis(1_200).toNanos());
        });
    resources.push(
        "WAN link",
        () -> {
          order.add("link");
          now.addAndGet(Duration.ofMillis(300).toNanos());
          throw new IOException("link refused to close");
        });
    resources.push("admin server", () -> order.add("admin"));

    Deadline deadline = Deadline.after(now::get, Duration.ofSeconds(8));
    Resources.Closed closed = resources.closeAll(deadline);

    assertThat(order).containsExactly("admin", "link", "drain", "journal");
    assertThat(handed).containsExactly(deadline);
    assertThat(closed.failures())
        .singleElement()
        .satisfies(e -> assertThat(e).hasMessage("link refused to close"));
    assertThat(closed.waitedFor(Duration.ofMillis(20)))
        .isEqualTo("volume vol0 file writes 1200 ms, WAN link 300 ms");
    assertThat(resources.closeAll(deadline).waited()).as("closed once").isEmpty();
  }

  @Test
  void nothingWorthNamingSaysSo() {
    resources.push("admin server", () -> {});
    assertThat(
            resources
                .closeAll(Deadline.after(now::get, Duration.ofSeconds(8)))
                .waitedFor(Duration.ofMillis(20)))
        .isEqualTo("nothing");
  }
}
