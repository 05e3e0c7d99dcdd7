package io.kagami.site.recovery.run;

import io.kagami.site.recovery.HealthCheck;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * One server's health check as a future that completes when it first passes: a console marker is
 * watched by the {@link ConsoleTail} (no polling); a TCP or HTTP check is tried every {@link
 * #RETRY} on a virtual thread (each try bounded to 2 s) until it passes or the future is cancelled
 * (the orchestrator's health deadline cancels it).
 */
final class HealthWatch {
  static final Duration RETRY = Duration.ofMillis(250);
  private static final Duration TRY = Duration.ofSeconds(2);

  private HealthWatch() {}

  static CompletableFuture<Void> watch(
      HealthCheck check, Path console, ConsoleTail tail, ScheduledExecutorService timer) {
    return switch (check) {
      case HealthCheck.ConsoleMarker m -> tail.marker(console, m.marker()).thenApply(line -> null);
      case HealthCheck.None n -> CompletableFuture.completedFuture(null);
      case HealthCheck.Tcp t -> retry(() -> tcp(t), timer);
      case HealthCheck.Http h -> retry(() -> http(h), timer);
    };
  }

  private interface Try {
    boolean passes();
  }

  private static CompletableFuture<Void> retry(Try attempt, ScheduledExecutorService timer) {
    CompletableFuture<Void> passed = new CompletableFuture<>();
    Runnable[] once = new Runnable[1];
    once[0] =
        () ->
            Thread.ofVirtual()
                .name("kagami-recover-probe")
                .start(
                    () -> {
                      if (passed.isDone()) {
                        return;
                      }
                      if (attempt.passes()) {
                        passed.complete(null);
                      } else if (!passed.isDone() && !timer.isShutdown()) {
                        timer.schedule(once[0], RETRY.toMillis(), TimeUnit.MILLISECONDS);
                      }
                    });
    once[0].run();
    return passed;
  }

  private static boolean tcp(HealthCheck.Tcp t) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(t.host(), t.port()), (int) TRY.toMillis());
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static boolean http(HealthCheck.Http h) {
    try (HttpClient c = HttpClient.newBuilder().connectTimeout(TRY).build()) {
      HttpResponse<Void> r =
          c.send(
              HttpRequest.newBuilder(URI.create(h.url())).timeout(TRY).GET().build(),
              HttpResponse.BodyHandlers.discarding());
      return r.statusCode() / 100 == 2;
    } catch (IOException | IllegalArgumentException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }
}
