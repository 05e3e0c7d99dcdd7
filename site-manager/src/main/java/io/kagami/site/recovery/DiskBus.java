package io.kagami.site.recovery;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/**
 * The bus a recovered server's disks are attached to. {@code virtio} is fastest and what a
 * converted Linux guest expects; {@code sata} and {@code ide} are for guests without virtio drivers
 * (a Windows guest imaged from hardware boots only from the controller it was installed on, else
 * stops with 0x7B). Each bus takes a bounded number of disks ({@link #maxDisks}); IDE exists only
 * on the {@code pc} (i440fx) machine.
 */
public enum DiskBus {
  VIRTIO(28, "vd"),
  /** An AHCI controller of its own (six ports), on either machine type. */
  SATA(6, "sd"),
  /** The {@code pc} machine's two IDE channels, two units each. */
  IDE(4, "hd");

  private final int maxDisks;
  private final String devicePrefix;

  DiskBus(int maxDisks, String devicePrefix) {
    this.maxDisks = maxDisks;
    this.devicePrefix = devicePrefix;
  }

  @JsonValue
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** How many disks one server may attach on this bus. */
  public int maxDisks() {
    return maxDisks;
  }

  /** The guest device name of the {@code index}th disk as libvirt names it: vda, sdb, hdc. */
  String device(int index) {
    return devicePrefix + (char) ('a' + index);
  }

  /** The bus named {@code text}, or null. */
  static DiskBus of(String text) {
    for (DiskBus b : values()) {
      if (b.label().equals(text)) {
        return b;
      }
    }
    return null;
  }
}
