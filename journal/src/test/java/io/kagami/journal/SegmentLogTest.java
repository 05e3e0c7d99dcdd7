package io.kagami.journal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.kagami.clock.SystemTime;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.FutureTask;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RunnableFuture;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Large records live in segment files; these tests pin down their lifecycle and crash handling. */
class SegmentLogTest {
  @TempDir Path dir;

  private static final int BIG = 256 << 10;

  private JournalConfig config() {
    return new JournalConfig(
        dir,
        JournalConfig.DEFAULT_WRITE_BUFFER_BYTES,
        JournalConfig.DEFAULT_MAX_GROUP_ENTRIES,
        1L << 20);
  }

  private Path segmentDir() {
    return dir.resolve("segments").resolve("vol0");
  }

  private List<Path> segmentFiles() throws IOException {
    try (Stream<Path> files = Files.list(segmentDir())) {
      return files.sorted().toList();
    }
  }

  /** Incompressible record number {@code i}, so it is stored raw and is large. */
  private static JournalRecord big(long i) {
    byte[] b = new byte[BIG];
    new Random(i).nextBytes(b);
    return Compression.writeRecord(i * BIG, ByteBuffer.wrap(b), true);
  }

  private static void assertIsBig(JournalEntry e) {
    JournalRecord r = e.record();
    assertThat(r.offset()).isEqualTo(e.seq() * BIG);
    assertThat(Compression.data(r)).isEqualTo(Compression.data(big(e.seq())));
  }

  private static void append(JournalStream s, int from, int to, boolean sync) throws Exception {
    for (int i = from; i <= to; i++) {
      s.append(big(i), false, null);
    }
    if (sync) {
      s.sync().get(30, TimeUnit.SECONDS);
    }
  }

  /** Incompressible 4 KiB write number {@code i}. */
  private static JournalRecord small(long i) {
    byte[] b = new byte[4096];
    new Random(i).nextBytes(b);
    return Compression.writeRecord(i * 4096, ByteBuffer.wrap(b), true);
  }

  @Test
  void records4KiBGoToSegmentsSyncedOrNot() throws Exception {
    try (Journal j = Journal.open(config(), SystemTime.WALL)) {
      JournalStream s = j.stream("vol0");
      for (int i = 1; i <= 3; i++) {
        s.append(small(i), true, null).get(10, TimeUnit.SECONDS);
      }
      assertThat(s.segments().bytes())
          .as("segment bytes after three synced (FUA) 4 KiB writes")
          .isGreaterThanOrEqualTo(3 * 4096L);
      assertThat(s.meta(JournalStream.META_SEGMENTS_FORCED, 0))
          .as("forced point recorded after the syncs")
          .isEqualTo(3);
      List<java.util.concurrent.CompletableFuture<Long>> unsynced = new java.util.ArrayList<>();
      for (int i = 4; i <= 40; i++) {
        unsynced.add(s.append(small(i), false, null));
      }
      java.util.concurrent.CompletableFuture.allOf(
              unsynced.toArray(java.util.concurrent.CompletableFuture[]::new))
          .get(10, TimeUnit.SECONDS);
      assertThat(s.segments().bytes())
          .as("segment bytes after unsynced 4 KiB writes")
          .isGreaterThan(0);
      s.sync().get(10, TimeUnit.SECONDS);
    }
    try (Journal j = Journal.open(config(), SystemTime.WALL)) {
      List<JournalEntry> all = j.stream("vol0").read(1, Integer.MAX_VALUE);
      assertThat(all).hasSize(40);
      for (JournalEntry e : all) {
        assertThat(Compression.data(e.record()))
            .as("data of seq %d after reopen", e.seq())
            .isEqualTo(Compression.data(small(e.seq())));
      }
    }
  }

  @Test
  void extentsComeFromHeadersAloneInSegmentsInlineAndInTheTail() throws Exception {
    try (Journal j = Journal.open(config(), SystemTime.WALL)) {
      JournalStream s = j.stream("vol0");
      append(s, 1, 6, true);
      s.append(JournalRecord.trim(8192, 4096), true, null).get(10, TimeUnit.SECONDS); // inline
      append(s, 8, 9, true);
      assertExtents(s.readExtents(1, 100), 9); // from the tail cache
      assertThat(s.readExtents(3, 2)).extracting(JournalStream.Extent::seq).containsExactly(3L, 4L);
    }
    try (Journal j = Journal.open(config(), SystemTime.WALL)) {
      JournalStream s = j.stream("vol0");
      assertExtents(s.readExtents(1, 100), 9); // from RocksDB and segment headers
      assertThat(s.readExtents(8, 100))
          .extracting(JournalStream.Extent::seq)
          .containsExactly(8L, 9L);
      assertThat(s.readExtents(10, 100)).isEmpty();
    }
  }

  private static void assertExtents(List<JournalStream.Extent> extents, int count) {
    assertThat(extents).hasSize(count);
    for (JournalStream.Extent e : extents) {
      if (e.seq() == 7) {
        assertThat(e).isEqualTo(new JournalStream.Extent(7, JournalRecord.Kind.TRIM, 8192, 4096));
      } else {
        assertThat(e)
            .isEqualTo(
                new JournalStream.Extent(e.seq(), JournalRecord.Kind.WRITE, e.seq() * BIG, BIG));
      }
    }
  }

  @Test
  void largeRecordsLiveInSegmentsAndReadBackAfterReopen() throws Exception {
    try (Journal j = Journal.open(config(), SystemTime.WALL)) {
      JournalStream s = j.stream("vol0");
      append(s, 1, 12, true);
      s.append(Compression.writeRecord(0, ByteBuffer.wrap(new byte[4096]), true), true, null)
          .get(10, TimeUnit.SECONDS);
      // 12 records of 256 KiB in 1 MiB segments: at least three files, and RocksDB holds pointers.
      assertThat(segmentFiles()).hasSizeGreaterThanOrEqualTo(3);
      assertThat(s.bytesAfter(0)).isGreaterThan(12L * BIG);
    }
    try (Journal j = Journal.open(config(), SystemTime.WALL)) {
      JournalStream s = j.stream("vol0");
      assertThat(s.lastSeq()).isEqualTo(13);
      assertThat(s.bytesAfter(0))
          .as("history bytes count the records, not the pointers")
          .isGreaterThan(12L * BIG);
      List<JournalEntry> all =
          s.read(1, Integer.MAX_VALUE); // from RocksDB: the tail cache is empty
      assertThat(all).hasSize(13);
      for (JournalEntry e : all.subList(0, 12)) {
        assertIsBig(e);
      }
      assertThat(all.get(12).record().kind()).isEqualTo(JournalRecord.Kind.WRITE);
      // Appending after reopen starts a new segment and continues the sequence.
      append(s, 14, 15, true);
      assertThat(s.read(14, Integer.MAX_VALUE)).hasSize(2).allSatisfy(SegmentLogTest::assertIsBig);
    }
  }

  @Test
  void trimDeletesSegmentsWhoseRecordsAreAllTrimmed() throws Exception {
    try (Journal j = Journal.open(config(), SystemTime.WALL)) {
      JournalStream s = j.stream("vol0");
      append(s, 1, 16, true);
      int before = segmentFiles().size();
      assertThat(before).isGreaterThanOrEqualTo(4);
      s.trimThrough(8);
      int after = segmentFiles().size();
      assertThat(after).isLessThan(before).isGreaterThanOrEqualTo(2);
      assertThat(s.read(9, Integer.MAX_VALUE)).hasSize(8).allSatisfy(SegmentLogTest::assertIsBig);
      s.trimThrough(16);
      // The segment being appended to stays; everything older is gone.
      assertThat(segmentFiles()).hasSize(1);
    }
    try (Journal j = Journal.open(config(), SystemTime.WALL)) {
      JournalStream s = j.stream("vol0");
      assertThat(s.lastSeq()).isEqualTo(16);
      assertThat(s.firstSeq()).isEqualTo(17);
      assertThat(segmentFiles()).as("the last segment is unreferenced after a full trim").isEmpty();
    }
  }

  @Test
  void unsyncedRecordsWhoseDataNeverReachedTheDiskCutTheHistoryOnOpen() throws Exception {
    try (Journal j = Journal.open(config(), SystemTime.WALL)) {
      JournalStream s = j.stream("vol0");
      append(s, 1, 4, true); // durable
      append(s, 5, 9, false); // written, never synced
      s.read(9, 1); // committed
    }
    // Simulate a power loss that kept the pointers but not the data of seq 7 onwards: zero the
    // bytes of the segment holding 7 from its offset on.
    SegmentPointer p7;
    try (Journal j = Journal.open(config(), SystemTime.WALL)) {
      p7 = pointerOf(j, 7);
    }
    Path seg = segmentDir().resolve(String.format("%020d.seg", p7.segment()));
    try (FileChannel c = FileChannel.open(seg, StandardOpenOption.WRITE)) {
      c.write(ByteBuffer.allocate((int) (Files.size(seg) - p7.offset())), p7.offset());
    }
    try (Journal j = Journal.open(config(), SystemTime.WALL)) {
      JournalStream s = j.stream("vol0");
      assertThat(s.lastSeq()).isEqualTo(6);
      assertThat(s.read(1, Integer.MAX_VALUE)).hasSize(6).allSatisfy(SegmentLogTest::assertIsBig);
      // The sequence continues from the cut.
      assertThat(s.append(big(7), true, null).get(10, TimeUnit.SECONDS)).isEqualTo(7);
      assertIsBig(s.read(7, 1).get(0));
    }
  }

  @Test
  void damagedDurableRecordsFailTheOpenInsteadOfLosingHistory() throws Exception {
    try (Journal j = Journal.open(config(), SystemTime.WALL)) {
      append(j.stream("vol0"), 1, 6, true);
    }
    for (Path p : segmentFiles()) {
      Files.delete(p);
    }
    try (Journal j = Journal.open(config(), SystemTime.WALL)) {
      assertThatThrownBy(() -> j.stream("vol0"))
          .isInstanceOf(JournalException.class)
          .hasMessageContaining("seq 1")
          .hasMessageContaining("damaged");
    }
  }

  @Test
  void strayAndTrimmedSegmentsAreIgnoredAndRemovedOnOpen() throws Exception {
    try (Journal j = Journal.open(config(), SystemTime.WALL)) {
      JournalStream s = j.stream("vol0");
      append(s, 1, 8, true);
      // A crash between persisting the trim point and deleting the range: the trim point says 4,
      // the entries are still there, and their segments may already be gone.
      j.putMeta("vol0", "trimmedThrough", 4);
    }
    SegmentPointer p4;
    try (Journal j = Journal.open(config(), SystemTime.WALL)) {
      p4 = pointerOf(j, 4);
    }
    Files.delete(segmentDir().resolve(String.format("%020d.seg", p4.segment() - 1)));
    Path stray = segmentDir().resolve(String.format("%020d.seg", 999));
    Files.write(stray, new byte[1000]); // written before a crash, never committed
    try (Journal j = Journal.open(config(), SystemTime.WALL)) {
      JournalStream s = j.stream("vol0");
      assertThat(s.firstSeq()).isEqualTo(5);
      assertThat(s.lastSeq()).isEqualTo(8);
      assertThat(s.read(5, Integer.MAX_VALUE)).hasSize(4).allSatisfy(SegmentLogTest::assertIsBig);
      assertThat(stray).doesNotExist();
    }
  }

  @Test
  void replicatedEntriesAreStoredInSegmentsDurably() throws Exception {
    try (Journal j = Journal.open(config(), SystemTime.WALL)) {
      JournalStream s = j.stream("vol0");
      List<JournalEntry> entries = List.of(JournalEntry.of(1, big(1)), JournalEntry.of(2, big(2)));
      assertThat(s.appendReplicated(entries).get(10, TimeUnit.SECONDS)).isEqualTo(2);
      assertThat(j.meta("vol0", JournalStream.META_SEGMENTS_FORCED, 0)).isEqualTo(2);
    }
    try (Journal j = Journal.open(config(), SystemTime.WALL)) {
      assertThat(j.stream("vol0").read(1, Integer.MAX_VALUE))
          .hasSize(2)
          .allSatisfy(SegmentLogTest::assertIsBig);
    }
  }

  @Test
  void forcedLargeRecordsBypassThePageCacheOnAlignedOffsetsAmongBufferedOnes() throws Exception {
    // Synced groups (the standby's, FUA writes) write large records with O_DIRECT at 4 KiB-aligned
    // offsets, zero-padded; small records in the same segment stay buffered after them.
    try (Journal j = Journal.open(config(), SystemTime.WALL)) {
      JournalStream s = j.stream("vol0");
      List<JournalEntry> entries =
          List.of(
              JournalEntry.of(1, big(1)),
              JournalEntry.of(2, small(2)),
              JournalEntry.of(3, big(3)),
              JournalEntry.of(4, small(4)));
      assertThat(s.appendReplicated(entries).get(10, TimeUnit.SECONDS)).isEqualTo(4);
      for (long seq : new long[] {1, 3}) {
        SegmentPointer p = pointerOf(j, seq);
        assertThat(p.offset() % NativeFiles.DIRECT_ALIGNMENT)
            .as("offset of large record %d", seq)
            .isZero();
      }
      SegmentPointer afterBig = pointerOf(j, 2);
      assertThat(afterBig.offset() % NativeFiles.DIRECT_ALIGNMENT)
          .as("a buffered record after a direct one starts on a fresh page")
          .isZero();
      // Unsynced large records (the primary's ordinary writes) stay in the page cache: packed.
      s.append(small(5), false, null).get(10, TimeUnit.SECONDS);
      s.append(big(6), false, null).get(10, TimeUnit.SECONDS);
      SegmentPointer p5 = pointerOf(j, 5);
      assertThat(pointerOf(j, 6).offset())
          .as("an unsynced large record follows the previous record directly")
          .isEqualTo(p5.offset() + p5.length());
      s.sync().get(10, TimeUnit.SECONDS);
    }
    try (Journal j = Journal.open(config(), SystemTime.WALL)) {
      List<JournalEntry> all = j.stream("vol0").read(1, Integer.MAX_VALUE);
      assertThat(all).hasSize(6);
      for (JournalEntry e : all) {
        JournalRecord expected =
            e.seq() == 2 || e.seq() == 4 || e.seq() == 5 ? small(e.seq()) : big(e.seq());
        assertThat(Compression.data(e.record()))
            .as("record %d read back from its segment", e.seq())
            .isEqualTo(Compression.data(expected));
      }
    }
  }

  @Test
  void aFailedDirectWriteIsWrittenAgainThroughThePageCacheAndDirectWritesStop() throws Exception {
    // Seam: direct writers whose every write fails without writing anything (as a pwrite error
    // would), so only the rewrite through the page cache can put the records on disk.
    AtomicInteger directWrites = new AtomicInteger();
    ExecutorService failing =
        new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new LinkedBlockingQueue<>()) {
          @Override
          protected <T> RunnableFuture<T> newTaskFor(Callable<T> notRun) {
            return new FutureTask<>(
                () -> {
                  directWrites.incrementAndGet();
                  @SuppressWarnings("unchecked")
                  T failed = (T) Boolean.FALSE;
                  return failed;
                });
          }
        };
    try (Journal j = Journal.open(config(), SystemTime.WALL, SystemTime.NANO, failing)) {
      JournalStream s = j.stream("vol0");
      assertThat(
              s.appendReplicated(List.of(JournalEntry.of(1, big(1)), JournalEntry.of(2, big(2))))
                  .get(10, TimeUnit.SECONDS))
          .isEqualTo(2);
      int tried = directWrites.get();
      assertThat(tried).as("direct writes tried before the first failure was seen").isBetween(1, 2);
      assertThat(s.appendReplicated(List.of(JournalEntry.of(3, big(3)))).get(10, TimeUnit.SECONDS))
          .isEqualTo(3);
      assertThat(directWrites.get()).as("no direct write after one failed").isEqualTo(tried);
      assertThat(s.read(1, Integer.MAX_VALUE)).hasSize(3).allSatisfy(SegmentLogTest::assertIsBig);
    }
    try (Journal j = Journal.open(config(), SystemTime.WALL)) {
      assertThat(j.stream("vol0").read(1, Integer.MAX_VALUE))
          .as("read back from the segments after reopen")
          .hasSize(3)
          .allSatisfy(SegmentLogTest::assertIsBig);
    }
  }

  @Test
  void whereTheFilesystemRefusesDirectWritesSegmentsAreWrittenThroughThePageCache()
      throws Exception {
    Path shm = Path.of("/dev/shm");
    assumeTrue(
        Files.isDirectory(shm)
            && Files.isWritable(shm)
            && "tmpfs".equals(Files.getFileStore(shm).type()),
        "needs a writable tmpfs at /dev/shm");
    Path tmpfsDir = Files.createTempDirectory(shm, "kagami-segment-test-");
    try {
      JournalConfig onTmpfs =
          new JournalConfig(
              tmpfsDir,
              JournalConfig.DEFAULT_WRITE_BUFFER_BYTES,
              JournalConfig.DEFAULT_MAX_GROUP_ENTRIES,
              1L << 20);
      try (Journal j = Journal.open(onTmpfs, SystemTime.WALL)) {
        JournalStream s = j.stream("vol0");
        assertThat(
                s.appendReplicated(List.of(JournalEntry.of(1, big(1)), JournalEntry.of(2, big(2))))
                    .get(10, TimeUnit.SECONDS))
            .isEqualTo(2);
        assertThat(j.meta("vol0", JournalStream.META_SEGMENTS_FORCED, 0)).isEqualTo(2);
      }
      try (Journal j = Journal.open(onTmpfs, SystemTime.WALL)) {
        assertThat(j.stream("vol0").read(1, Integer.MAX_VALUE))
            .hasSize(2)
            .allSatisfy(SegmentLogTest::assertIsBig);
      }
    } finally {
      try (Stream<Path> all = Files.walk(tmpfsDir)) {
        for (Path p : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  private static SegmentPointer pointerOf(Journal j, long seq) throws Exception {
    byte[] v = j.rawValue("vol0", seq);
    assertThat(SegmentPointer.is(v)).as("seq %d is stored in a segment", seq).isTrue();
    return SegmentPointer.decode(v);
  }

  /** Record {@code i} of a second history (another seed), to tell it from the first one. */
  private static JournalRecord other(long i) {
    byte[] b = new byte[BIG];
    new Random(1000 + i).nextBytes(b);
    return Compression.writeRecord(i * BIG, ByteBuffer.wrap(b), true);
  }

  @Test
  void truncatedHistoryContinuesWithOtherEntriesAndSurvivesReopen() throws Exception {
    try (Journal j = Journal.open(config(), SystemTime.WALL)) {
      JournalStream s = j.stream("vol0");
      append(s, 1, 8, true);
      s.append(JournalRecord.writeZeroes(0, 4096), true, null)
          .get(30, TimeUnit.SECONDS); // seq 9, inline
      s.truncateAfter(5);
      assertThat(s.lastSeq()).isEqualTo(5);
      assertThat(s.read(6, Integer.MAX_VALUE)).isEmpty();
      for (int i = 6; i <= 7; i++) {
        assertThat(s.append(other(i), false, null).get(30, TimeUnit.SECONDS)).isEqualTo(i);
      }
      s.sync().get(30, TimeUnit.SECONDS);
      List<JournalEntry> all = s.read(1, Integer.MAX_VALUE);
      assertThat(all).extracting(JournalEntry::seq).containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L);
      assertThat(s.bytesAfter(0)).isEqualTo(all.stream().mapToLong(e -> e.encoded().length).sum());
    }
    try (Journal j = Journal.open(config(), SystemTime.WALL)) {
      JournalStream s = j.stream("vol0");
      assertThat(s.lastSeq()).isEqualTo(7);
      List<JournalEntry> all = s.read(1, Integer.MAX_VALUE);
      assertThat(all).extracting(JournalEntry::seq).containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L);
      for (JournalEntry e : all.subList(0, 5)) {
        assertIsBig(e);
      }
      for (JournalEntry e : all.subList(5, 7)) {
        assertThat(Compression.data(e.record())).isEqualTo(Compression.data(other(e.seq())));
      }
    }
  }
}
