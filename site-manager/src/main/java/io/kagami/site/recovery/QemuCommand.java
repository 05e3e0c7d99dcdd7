package io.kagami.site.recovery;

import java.util.ArrayList;
import java.util.List;

/**
 * The {@code qemu-system-x86_64} command line that starts a server from its profile: machine,
 * vCPUs, memory, firmware (OVMF as two pflash drives for UEFI), each volume as an NBD disk on the
 * profile's bus in disk order (the first boots), each NIC on its network's bridge (or, on an {@code
 * isolated: true} network, QEMU user networking with {@code restrict=on}: the guest reaches nothing
 * outside the VM), the serial console to a file. In a drill each disk is the Kagami drill clone of
 * its volume ({@code <volume>-drill}, a writable copy-on-write clone at the drill's point that the
 * guest writes into), never the replica's own export. Pure: builds the arguments, starts nothing.
 */
public final class QemuCommand {
  private QemuCommand() {}

  public static List<String> argv(
      ServerProfile s, RecoveryProfiles profiles, DrHost host, Launch launch) {
    List<String> a = new ArrayList<>();
    a.add(host.qemu() == null ? DrHost.QEMU : host.qemu().toString());
    a.addAll(List.of("-name", "guest=" + guestName(s, launch) + ",debug-threads=on"));
    a.addAll(List.of("-machine", s.machine() + ",accel=" + (host.kvm() ? "kvm" : "tcg")));
    if (host.kvm()) {
      a.addAll(List.of("-cpu", "host"));
    }
    a.addAll(List.of("-smp", Integer.toString(s.vcpus())));
    a.addAll(List.of("-m", (s.memory().bytes() >> 20) + "M"));
    a.addAll(List.of("-nodefaults", "-display", "none", "-no-user-config"));
    if (s.firmware() == Firmware.UEFI) {
      a.addAll(
          List.of(
              "-drive",
              "if=pflash,format=raw,unit=0,readonly=on,file=" + opt(host.ovmfCode().toString())));
      a.addAll(
          List.of("-drive", "if=pflash,format=raw,unit=1,file=" + opt(launch.nvram().toString())));
    }
    if (s.diskBus() == DiskBus.SATA) {
      a.addAll(List.of("-device", "ahci,id=sata0"));
    }
    for (int i = 0; i < s.volumes().size(); i++) {
      String id = "disk" + i;
      a.addAll(
          List.of(
              "-drive",
              "file.driver=nbd,file.server.type=inet,file.server.host="
                  + opt(launch.nbdHost())
                  + ",file.server.port="
                  + launch.nbdPort()
                  + ",file.export="
                  + opt(export(s.volumes().get(i), launch))
                  + ",format=raw,if=none,id="
                  + id
                  + ",cache=none"));
      String boot = i == 0 ? ",bootindex=1" : "";
      a.addAll(
          List.of(
              "-device",
              switch (s.diskBus()) {
                case VIRTIO -> "virtio-blk-pci,drive=" + id + boot;
                case SATA -> "ide-hd,drive=" + id + ",bus=sata0." + i + boot;
                case IDE ->
                    "ide-hd,drive=" + id + ",bus=ide." + (i / 2) + ",unit=" + (i % 2) + boot;
              }));
    }
    for (int i = 0; i < s.nics().size(); i++) {
      ServerProfile.Nic n = s.nics().get(i);
      String bridge = profiles.bridge(launch.drill() ? n.drillNetwork() : n.network());
      if (bridge == null) {
        continue; // a drill leaves out a NIC without a drill network
      }
      a.addAll(
          List.of(
              "-netdev",
              bridge.equals(RecoveryProfiles.ISOLATED)
                  ? "user,id=net" + i + ",restrict=on"
                  : "bridge,id=net" + i + ",br=" + bridge));
      a.addAll(
          List.of(
              "-device",
              (n.model().equals("virtio") ? "virtio-net-pci" : n.model())
                  + ",netdev=net"
                  + i
                  + ",mac="
                  + n.mac()));
    }
    a.addAll(List.of("-chardev", "file,id=console,path=" + opt(launch.console().toString())));
    a.addAll(List.of("-serial", "chardev:console"));
    return a;
  }

  /** The VM's name: the server's, with {@code -drill} in a drill. */
  static String guestName(ServerProfile s, Launch launch) {
    return s.name() + (launch.drill() ? "-drill" : "");
  }

  /** The NBD export a disk reads: the volume's own, or in a drill its drill clone. */
  public static String export(String volume, Launch launch) {
    return launch.drill() ? volume + DRILL_SUFFIX : volume;
  }

  /** The suffix of a volume's drill clone export (as the site's drills name it). */
  public static final String DRILL_SUFFIX = "-drill";

  /** A value inside a QEMU option list: a comma is written twice. */
  private static String opt(String v) {
    return v.replace(",", ",,");
  }
}
