package io.kagami.site.it;

import io.kagami.clock.SystemTime;
import io.kagami.testkit.net.FreePorts;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A real etcd cluster for tests: {@code members} {@code etcd} processes (Debian's {@code
 * etcd-server}, installed by {@code scripts/test}) on loopback ports of their own, each with its
 * own data directory under {@code dir}, bootstrapped together with {@code --initial-cluster}. Never
 * a system service. Every wait is bounded; {@link #close()} kills what is still running.
 */
final class EtcdCluster implements AutoCloseable {
  private final Path dir;
  private final int[] clientPorts;
  private final int[] peerPorts;
  private final Process[] members;
  private final String token =
      "kagami-test-" + Long.toHexString(ThreadLocalRandom.current().nextLong());

  EtcdCluster(Path dir, int size) {
    this.dir = dir;
    int[] ports = FreePorts.loopbackPorts(2 * size);
    clientPorts = new int[size];
    peerPorts = new int[size];
    for (int i = 0; i < size; i++) {
      clientPorts[i] = ports[2 * i];
      peerPorts[i] = ports[2 * i + 1];
    }
    members = new Process[size];
  }

  int size() {
    return members.length;
  }

  int clientPort(int member) {
    return clientPorts[member];
  }

  /** Every member's client URL. */
  List<String> clientUrls() {
    List<String> out = new ArrayList<>();
    for (int p : clientPorts) {
      out.add("http://127.0.0.1:" + p);
    }
    return out;
  }

  /** Starts every member and waits until each reports itself healthy (a leader is elected). */
  EtcdCluster start(Duration timeout) throws IOException, InterruptedException {
    StringBuilder initial = new StringBuilder();
    for (int i = 0; i < members.length; i++) {
      initial
          .append(i == 0 ? "" : ",")
          .append(name(i))
          .append("=http://127.0.0.1:")
          .append(peerPorts[i]);
    }
    for (int i = 0; i < members.length; i++) {
      Files.createDirectories(dir.resolve(name(i)));
      members[i] =
          new ProcessBuilder(
                  etcdBinary(),
                  "--name",
                  name(i),
                  "--data-dir",
                  dir.resolve(name(i)).resolve("data").toString(),
                  "--listen-client-urls",
                  "http://127.0.0.1:" + clientPorts[i],
                  "--advertise-client-urls",
                  "http://127.0.0.1:" + clientPorts[i],
                  "--listen-peer-urls",
                  "http://127.0.0.1:" + peerPorts[i],
                  "--initial-advertise-peer-urls",
                  "http://127.0.0.1:" + peerPorts[i],
                  "--initial-cluster",
                  initial.toString(),
                  "--initial-cluster-token",
                  token,
                  "--initial-cluster-state",
                  "new")
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.appendTo(log(i).toFile()))
              .start();
    }
    for (int i = 0; i < members.length; i++) {
      awaitHealthy(i, timeout);
    }
    return this;
  }

  private static String etcdBinary() {
    for (String p : List.of("/usr/bin/etcd", "/usr/local/bin/etcd")) {
      if (Files.isExecutable(Path.of(p))) {
        return p;
      }
    }
    throw new AssertionError(
        "no etcd binary (Debian package etcd-server; scripts/test installs it: apt-get install etcd-server)");
  }

  private static String name(int i) {
    return "m" + i;
  }

  private Path log(int i) {
    return dir.resolve(name(i) + ".log");
  }

  /** Waits until member {@code i} answers {@code /health} with {@code "health":"true"}. */
  void awaitHealthy(int i, Duration timeout) throws IOException, InterruptedException {
    long deadline = SystemTime.NANO.nanoTime() + timeout.toNanos();
    String last = "no answer";
    try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build()) {
      while (SystemTime.NANO.nanoTime() < deadline) {
        if (!members[i].isAlive()) {
          throw new AssertionError(
              "etcd member " + name(i) + " exited with " + members[i].exitValue() + ": " + logs());
        }
        try {
          HttpResponse<String> r =
              http.send(
                  HttpRequest.newBuilder(
                          URI.create("http://127.0.0.1:" + clientPorts[i] + "/health"))
                      .timeout(Duration.ofSeconds(1))
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
          last = r.statusCode() + " " + r.body();
          if (r.statusCode() == 200 && r.body().replace(" ", "").contains("\"health\":\"true\"")) {
            return;
          }
        } catch (IOException notYet) {
          last = notYet.toString();
        }
        members[i].waitFor(100, TimeUnit.MILLISECONDS);
      }
    }
    throw new AssertionError(
        "etcd member " + name(i) + " not healthy within " + timeout + " (" + last + "): " + logs());
  }

  /** kill -9 of member {@code i}, waiting (bounded) until it is gone. */
  void kill(int i) {
    members[i].destroyForcibly();
    members[i].onExit().orTimeout(30, TimeUnit.SECONDS).join();
  }

  boolean alive(int i) {
    return members[i] != null && members[i].isAlive();
  }

  String logs() {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < members.length; i++) {
      try {
        String l = Files.exists(log(i)) ? Files.readString(log(i)) : "";
        b.append("\n--- etcd ")
            .append(name(i))
            .append(" ---\n")
            .append(l.length() > 4000 ? l.substring(l.length() - 4000) : l);
      } catch (IOException e) {
        b.append("\n--- etcd ").append(name(i)).append(": ").append(e);
      }
    }
    return b.toString();
  }

  @Override
  public void close() {
    for (Process p : members) {
      if (p != null && p.isAlive()) {
        p.destroyForcibly();
        p.onExit().orTimeout(30, TimeUnit.SECONDS).join();
      }
    }
  }
}
