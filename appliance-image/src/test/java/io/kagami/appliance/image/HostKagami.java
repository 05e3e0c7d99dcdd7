package io.kagami.appliance.image;

import io.kagami.testkit.tools.ExternalTool;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The kagami command line run on the host as an operator would run it against appliances: a real
 * process ({@code java -cp ... io.kagami.site.cli.Main}) on this JVM's JDK and class path, talking
 * to the appliances only through their forwarded ports.
 */
final class HostKagami {
  private HostKagami() {}

  static ExternalTool.Result run(Duration timeout, String... args)
      throws IOException, InterruptedException {
    Path java =
        Path.of(
            ProcessHandle.current()
                .info()
                .command()
                .orElseThrow(
                    () -> new IllegalStateException("cannot tell this JVM's java executable")));
    List<String> cmd =
        new ArrayList<>(
            List.of("-cp", System.getProperty("java.class.path"), "io.kagami.site.cli.Main"));
    cmd.addAll(List.of(args));
    return ExternalTool.of(java).run(timeout, cmd);
  }
}
