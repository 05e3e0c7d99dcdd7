package io.kagami.site.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * A verb that talks to one running site through its admin port: the site named the one way all
 * verbs name it ({@link AdminAddress}), and {@code --json} to print the answer as JSON for scripts.
 * Failures are thrown as {@link CliError}s and printed by {@link Main}, as JSON too with {@code
 * --json}.
 */
abstract class SiteVerb implements Callable<Integer> {
  @Mixin AdminAddress address;

  @Option(
      names = "--json",
      description =
          "Print the answer as JSON, for scripts; errors too, as {\"error\": {...}} with the exit code.")
  boolean json;

  @Override
  public Integer call() throws Exception {
    return run(AdminClient.of(address));
  }

  abstract int run(AdminClient site) throws Exception;

  /** Prints {@code answer} as JSON when {@code --json}, else runs {@code text}. */
  final int print(JsonNode answer, Runnable text) {
    if (json) {
      printJson(answer);
    } else {
      text.run();
    }
    return ExitCode.OK;
  }

  static void printJson(Object value) {
    try {
      System.out.println(Json.MAPPER.writeValueAsString(value));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot print the answer as JSON", e);
    }
  }
}
