package io.kagami.appliance.deb;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

class ManPageTest {
  @Command(name = "tool", description = "Does things.", subcommands = {Leaf.class, Group.class})
  static final class Root {}

  @Command(name = "leaf", description = ".starts with a dot, has a \\backslash and -dashes")
  static final class Leaf {
    @Option(names = "--name", required = true, description = "what to work on")
    String name;

    @Option(names = "--size", description = "the size (default ${DEFAULT-VALUE})", defaultValue = "1GiB")
    String size;

    @Option(names = "--force", description = "do it anyway")
    boolean force;
  }

  @Command(name = "group", description = "A group.", subcommands = {Inner.class})
  static final class Group {}

  @Command(name = "inner", description = "Nested.")
  static final class Inner {}

  private static String render() {
    return new ManPage(new CommandLine(new Root()), "1", "Tool 1.0", ".SH FILES\n/etc/tool\n").render();
  }

  @Test
  void headerNameAndSectionsComeFromTheCommandModel() {
    String page = render();
    assertThat(page).contains(".TH \"TOOL\" 1 \"\" \"Tool 1.0\" \"User Commands\"").contains(".SH NAME\ntool \\- Does things.");
    assertThat(page.indexOf(".SH SYNOPSIS")).isLessThan(page.indexOf(".SH DESCRIPTION"));
    assertThat(page).as("no OPTIONS heading for a root without options").doesNotContain(".SH OPTIONS");
    assertThat(page).endsWith(".SH FILES\n/etc/tool\n");
  }

  @Test
  void everySubcommandDepthFirstWithItsOptionsAndRenderedDefaults() {
    String page = render();
    assertThat(page).contains(".SS \"tool leaf\"").contains(".SS \"tool group\"").contains(".SS \"tool group inner\"");
    assertThat(page.indexOf(".SS \"tool group\"")).isLessThan(page.indexOf(".SS \"tool group inner\""));
    assertThat(page).contains(".B \\-\\-size \\fI<size>\\fR\nthe size (default 1GiB)").contains(".B \\-\\-force\ndo it anyway");
    assertThat(page).as("required options bare, optional ones in brackets").contains("\\-\\-name <name> [\\-\\-size <size>] [\\-\\-force]");
    assertThat(page).as("a command without options has no empty synopsis line").contains(".B tool group inner\n.br\n");
  }

  @Test
  void textThatRoffWouldReadAsARequestOrEscapeIsEscaped() {
    String page = render();
    assertThat(page).contains("\\&.starts with a dot, has a \\ebackslash and \\-dashes");
    assertThat(page).doesNotContain("\n.starts");
  }
}
