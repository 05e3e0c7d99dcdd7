package io.kagami.site.recovery;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The QEMU command line of each bus and firmware, in a recovery and in a drill. */
class QemuCommandTest {
  private static final DrHost HOST =
      new DrHost(
          2,
          8L << 30,
          false,
          Path.of("/usr/bin/qemu-system-x86_64"),
          Path.of("/usr/share/OVMF/OVMF_CODE_4M.fd"),
          Path.of("/usr/share/OVMF/OVMF_VARS_4M.fd"));

  private static List<String> argv(String server, boolean drill) {
    RecoveryProfiles p =
        RecoveryProfilesLoader.parse(DomainXmlValidateTest.PROFILES, "recovery.yaml").profiles();
    ServerProfile s = p.servers().stream().filter(x -> x.name().equals(server)).findFirst().get();
    return QemuCommand.argv(
        s, p, HOST, new Launch("10.1.0.1", 10809, drill, Path.of("n.fd"), Path.of("c.log")));
  }

  @Test
  void virtioDisksAreNbdExportsInDiskOrderAndTheFirstBoots() {
    String line = String.join(" ", argv("db", false));
    assertThat(line)
        .startsWith("/usr/bin/qemu-system-x86_64 -name guest=db,debug-threads=on")
        .contains("-machine q35,accel=tcg -smp 2 -m 2048M")
        .contains(
            "-drive file.driver=nbd,file.server.type=inet,file.server.host=10.1.0.1,file.server.port=10809,file.export=db-data,format=raw,if=none,id=disk0,cache=none -device virtio-blk-pci,drive=disk0,bootindex=1")
        .contains(
            "file.export=db-log,format=raw,if=none,id=disk1,cache=none -device virtio-blk-pci,drive=disk1 ")
        .contains(
            "-netdev bridge,id=net0,br=br-prod -device virtio-net-pci,netdev=net0,mac=52:54:00:00:00:01")
        .doesNotContain("snapshot=on")
        .doesNotContain("pflash");
  }

  @Test
  void aDrillWritesIntoTheDrillClonesAndJoinsTheDrillNetwork() {
    String line = String.join(" ", argv("db", true));
    assertThat(line)
        .contains("guest=db-drill")
        .contains("file.export=db-data-drill,format=raw,if=none,id=disk0,cache=none ")
        .contains("file.export=db-log-drill,format=raw,if=none,id=disk1,cache=none ")
        .as("the guest writes into the Kagami clone, not a QEMU overlay")
        .doesNotContain("snapshot=on")
        .contains("br=br-drill")
        .doesNotContain("br=br-prod");
    assertThat(String.join(" ", argv("legacy", true)))
        .as("a NIC without a drill network is left out of a drill")
        .doesNotContain("-netdev");
  }

  @Test
  void uefiSataAndIdeUseTheirDevices() {
    assertThat(String.join(" ", argv("app", false)))
        .contains(
            "-drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd")
        .contains("-drive if=pflash,format=raw,unit=1,file=n.fd")
        .contains("-device ahci,id=sata0")
        .contains("-device ide-hd,drive=disk0,bus=sata0.0,bootindex=1")
        .contains("-device ide-hd,drive=disk1,bus=sata0.1")
        .contains("-device e1000,netdev=net0");
    assertThat(String.join(" ", argv("legacy", false)))
        .contains("-machine pc,accel=tcg")
        .contains("-device ide-hd,drive=disk0,bus=ide.0,unit=0,bootindex=1")
        .contains("-device rtl8139,netdev=net0");
  }

  @Test
  void anIsolatedDrillNetworkNeedsNoBridgeAndReachesNothing() {
    RecoveryProfiles p =
        RecoveryProfilesLoader.parse(
                """
                networks:
                  prod: {bridge: br-prod}
                  lab: {isolated: true}
                servers:
                  - name: db
                    volumes: [db-data]
                    nics: [{network: prod, drillNetwork: lab, mac: "52:54:00:00:00:01"}]
                """,
                "recovery.yaml")
            .profiles();
    assertThat(p.networks()).containsEntry("lab", RecoveryProfiles.ISOLATED);
    ServerProfile s = p.servers().getFirst();
    String drill =
        String.join(
            " ",
            QemuCommand.argv(
                s, p, HOST, new Launch("127.0.0.1", 10809, true, Path.of("n"), Path.of("c"))));
    assertThat(drill)
        .contains("-netdev user,id=net0,restrict=on -device virtio-net-pci,netdev=net0")
        .doesNotContain("br-prod");
  }
}
