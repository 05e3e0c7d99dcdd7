package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import io.kagami.testkit.tools.ExternalTool;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every command block of README.md and docs/runbooks/*.md marked runnable (a fenced block whose
 * info string is {@code sh runnable}) runs, as the README's "Runnable docs" defines: the blocks of
 * one file in order, each in {@code bash -euo pipefail} from the repository root, against a fresh
 * {@code ./kagami demo} with its default addresses, with the runbooks' address variables set. The
 * demo and the blocks run in a network namespace of their own ({@code unshare --net}, loopback
 * only), so the demo's default ports never meet another test's. Each block must exit 0 within
 * {@link #BLOCK_TIMEOUT}; a failure names the file, the line and the block's output.
 */
class DocsIT {
  static final Duration BLOCK_TIMEOUT = Duration.ofMinutes(2);
  private static final Path ROOT = Path.of("").toAbsolutePath().getParent();
  private static final Pattern BLOCK =
      Pattern.compile("^```sh runnable\\n(.*?)^```$", Pattern.MULTILINE | Pattern.DOTALL);
  private static final Pattern RESULT =
      Pattern.compile("^=== block (\\d+) exit (\\d+)$", Pattern.MULTILINE);
  @TempDir Path tmp;

  record Block(Path file, int line, String code) {
    String where() {
      return ROOT.relativize(file) + ":" + line;
    }
  }

  /** The runnable blocks of each document, in document order. */
  static Map<Path, List<Block>> runnableBlocks() throws IOException {
    List<Path> docs = new ArrayList<>(List.of(ROOT.resolve("README.md")));
    try (Stream<Path> runbooks = Files.list(ROOT.resolve("docs/runbooks"))) {
      runbooks.filter(p -> p.toString().endsWith(".md")).sorted().forEach(docs::add);
    }
    Map<Path, List<Block>> blocks = new TreeMap<>();
    for (Path doc : docs) {
      String text = Files.readString(doc);
      Matcher m = BLOCK.matcher(text);
      while (m.find()) {
        int line = (int) text.substring(0, m.start()).chars().filter(c -> c == '\n').count() + 1;
        blocks.computeIfAbsent(doc, d -> new ArrayList<>()).add(new Block(doc, line, m.group(1)));
      }
    }
    return blocks;
  }

  @Test
  void everyRunnableBlockOfTheReadmeAndTheRunbooksRuns() throws Exception {
    Map<Path, List<Block>> blocks = runnableBlocks();
    assertThat(blocks.keySet())
        .as("documents with runnable blocks")
        .contains(
            ROOT.resolve("README.md"),
            ROOT.resolve("docs/runbooks/drill.md"),
            ROOT.resolve("docs/runbooks/p2v-recovery.md"),
            ROOT.resolve("docs/runbooks/switchover.md"));
    // The p2v runbook runs every step: plan, drill, stop, real recovery and the way back.
    String p2v =
        String.join(
            "\n",
            blocks.get(ROOT.resolve("docs/runbooks/p2v-recovery.md")).stream()
                .map(Block::code)
                .toList());
    assertThat(p2v)
        .as("runnable blocks of the p2v runbook")
        .contains("recover plan", "recover --all --drill", "recover stop", "recover --all --admin")
        .contains("failback --admin", "switchover --admin");
    assumeThat(
            ExternalTool.require("unshare").run(Duration.ofSeconds(30), "--net", "true").exitCode())
        .as("unshare --net (a private network namespace needs root or user namespaces)")
        .isZero();
    ExternalTool.require("qemu-io");
    ExternalTool.require("qemu-system-x86_64"); // the p2v runbook boots its server
    ExternalTool.require("nbdcopy");
    for (Map.Entry<Path, List<Block>> doc : blocks.entrySet()) {
      run(doc.getValue(), tmp.resolve(doc.getKey().getFileName().toString().replace(".md", "")));
      System.out.printf(
          "DocsIT: %s: %d runnable blocks ran, each exit 0%n",
          ROOT.relativize(doc.getKey()), doc.getValue().size());
    }
  }

  /** Runs {@code blocks} in order against a fresh demo in its own network namespace. */
  private static void run(List<Block> blocks, Path dir) throws IOException, InterruptedException {
    Files.createDirectories(dir);
    StringBuilder script = new StringBuilder();
    script.append(
        """
        set -u
        ip link set lo up
        cd "$ROOT"
        export KAGAMI_SKIP_BUILD=1 KAGAMI_RUNTIME_DIR="$DIR/runtime"
        export PRIMARY_ADMIN=127.0.0.1:9480 STANDBY_ADMIN=127.0.0.1:9481 PRIMARY_NBD=127.0.0.1:10809 STANDBY_NBD=127.0.0.1:10810
        # The p2v runbook's DR site: the demo's standby, its data directory beside its YAML.
        export DR_ADMIN=127.0.0.1:9481 DR_DATA="$DIR/demo/hiroshima"
        # The p2v runbook's recovery boots a VM: with TCG, as every guest test here. These machines'
        # /dev/kvm opens but aborts guests (QEMU exit 134), and the auto-detection only opens it.
        export KAGAMI_QEMU_ACCEL=tcg
        mkdir -m 700 "$KAGAMI_RUNTIME_DIR"
        # A smaller heap than the daemon's default 2 GiB: the demo holds a 64 MiB volume here.
        KAGAMI_JAVA_OPTS="-Xms256m -Xmx512m -XX:-AlwaysPreTouch" ./kagami demo --volume-size 64MiB --data-dir "$DIR/demo" > "$DIR/demo.log" 2>&1 &
        demo=$!
        if ! timeout 180 grep -q -m 1 'kagami demo: ready' <(tail -n +1 -F --pid=$demo "$DIR/demo.log" 2>/dev/null); then
          echo "=== demo not ready"; cat "$DIR/demo.log"; kill -9 $demo; exit 1
        fi
        """);
    for (int i = 0; i < blocks.size(); i++) {
      Path file = dir.resolve("block-" + i + ".sh");
      Files.writeString(file, blocks.get(i).code());
      script.append("echo '=== block ").append(i).append(" start'\n");
      script
          .append("timeout ")
          .append(BLOCK_TIMEOUT.toSeconds())
          .append(" bash -euo pipefail '")
          .append(file)
          .append("' 2>&1\n");
      script.append("echo \"=== block ").append(i).append(" exit $?\"\n");
    }
    script.append(
        """
        kill -TERM $demo
        timeout 60 tail --pid=$demo -f /dev/null || kill -9 $demo
        """);
    Path runner = Files.writeString(dir.resolve("run.sh"), script.toString());
    ExternalTool.Result r =
        ExternalTool.require("unshare")
            .withEnv("ROOT", ROOT.toString())
            .withEnv("DIR", dir.toString())
            .run(
                BLOCK_TIMEOUT.multipliedBy(blocks.size()).plusMinutes(5),
                "--net",
                "bash",
                runner.toString());
    String out = r.stdout();
    Map<Integer, Integer> exits = new TreeMap<>();
    Matcher m = RESULT.matcher(out);
    while (m.find()) {
      exits.put(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)));
    }
    for (int i = 0; i < blocks.size(); i++) {
      Block b = blocks.get(i);
      assertThat(exits.get(i))
          .as(
              "runnable block at %s:%n%s%nexit code (null: never ran); its output:%n%s%ndemo log:%n%s",
              b.where(), b.code(), section(out, i), readOrEmpty(dir.resolve("demo.log")))
          .isEqualTo(0);
    }
  }

  private static String section(String out, int block) {
    int start = out.indexOf("=== block " + block + " start");
    int end = out.indexOf("=== block " + block + " exit");
    return start < 0 ? out : out.substring(start, end < 0 ? out.length() : end);
  }

  private static String readOrEmpty(Path p) throws IOException {
    return Files.exists(p) ? Files.readString(p) : "";
  }
}
