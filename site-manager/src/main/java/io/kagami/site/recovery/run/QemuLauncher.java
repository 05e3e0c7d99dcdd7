package io.kagami.site.recovery.run;

import io.kagami.site.recovery.DrHost;
import io.kagami.site.recovery.QemuCommand;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.List;

/**
 * Starts a server as a {@code qemu-system-x86_64} child process ({@link QemuCommand}: KVM when
 * {@code /dev/kvm} is usable, TCG otherwise); its serial console goes to the launch's console file,
 * QEMU's own messages beside it ({@code .qemu.log}).
 */
public final class QemuLauncher implements VmLauncher {
  private static final System.Logger LOG = System.getLogger(QemuLauncher.class.getName());
  private final DrHost host;

  public QemuLauncher(DrHost host) {
    this.host = host;
  }

  @Override
  public RunningVm launch(Spec spec) throws IOException {
    List<String> argv = QemuCommand.argv(spec.server(), spec.profiles(), host, spec.launch());
    Path log =
        spec.launch().console().resolveSibling(spec.launch().console().getFileName() + ".qemu.log");
    Process p =
        new ProcessBuilder(argv)
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(nullDevice()))
            .start();
    LOG.log(
        Level.INFO,
        "server {0}: QEMU started, pid {1} ({2}): {3}",
        spec.server().name(),
        Long.toString(p.pid()),
        host.kvm() ? "KVM" : "TCG, no usable /dev/kvm",
        String.join(" ", argv));
    return new ProcessVm(p);
  }

  private static java.io.File nullDevice() {
    return new java.io.File("/dev/null");
  }
}
