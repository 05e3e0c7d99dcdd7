package io.kagami.site.recovery;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * What the DR host offers recovered servers, as the planner sees it: its CPUs and memory, whether
 * KVM is usable, and where QEMU and the OVMF firmware are (null: not installed). {@link #probe()}
 * reads the machine; tests build one by hand, which is the seam that lets them put a server on a
 * host of any size.
 *
 * @param cpus the CPUs this process may use (the OS's count, after affinity and cgroup limits)
 * @param memoryBytes {@code MemTotal} of {@code /proc/meminfo}
 * @param kvm true when {@code /dev/kvm} is there to use; without it QEMU emulates (TCG), slowly
 * @param ovmfCode OVMF's code image; {@code ovmfVars} the template of a server's variable store
 */
public record DrHost(
    int cpus, long memoryBytes, boolean kvm, Path qemu, Path ovmfCode, Path ovmfVars) {

  /** The QEMU binary recovery starts, found on {@code PATH}. */
  public static final String QEMU = "qemu-system-x86_64";

  /**
   * Where distributions install OVMF, as (code, variables template) pairs, tried in order: Debian
   * 12 and Ubuntu (package {@code ovmf}, 4 MiB images), older Debian, Fedora, Arch.
   */
  static final List<List<String>> OVMF =
      List.of(
          List.of("/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"),
          List.of("/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd"),
          List.of("/usr/share/edk2/ovmf/OVMF_CODE.fd", "/usr/share/edk2/ovmf/OVMF_VARS.fd"),
          List.of("/usr/share/edk2/x64/OVMF_CODE.fd", "/usr/share/edk2/x64/OVMF_VARS.fd"));

  /**
   * This machine, read now: CPUs, {@code /proc/meminfo}, {@code /dev/kvm}, QEMU, OVMF. {@code
   * /dev/kvm} is not used when the environment variable {@code KAGAMI_QEMU_ACCEL} (or the system
   * property {@code kagami.qemu.accel}) is {@code tcg}: for hosts whose {@code /dev/kvm} opens but
   * cannot run guests (nested virtualization without the CPU features: QEMU stops with "KVM
   * internal error ... emulation failure").
   */
  public static DrHost probe() {
    long memory;
    try {
      memory = memTotal(Files.readString(Path.of("/proc/meminfo")));
    } catch (IOException | IllegalArgumentException e) {
      memory = Runtime.getRuntime().maxMemory(); // not Linux: a lower bound, never more
    }
    Path kvm = Path.of("/dev/kvm");
    Path code = null;
    Path vars = null;
    for (List<String> pair : OVMF) {
      if (Files.isRegularFile(Path.of(pair.get(0))) && Files.isRegularFile(Path.of(pair.get(1)))) {
        code = Path.of(pair.get(0));
        vars = Path.of(pair.get(1));
        break;
      }
    }
    return new DrHost(
        Runtime.getRuntime().availableProcessors(),
        memory,
        Files.isReadable(kvm) && Files.isWritable(kvm) && !"tcg".equals(accelOverride()),
        onPath(QEMU, System.getenv("PATH")),
        code,
        vars);
  }

  private static String accelOverride() {
    String p = System.getProperty("kagami.qemu.accel");
    return p != null ? p : System.getenv("KAGAMI_QEMU_ACCEL");
  }

  /** {@code MemTotal} of a {@code /proc/meminfo} text, in bytes. */
  static long memTotal(String meminfo) {
    for (String line : meminfo.split("\n")) {
      if (line.startsWith("MemTotal:")) {
        String[] f = line.substring("MemTotal:".length()).trim().split("\\s+");
        return Long.parseLong(f[0]) * 1024; // the kernel's "kB" are KiB
      }
    }
    throw new IllegalArgumentException("no MemTotal line");
  }

  /** The executable {@code name} in a directory of {@code path} (or /usr/bin), or null. */
  static Path onPath(String name, String path) {
    String dirs = (path == null ? "" : path) + File.pathSeparator + "/usr/bin";
    for (String dir : dirs.split(File.pathSeparator)) {
      if (!dir.isEmpty()) {
        Path p = Path.of(dir, name);
        if (Files.isRegularFile(p) && Files.isExecutable(p)) {
          return p;
        }
      }
    }
    return null;
  }

  /** Memory as the plan prints it: {@code 7.7 GiB}. */
  static String gib(long bytes) {
    return String.format(java.util.Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30));
  }
}
