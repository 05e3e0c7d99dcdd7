package io.kagami.site.rulefixture;

import io.kagami.testkit.nbd.NbdTestClient;

/** Breaks {@code NO_TESTKIT_IN_PRODUCT}: product code using a test fixture. */
final class SiteUsingTheTestkit {
  NbdTestClient client;
}
