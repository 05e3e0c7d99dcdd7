package io.kagami.site.cli;

import java.util.logging.LogManager;

/**
 * The JDK's log manager, except that its own shutdown hook does not close the log handlers while
 * Kagami's shutdown still runs: the JDK resets logging in a shutdown hook of its own, concurrently
 * with {@link Foreground}'s, so without this the lines that say what a SIGTERM waited for (and what
 * it abandoned) were lost. {@link Foreground} holds the handlers open from its start and releases
 * them, resetting for real, once the site is closed.
 *
 * <p>Installed by {@link Main} through the {@code java.util.logging.manager} property before the
 * first logger exists; the JDK instantiates it by name, hence public. Where another manager is in
 * place (a test calling {@link Main#run} in its own JVM), holding and releasing do nothing.
 */
public final class ShutdownLogManager extends LogManager {
  private static volatile boolean holding;

  public ShutdownLogManager() {}

  /**
   * From now on a reset (the JDK's shutdown hook) leaves the handlers open until {@link #release}.
   */
  static void hold() {
    holding = true;
  }

  /**
   * Ends {@link #hold}, and resets if this is the manager in place (flushes and closes handlers).
   */
  static void release() {
    holding = false;
    if (LogManager.getLogManager() instanceof ShutdownLogManager m) {
      m.reset();
    }
  }

  @Override
  public void reset() {
    if (!holding) {
      super.reset();
    }
  }
}
