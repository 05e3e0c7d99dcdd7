package io.kagami.site.cli;

import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code kagami help [VERB [SUBVERB]]}: the same help as {@code kagami VERB [SUBVERB] --help}, for
 * verbs of any depth ({@code kagami help drill start}); picocli's own help command goes one level.
 */
@Command(
    name = "help",
    helpCommand = true,
    description = "Show the help of a verb, e.g. kagami help status or kagami help drill start.")
final class HelpVerb implements Runnable {
  @Spec CommandSpec spec;

  @Parameters(
      paramLabel = "VERB",
      arity = "0..*",
      description = "The verb (and subverb) to show the help of; none: the list of verbs.")
  List<String> verb = new ArrayList<>();

  @Override
  public void run() {
    CommandLine target = spec.parent().commandLine();
    for (String v : verb) {
      CommandLine sub = target.getSubcommands().get(v);
      if (sub == null) {
        throw new ParameterException(
            spec.commandLine(),
            "no verb "
                + String.join(" ", verb)
                + ": "
                + target.getCommandSpec().qualifiedName()
                + " has "
                + String.join(", ", target.getSubcommands().keySet()));
      }
      target = sub;
    }
    target.usage(System.out);
  }
}
