package io.kagami.replicator.nbd;

import io.kagami.replicator.volume.BlockDevice;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The devices an NBD server offers, by export name, and the default export a client gets when it
 * asks for the empty name. Immutable and safe to share between connections.
 */
public final class Exports {
  private final Map<String, BlockDevice> byName;
  private final BlockDevice defaultExport;

  /** Every device under its own name; the first one is also the default export. */
  public Exports(List<? extends BlockDevice> devices) {
    this(devices, devices.isEmpty() ? null : devices.getFirst().name());
  }

  /**
   * Every device under its own name; {@code defaultName} (one of them, or null for none) answers
   * the empty export name.
   */
  public Exports(List<? extends BlockDevice> devices, String defaultName) {
    Map<String, BlockDevice> map = new LinkedHashMap<>();
    for (BlockDevice d : devices) {
      Objects.requireNonNull(d, "device");
      String name = d.name();
      if (name == null || name.isEmpty()) {
        throw new IllegalArgumentException(
            "NBD exports: a device has no name (the empty name is reserved for the default export)");
      }
      if (name.getBytes(StandardCharsets.UTF_8).length > NbdProtocol.MAX_STRING_BYTES) {
        throw new IllegalArgumentException(
            "NBD exports: export name \""
                + NbdProtocol.printable(name)
                + "\" is longer than 4096 bytes");
      }
      if (map.putIfAbsent(name, d) != null) {
        throw new IllegalArgumentException(
            "NBD exports: export name \"" + name + "\" is used by two devices");
      }
    }
    if (defaultName != null && !map.containsKey(defaultName)) {
      throw new IllegalArgumentException(
          "NBD exports: default export \"" + defaultName + "\" is not one of " + map.keySet());
    }
    this.byName = map;
    this.defaultExport = defaultName == null ? null : map.get(defaultName);
  }

  public static Exports of(BlockDevice... devices) {
    return new Exports(List.of(devices));
  }

  /** Adds {@code device} under its name; refused when the name is taken. */
  public synchronized void add(BlockDevice device) {
    Objects.requireNonNull(device, "device");
    String name = device.name();
    if (name == null
        || name.isEmpty()
        || name.getBytes(StandardCharsets.UTF_8).length > NbdProtocol.MAX_STRING_BYTES) {
      throw new IllegalArgumentException(
          "NBD exports: export name \""
              + NbdProtocol.printable(String.valueOf(name))
              + "\" is not allowed");
    }
    if (byName.putIfAbsent(name, device) != null) {
      throw new IllegalArgumentException(
          "NBD exports: export name \"" + name + "\" is in use already");
    }
  }

  /** Removes the export {@code name} (not the default one); new connections no longer find it. */
  public synchronized boolean remove(String name) {
    BlockDevice d = byName.get(name);
    if (d == null || d == defaultExport) {
      return false;
    }
    byName.remove(name);
    return true;
  }

  /** The device exported as {@code name}; the empty name means the default export. */
  public synchronized Optional<BlockDevice> find(String name) {
    if (name.isEmpty()) {
      return Optional.ofNullable(defaultExport);
    }
    return Optional.ofNullable(byName.get(name));
  }

  public Optional<BlockDevice> defaultExport() {
    return Optional.ofNullable(defaultExport);
  }

  /** Export names in the order the devices were given (the order NBD_OPT_LIST reports). */
  public synchronized List<String> names() {
    return List.copyOf(byName.keySet());
  }
}
