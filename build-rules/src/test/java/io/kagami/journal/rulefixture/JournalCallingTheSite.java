package io.kagami.journal.rulefixture;

import io.kagami.site.config.DataSize;

/** Breaks {@code JOURNAL_ABOVE_CLOCK_ONLY}: the journal reaching up into the site manager. */
final class JournalCallingTheSite {
  DataSize size;
}
