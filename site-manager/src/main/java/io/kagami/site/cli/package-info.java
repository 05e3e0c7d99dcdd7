/**
 * The kagami command line: one picocli command per verb; the daemon verbs (run, demo, witness)
 * start components, every other verb talks to a running site's admin API.
 */
package io.kagami.site.cli;
