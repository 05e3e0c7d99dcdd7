package io.kagami.appliance.image;

import io.kagami.clock.SystemTime;
import io.kagami.testkit.tools.ExternalTool;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

/**
 * The scripts in {@code appliance-image/image/} as the tests call them: the appliance image built
 * from the kagami package (cached by content, so only the first run pays), seed volumes, upgrade
 * media, and a newer version of a package.
 */
final class ImageScripts {
  /** The image scripts' directory (tests run in the module's directory). */
  static final Path DIR = Path.of("image").toAbsolutePath();

  /**
   * A built image and what building it cost in this run (near zero when it came from the cache).
   */
  record BuiltImage(Path image, Duration buildTime, boolean fromCache) {}

  private ImageScripts() {}

  /**
   * The kagami package to put in the image: {@code -Dkagami.appliance.deb=FILE}, else the newest
   * {@code target/kagami_*_amd64.deb} the module's build produced.
   */
  static Path kagamiDeb() throws IOException {
    String given = System.getProperty("kagami.appliance.deb");
    if (given != null && !given.isBlank()) {
      Path p = Path.of(given);
      if (!Files.isRegularFile(p)) {
        throw new IllegalStateException("-Dkagami.appliance.deb=" + given + ": no such file");
      }
      return p.toAbsolutePath();
    }
    try (Stream<Path> s = Files.list(Path.of("target"))) {
      return s.filter(p -> p.getFileName().toString().matches("kagami_.*_amd64\\.deb"))
          .max((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString()))
          .map(Path::toAbsolutePath)
          .orElseThrow(
              () ->
                  new IllegalStateException(
                      "no target/kagami_*_amd64.deb: the package is built in this module's package phase (mvn verify builds it first)"));
    }
  }

  /** Builds (or takes from the cache) the appliance image for {@code deb}. */
  static BuiltImage buildAppliance(Path deb) throws IOException, InterruptedException {
    long start = SystemTime.NANO.nanoTime();
    ExternalTool.Result r =
        script("build-appliance").run(Duration.ofMinutes(15), "--deb", deb.toString());
    if (!r.succeeded()) {
      throw new AssertionError("build-appliance failed: " + r.describe());
    }
    Duration took = Duration.ofNanos(SystemTime.NANO.nanosSince(start));
    Path image = Path.of(r.stdout().strip().lines().reduce((a, b) -> b).orElseThrow());
    return new BuiltImage(image, took, r.stderr().contains("appliance image cached"));
  }

  /** Packs {@code dir} into a CIDATA seed volume at {@code out}. */
  static Path makeSeed(Path dir, Path out) throws IOException, InterruptedException {
    script("make-seed")
        .runOk(Duration.ofMinutes(1), "--dir", dir.toString(), "--out", out.toString());
    return out;
  }

  /** Writes an upgrade medium (KAGAMI-UPD) holding {@code deb}. */
  static Path makeUpgradeMedium(Path deb, Path out) throws IOException, InterruptedException {
    script("make-upgrade-medium")
        .runOk(Duration.ofMinutes(2), "--deb", deb.toString(), "--out", out.toString());
    return out;
  }

  /**
   * The same package under a higher version ({@code VERSION+upgrade1}), as a release after it would
   * be: unpacked with {@code dpkg-deb -R}, its control file's version raised, packed again.
   */
  static Path newerVersion(Path deb, Path workDir) throws IOException, InterruptedException {
    ExternalTool dpkgDeb = ExternalTool.require("dpkg-deb");
    Path tree = workDir.resolve("newer-deb");
    dpkgDeb.runOk(Duration.ofMinutes(2), "-R", deb.toString(), tree.toString());
    Path control = tree.resolve("DEBIAN/control");
    List<String> lines = Files.readAllLines(control);
    String version =
        lines.stream()
            .filter(l -> l.startsWith("Version: "))
            .findFirst()
            .orElseThrow()
            .substring("Version: ".length())
            .strip();
    String newer = version + "+upgrade1";
    Files.write(
        control,
        lines.stream().map(l -> l.startsWith("Version: ") ? "Version: " + newer : l).toList());
    Path out = workDir.resolve("kagami_" + newer + "_amd64.deb");
    dpkgDeb.runOk(
        Duration.ofMinutes(3),
        "--root-owner-group",
        "-Zgzip",
        "-z1",
        "-b",
        tree.toString(),
        out.toString());
    return out;
  }

  private static ExternalTool script(String name) {
    return ExternalTool.of(DIR.resolve(name));
  }
}
