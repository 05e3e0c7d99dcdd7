package io.kagami.site.rulefixture;

import io.kagami.clock.SuppressForbidden;

/** Breaks {@code SUPPRESSION_ONLY_IN_CLOCK}: switching off the forbidden-API check elsewhere. */
@SuppressForbidden
final class SiteSuppressingTheClockRule {}
