package io.kagami.wan.testing;

import io.kagami.wan.receive.LinkRefusedException;
import io.kagami.wan.receive.ReceiveSink;
import io.kagami.wan.receive.ReceiverCatalog;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** A standby's catalog: sinks by primary site and volume; anything else is refused. */
public final class Catalog implements ReceiverCatalog {
  private final Map<String, MemorySink> sinks = new ConcurrentHashMap<>();

  public Catalog add(String site, MemorySink sink) {
    sinks.put(site + "/" + sink.volume(), sink);
    return this;
  }

  @Override
  public ReceiveSink sink(String sourceSiteId, String volume, long sizeBytes)
      throws LinkRefusedException {
    MemorySink s = sinks.get(sourceSiteId + "/" + volume);
    if (s == null) {
      throw new LinkRefusedException(
          "volume " + volume + " of site " + sourceSiteId + " is not replicated here");
    }
    if (s.sizeBytes() != sizeBytes) {
      throw new LinkRefusedException(
          "volume "
              + volume
              + " is "
              + sizeBytes
              + " bytes on the primary but "
              + s.sizeBytes()
              + " here");
    }
    return s;
  }
}
