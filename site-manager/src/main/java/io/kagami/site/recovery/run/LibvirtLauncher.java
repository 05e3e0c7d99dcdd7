package io.kagami.site.recovery.run;

import io.kagami.site.recovery.DomainXml;
import io.kagami.site.recovery.DrHost;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Starts a server as a libvirt domain ({@code --libvirt}): writes its {@link DomainXml} beside the
 * console, {@code virsh define}, {@code virsh start}; stopping is {@code virsh destroy} and {@code
 * virsh undefine}. The domain's serial console is the launch's console file (libvirt writes it).
 */
public final class LibvirtLauncher implements VmLauncher {
  private static final System.Logger LOG = System.getLogger(LibvirtLauncher.class.getName());
  private final DrHost host;

  public LibvirtLauncher(DrHost host) {
    this.host = host;
  }

  @Override
  public RunningVm launch(Spec spec) throws IOException {
    String xml = DomainXml.render(spec.server(), spec.profiles(), host, spec.launch());
    Path file = spec.launch().console().resolveSibling(spec.server().name() + ".xml");
    Files.writeString(file, xml, StandardCharsets.UTF_8);
    String name = domainName(xml);
    virsh("define", file.toString());
    try {
      virsh("start", name);
    } catch (IOException e) {
      undefine(name);
      throw e;
    }
    LOG.log(Level.INFO, "server {0}: libvirt domain {1} started", spec.server().name(), name);
    return new Domain(name);
  }

  private static String domainName(String xml) {
    int from = xml.indexOf("<name>") + 6;
    return xml.substring(from, xml.indexOf("</name>", from));
  }

  /** Runs {@code virsh args}, bounded to a minute; fails with its output. */
  static void virsh(String... args) throws IOException {
    List<String> argv = new java.util.ArrayList<>(List.of("virsh"));
    argv.addAll(List.of(args));
    Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    try {
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException(String.join(" ", argv) + ": no answer within 60 s");
      }
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
      if (p.exitValue() != 0) {
        throw new IOException(String.join(" ", argv) + " failed: " + out);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted: " + String.join(" ", argv), e);
    }
  }

  /** Destroys and undefines {@code domain}, logging (not throwing) what fails. */
  static void undefine(String domain) {
    for (String verb : new String[] {"destroy", "undefine"}) {
      try {
        virsh(verb, domain);
      } catch (IOException e) {
        LOG.log(Level.WARNING, "libvirt domain {0}: {1}", domain, e.getMessage());
      }
    }
  }

  private record Domain(String domain) implements RunningVm {
    @Override
    public long pid() {
      return -1;
    }

    @Override
    public Instant processStart() {
      return null;
    }

    @Override
    public CompletableFuture<Integer> exited() {
      return new CompletableFuture<>();
    }

    @Override
    public void stop(Duration grace) {
      undefine(domain);
    }
  }
}
