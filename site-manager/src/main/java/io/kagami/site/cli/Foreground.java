package io.kagami.site.cli;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Keeps a command in the foreground until SIGINT/SIGTERM, then runs its stop actions in order and
 * lets the process exit cleanly.
 *
 * <p>Bounded: the site's close keeps within its own budget ({@code Site.SHUTDOWN_BUDGET}, 8 s).
 * Should a component still hang, a watchdog prints after {@link #REPORT_AFTER} where the shutdown
 * waits (the stopping thread's stack), and after {@link #GIVE_UP_AFTER} ends the process without
 * finishing: that is a crash as far as the data is concerned, and Kagami is crash-safe (every
 * acknowledged write is in the journal, which the next start replays onto the volume files). Log
 * handlers stay open until the actions ran ({@link ShutdownLogManager}), so the shutdown's own
 * lines are written.
 */
final class Foreground {
  static final Duration REPORT_AFTER = Duration.ofMillis(8_500);
  static final Duration GIVE_UP_AFTER = Duration.ofMillis(9_500);

  private final List<AutoCloseable> actions = new ArrayList<>();
  private final CountDownLatch stopped = new CountDownLatch(1);

  Foreground() {
    ShutdownLogManager.hold();
    Runtime.getRuntime()
        .addShutdownHook(
            Thread.ofPlatform()
                .name("kagami-shutdown")
                .unstarted(
                    () -> {
                      System.out.println("kagami: stopping");
                      System.out.flush();
                      watch(Thread.currentThread());
                      stop();
                      ShutdownLogManager.release();
                      System.out.println("kagami: stopped");
                      System.out.flush();
                    }));
  }

  synchronized void onStop(AutoCloseable action) {
    actions.add(action);
  }

  /** A daemon thread that reports, then ends, a shutdown that overruns its bound. */
  private void watch(Thread stopping) {
    Thread.ofPlatform()
        .name("kagami-shutdown-watchdog")
        .daemon(true)
        .start(
            () -> {
              try {
                if (stopped.await(REPORT_AFTER.toNanos(), TimeUnit.NANOSECONDS)) {
                  return;
                }
                StringBuilder where = new StringBuilder();
                for (StackTraceElement e : stopping.getStackTrace()) {
                  where.append("\n\tat ").append(e);
                }
                System.out.println(
                    "kagami: still stopping after "
                        + REPORT_AFTER.toMillis()
                        + " ms; the shutdown waits in:"
                        + where);
                System.out.flush();
                if (stopped.await(
                    GIVE_UP_AFTER.minus(REPORT_AFTER).toNanos(), TimeUnit.NANOSECONDS)) {
                  return;
                }
                System.out.println(
                    "kagami: shutdown overran "
                        + GIVE_UP_AFTER.toMillis()
                        + " ms; exiting without finishing it (as after a crash: every acknowledged"
                        + " write is in the journal, replayed at the next start)");
                System.out.flush();
                Runtime.getRuntime().halt(1);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            });
  }

  private synchronized void stop() {
    for (AutoCloseable a : actions) {
      try {
        a.close();
      } catch (Exception e) {
        System.err.println("kagami: error while stopping: " + e.getMessage());
      }
    }
    actions.clear();
    stopped.countDown();
  }

  void awaitStop() throws InterruptedException {
    stopped.await();
  }
}
