package io.kagami.site.recovery;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** The firmware a recovered server boots with: as its production machine did. */
public enum Firmware {
  /** SeaBIOS, QEMU's default. */
  BIOS,
  /** OVMF (EDK II): needs its code and variable-store template on the DR host. */
  UEFI;

  @JsonValue
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The firmware named {@code text} ({@code bios} or {@code uefi}), or null. */
  static Firmware of(String text) {
    for (Firmware f : values()) {
      if (f.label().equals(text)) {
        return f;
      }
    }
    return null;
  }
}
