/**
 * The Debian package of the appliance: build-time generators that derive the package's man page and
 * shell completion from the {@code kagami} command tree, so they can never drift from the CLI.
 */
package io.kagami.appliance.deb;
