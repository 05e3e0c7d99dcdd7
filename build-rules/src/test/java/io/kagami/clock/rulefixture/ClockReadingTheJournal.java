package io.kagami.clock.rulefixture;

import io.kagami.journal.JournalConfig;

/** Breaks {@code CLOCK_AT_THE_BOTTOM}: the clock reaching up into the journal. */
final class ClockReadingTheJournal {
  JournalConfig config;
}
