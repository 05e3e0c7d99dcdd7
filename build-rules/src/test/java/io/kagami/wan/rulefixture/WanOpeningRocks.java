package io.kagami.wan.rulefixture;

import org.rocksdb.RocksDB;

/** Breaks {@code ROCKSDB_ONLY_IN_JOURNAL}: the WAN opening the journal's storage engine. */
final class WanOpeningRocks {
  RocksDB db;
}
