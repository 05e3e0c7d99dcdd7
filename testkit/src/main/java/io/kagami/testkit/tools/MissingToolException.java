package io.kagami.testkit.tools;

/**
 * A program a test needs is not installed. Deliberately a failure, not a skip: a test that quietly
 * skips on a machine without {@code fio} proves nothing, so the message says what to install.
 */
public final class MissingToolException extends IllegalStateException {
  private final String tool;
  private final String debianPackage;

  public MissingToolException(String tool, String debianPackage) {
    super(tool + " not found on PATH: install " + debianPackage + " (scripts/test installs it)");
    this.tool = tool;
    this.debianPackage = debianPackage;
  }

  public String tool() {
    return tool;
  }

  public String debianPackage() {
    return debianPackage;
  }
}
