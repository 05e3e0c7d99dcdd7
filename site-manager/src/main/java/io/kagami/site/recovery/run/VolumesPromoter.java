package io.kagami.site.recovery.run;

import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Promotes the site (on a 1:1 standby) or the peer (on an N:1 standby) that owns {@code volumes},
 * at {@code seq} of the first volume, at {@code at}, or at the newest point it holds; completes
 * with each volume's point once their exports take writes. Other peers' volumes keep replicating.
 */
@FunctionalInterface
public interface VolumesPromoter {
  CompletableFuture<RecoveryDisks.Prepared> promote(List<String> volumes, Long seq, Instant at);
}
