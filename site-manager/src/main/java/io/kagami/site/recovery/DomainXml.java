package io.kagami.site.recovery;

/**
 * The libvirt domain XML that defines a server from its profile ({@code kagami recover --libvirt}):
 * {@code kvm} or, without KVM, {@code qemu}; the machine and firmware (OVMF as a pflash loader with
 * the server's own variable store for UEFI); each volume as an NBD network disk ({@code <source
 * protocol='nbd'>}) on the profile's bus, the first with boot order 1; in a drill the Kagami drill
 * clone of each volume; each NIC on its network's bridge; a serial console. Pure: builds the text,
 * defines nothing. The result passes {@code virt-xml-validate} ({@code DomainXmlValidateTest}).
 */
public final class DomainXml {
  private DomainXml() {}

  public static String render(
      ServerProfile s, RecoveryProfiles profiles, DrHost host, Launch launch) {
    StringBuilder x = new StringBuilder();
    x.append("<domain type='").append(host.kvm() ? "kvm" : "qemu").append("'>\n");
    x.append("  <name>").append(esc(QemuCommand.guestName(s, launch))).append("</name>\n");
    x.append("  <description>Kagami recovery of server ")
        .append(esc(s.name()))
        .append(launch.drill() ? " (drill)" : "")
        .append("</description>\n");
    x.append("  <memory unit='KiB'>").append(s.memory().bytes() >> 10).append("</memory>\n");
    x.append("  <vcpu placement='static'>").append(s.vcpus()).append("</vcpu>\n");
    x.append("  <os>\n");
    x.append("    <type arch='x86_64' machine='").append(esc(s.machine())).append("'>hvm</type>\n");
    if (s.firmware() == Firmware.UEFI) {
      x.append("    <loader readonly='yes' type='pflash'>")
          .append(esc(host.ovmfCode().toString()))
          .append("</loader>\n");
      x.append("    <nvram template='")
          .append(esc(host.ovmfVars().toString()))
          .append("'>")
          .append(esc(launch.nvram().toString()))
          .append("</nvram>\n");
    }
    x.append("  </os>\n");
    x.append("  <features>\n    <acpi/>\n    <apic/>\n  </features>\n");
    if (host.kvm()) {
      x.append("  <cpu mode='host-passthrough'/>\n");
    }
    x.append("  <on_poweroff>destroy</on_poweroff>\n");
    x.append("  <on_reboot>restart</on_reboot>\n");
    x.append("  <on_crash>destroy</on_crash>\n");
    x.append("  <devices>\n");
    if (host.qemu() != null) {
      x.append("    <emulator>").append(esc(host.qemu().toString())).append("</emulator>\n");
    }
    for (int i = 0; i < s.volumes().size(); i++) {
      x.append("    <disk type='network' device='disk'>\n");
      x.append("      <driver name='qemu' type='raw' cache='none'/>\n");
      x.append("      <source protocol='nbd' name='")
          .append(esc(QemuCommand.export(s.volumes().get(i), launch)))
          .append("'>\n");
      x.append("        <host name='")
          .append(esc(launch.nbdHost()))
          .append("' port='")
          .append(launch.nbdPort())
          .append("'/>\n");
      x.append("      </source>\n");
      x.append("      <target dev='")
          .append(s.diskBus().device(i))
          .append("' bus='")
          .append(s.diskBus().label())
          .append("'/>\n");
      if (i == 0) {
        x.append("      <boot order='1'/>\n");
      }
      x.append("    </disk>\n");
    }
    for (ServerProfile.Nic n : s.nics()) {
      String bridge = profiles.bridge(launch.drill() ? n.drillNetwork() : n.network());
      if (bridge == null || bridge.equals(RecoveryProfiles.ISOLATED)) {
        // a drill leaves out a NIC without a drill network; libvirt's user networking cannot be
        // restricted, so a NIC on an isolated network is left out too
        continue;
      }
      x.append("    <interface type='bridge'>\n");
      x.append("      <mac address='").append(esc(n.mac())).append("'/>\n");
      x.append("      <source bridge='").append(esc(bridge)).append("'/>\n");
      x.append("      <model type='").append(esc(n.model())).append("'/>\n");
      x.append("    </interface>\n");
    }
    x.append("    <serial type='file'>\n");
    x.append("      <source path='").append(esc(launch.console().toString())).append("'/>\n");
    x.append("      <target port='0'/>\n");
    x.append("    </serial>\n");
    x.append("  </devices>\n");
    x.append("</domain>\n");
    return x.toString();
  }

  /** Text and attribute values escaped for XML. */
  static String esc(String v) {
    StringBuilder b = new StringBuilder(v.length());
    for (char c : v.toCharArray()) {
      switch (c) {
        case '&' -> b.append("&amp;");
        case '<' -> b.append("&lt;");
        case '>' -> b.append("&gt;");
        case '\'' -> b.append("&apos;");
        case '"' -> b.append("&quot;");
        default -> b.append(c);
      }
    }
    return b.toString();
  }
}
