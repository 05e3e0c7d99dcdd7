package io.kagami.appliance.deb;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * Renders a picocli command tree as a man(7) page in roff, so {@code man kagami} says exactly what
 * the CLI accepts: every subcommand (depth first, as {@code kagami link set}), its synopsis, its
 * description, its options and positional parameters with their rendered defaults.
 *
 * <p>Hand-written sections (files, environment, the service units) come from the caller as roff
 * text; this class only escapes and lays out what the command model holds. The output depends on
 * nothing but its inputs (no dates), so the page changes only when the CLI does.
 */
public final class ManPage {
  private final CommandLine root;
  private final String section;
  private final String sourceLine;
  private final String extraSections;

  /**
   * @param root the command tree
   * @param section the manual section, e.g. {@code 1}
   * @param sourceLine the footer's source, e.g. {@code Kagami 0.1.0}
   * @param extraSections roff appended after the commands (FILES, ENVIRONMENT, ...), used verbatim
   */
  public ManPage(CommandLine root, String section, String sourceLine, String extraSections) {
    this.root = root;
    this.section = section;
    this.sourceLine = sourceLine;
    this.extraSections = extraSections;
  }

  /** The whole page. */
  public String render() {
    CommandSpec spec = root.getCommandSpec();
    String name = spec.name();
    StringBuilder out = new StringBuilder();
    out.append(".\\\" Generated from the picocli command model of ").append(name).append("; do not edit.\n");
    out.append(".TH ").append(quote(name.toUpperCase(Locale.ROOT))).append(' ').append(section)
        .append(" \"\" ").append(quote(sourceLine)).append(" \"User Commands\"\n");
    out.append(".SH NAME\n").append(escape(name)).append(" \\- ").append(escape(firstLine(spec))).append('\n');
    out.append(".SH SYNOPSIS\n");
    for (CommandSpec leaf : leaves(spec)) {
      out.append(".B ").append(escape(qualifiedName(leaf))).append('\n');
      String arguments = synopsisArguments(leaf);
      if (!arguments.isEmpty()) {
        out.append(escape(arguments)).append('\n');
      }
      out.append(".br\n");
    }
    out.append(".SH DESCRIPTION\n");
    for (String line : spec.usageMessage().description()) {
      out.append(escape(line)).append('\n');
    }
    if (spec.options().stream().anyMatch(o -> !o.hidden()) || spec.positionalParameters().stream().anyMatch(p -> !p.hidden())) {
      out.append(".SH OPTIONS\n");
      appendArguments(out, spec);
    }
    out.append(".SH COMMANDS\n");
    for (CommandSpec sub : descendants(spec)) {
      out.append(".SS ").append(quote(qualifiedName(sub))).append('\n');
      out.append(".B ").append(escape(qualifiedName(sub))).append(' ').append(escape(synopsisArguments(sub))).append("\n.PP\n");
      for (String line : sub.usageMessage().description()) {
        out.append(escape(line)).append('\n');
      }
      appendArguments(out, sub);
    }
    out.append(extraSections);
    return out.toString();
  }

  private static void appendArguments(StringBuilder out, CommandSpec spec) {
    for (PositionalParamSpec p : spec.positionalParameters()) {
      if (p.hidden()) {
        continue;
      }
      out.append(".TP\n.I ").append(escape(p.paramLabel())).append('\n').append(escape(String.join(" ", p.description()))).append('\n');
    }
    for (OptionSpec o : spec.options()) {
      if (o.hidden()) {
        continue;
      }
      out.append(".TP\n.B ").append(escape(String.join(", ", o.names())));
      if (o.arity().max() > 0) {
        out.append(' ').append("\\fI").append(escape(o.paramLabel())).append("\\fR");
      }
      out.append('\n').append(escape(String.join(" ", o.description()))).append('\n');
    }
  }

  /** The command and every subcommand below it, depth first, in declaration order. */
  private static List<CommandSpec> descendants(CommandSpec spec) {
    List<CommandSpec> all = new ArrayList<>();
    for (CommandLine sub : spec.subcommands().values()) {
      CommandSpec s = sub.getCommandSpec();
      if (s.usageMessage().hidden() || all.contains(s)) {
        continue; // aliases map to the same spec
      }
      all.add(s);
      all.addAll(descendants(s));
    }
    return all;
  }

  /** Commands that run something (those without subcommands, and the root itself). */
  private static List<CommandSpec> leaves(CommandSpec spec) {
    List<CommandSpec> leaves = new ArrayList<>();
    leaves.add(spec);
    for (CommandSpec s : descendants(spec)) {
      if (s.subcommands().isEmpty()) {
        leaves.add(s);
      }
    }
    return leaves;
  }

  private static String qualifiedName(CommandSpec spec) {
    return spec.qualifiedName(" ");
  }

  private static String synopsisArguments(CommandSpec spec) {
    StringBuilder s = new StringBuilder();
    for (OptionSpec o : spec.options()) {
      if (o.hidden()) {
        continue;
      }
      String name = o.longestName();
      String arg = o.arity().max() > 0 ? name + " " + o.paramLabel() : name;
      s.append(o.required() ? arg : "[" + arg + "]").append(' ');
    }
    for (PositionalParamSpec p : spec.positionalParameters()) {
      if (!p.hidden()) {
        s.append(p.paramLabel()).append(' ');
      }
    }
    if (!spec.subcommands().isEmpty()) {
      s.append("COMMAND");
    }
    return s.toString().strip();
  }

  private static String firstLine(CommandSpec spec) {
    String[] description = spec.usageMessage().description();
    return description.length == 0 ? spec.name() : description[0];
  }

  /** Escapes text for roff: backslashes, and a leading dot or quote that would start a request. */
  static String escape(String text) {
    String s = text.replace("\\", "\\e").replace("-", "\\-");
    if (s.startsWith(".") || s.startsWith("'")) {
      s = "\\&" + s;
    }
    return s.replace("\n.", "\n\\&.").replace("\n'", "\n\\&'");
  }

  private static String quote(String text) {
    return '"' + escape(text).replace("\"", "\\(dq") + '"';
  }
}
