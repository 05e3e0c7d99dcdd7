package io.kagami.site.failover;

import io.kagami.failover.monitor.MonitorConfig;
import io.kagami.failover.monitor.ProbeResult;
import io.kagami.site.monitor.Probe;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * Probes the application monitors of a primary: {@link #probeAll()}, called every {@code
 * monitorInterval} on the {@code kagami-failover} thread, starts one probe per monitor on a virtual
 * thread and returns at once; each probe blocks its own virtual thread for at most the monitor's
 * timeout and hands its result to {@code results}. A monitor whose previous probe is still running
 * is skipped. Nothing is probed while {@code active} is false (this site is not the primary). Holds
 * its virtual-thread executor from {@link #start()} to {@link #close()}, which interrupts probes in
 * flight.
 */
final class MonitorProber implements AutoCloseable {
  private final List<MonitorConfig> monitors;
  private final BooleanSupplier active;
  private final Consumer<ProbeResult> results;
  private final Map<String, CompletableFuture<?>> inFlight = new ConcurrentHashMap<>();
  private volatile ExecutorService probes;

  MonitorProber(
      List<MonitorConfig> monitors, BooleanSupplier active, Consumer<ProbeResult> results) {
    this.monitors = List.copyOf(monitors);
    this.active = active;
    this.results = results;
  }

  void start() {
    if (!monitors.isEmpty()) {
      probes = Executors.newVirtualThreadPerTaskExecutor();
    }
  }

  /** Starts a probe of every monitor that has none running, while this site is the primary. */
  void probeAll() {
    ExecutorService exec = probes;
    if (exec == null || !active.getAsBoolean()) {
      return;
    }
    for (MonitorConfig m : monitors) {
      CompletableFuture<?> previous = inFlight.get(m.name());
      if (previous != null && !previous.isDone()) {
        continue;
      }
      Probe probe = Probe.of(m);
      inFlight.put(
          m.name(),
          CompletableFuture.supplyAsync(
                  () -> {
                    try {
                      return probe.probe();
                    } catch (InterruptedException e) {
                      Thread.currentThread().interrupt();
                      throw new CompletionException(e); // closing: no result
                    }
                  },
                  exec)
              .thenAccept(results));
    }
  }

  @Override
  public void close() {
    ExecutorService exec = probes;
    if (exec != null) {
      exec.shutdownNow();
    }
  }
}
