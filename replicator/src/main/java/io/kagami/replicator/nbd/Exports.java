package io.kagami.replicator.nbd;

import io.kagami.replicator.volume.BlockDevice;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The devices an NBD server offers, by export name; the empty name means the first one. */
public final class Exports {
  private final Map<String, BlockDevice> byName = new LinkedHashMap<>();

  public Exports(List<? extends BlockDevice> devices) {
    for (BlockDevice d : devices) {
      byName.put(d.name(), d);
    }
  }

  public Optional<BlockDevice> find(String name) {
    if (name.isEmpty()) {
      return byName.values().stream().findFirst();
    }
    return Optional.ofNullable(byName.get(name));
  }

  public List<String> names() {
    return List.copyOf(byName.keySet());
  }
}
