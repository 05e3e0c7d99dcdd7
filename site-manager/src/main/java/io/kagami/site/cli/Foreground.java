package io.kagami.site.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * Keeps a command in the foreground until SIGINT/SIGTERM, then runs its stop actions in order and
 * lets the process exit cleanly.
 */
final class Foreground {
  private final List<AutoCloseable> actions = new ArrayList<>();
  private final CountDownLatch stopped = new CountDownLatch(1);

  Foreground() {
    Runtime.getRuntime()
        .addShutdownHook(
            Thread.ofPlatform()
                .name("kagami-shutdown")
                .unstarted(
                    () -> {
                      System.out.println("kagami: stopping");
                      stop();
                      System.out.println("kagami: stopped");
                      System.out.flush();
                    }));
  }

  synchronized void onStop(AutoCloseable action) {
    actions.add(action);
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
