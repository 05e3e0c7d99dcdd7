package io.kagami.site.rulefixture;

import net.jpountz.lz4.LZ4Factory;

/** Breaks {@code SITE_ONLY_WIRES}: the site manager running a codec of its own. */
final class SiteCompressing {
  LZ4Factory lz4;
}
