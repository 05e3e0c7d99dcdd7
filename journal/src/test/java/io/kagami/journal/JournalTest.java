package io.kagami.journal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kagami.clock.NanoClock;
import io.kagami.clock.SystemTime;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JournalTest {
  @TempDir Path dir;

  private static JournalRecord write(long offset, int len, int fill) {
    byte[] b = new byte[len];
    java.util.Arrays.fill(b, (byte) fill);
    return Compression.writeRecord(offset, ByteBuffer.wrap(b), true);
  }

  @Test
  void appendsGetGaplessSequenceNumbersAndReadBackInOrder() throws Exception {
    try (Journal j = Journal.open(JournalConfig.at(dir), SystemTime.WALL)) {
      JournalStream s = j.stream("vol0");
      List<CompletableFuture<Long>> fs = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        fs.add(s.append(write(i * 4096L, 4096, i), i % 10 == 0, null));
      }
      for (int i = 0; i < 100; i++) {
        assertThat(fs.get(i).get(10, TimeUnit.SECONDS)).isEqualTo(i + 1L);
      }
      List<JournalEntry> read = s.read(1, Integer.MAX_VALUE);
      assertThat(read).hasSize(100);
      for (int i = 0; i < 100; i++) {
        JournalRecord r = read.get(i).record();
        assertThat(read.get(i).seq()).isEqualTo(i + 1L);
        assertThat(r.offset()).isEqualTo(i * 4096L);
        assertThat(Compression.data(r)).containsOnly((byte) i);
      }
      assertThat(s.read(101, 1 << 20)).isEmpty();
      assertThat(s.read(50, 1)).hasSize(1);
    }
  }

  @Test
  void appendsAreAcknowledgedAfterTheirHooksOnceTheHookBacklogIsFull() throws Exception {
    // A backlog of 1 byte: the first append's hook (the primary's volume write) is behind, so the
    // second append is acknowledged only after its own hook ran, not at once.
    JournalConfig config =
        JournalConfig.at(dir)
            .withMemory(
                JournalConfig.DEFAULT_MEMTABLE_BYTES,
                JournalConfig.DEFAULT_BLOCK_CACHE_BYTES,
                JournalConfig.DEFAULT_TAIL_CACHE_BYTES,
                1);
    try (Journal j = Journal.open(config, SystemTime.WALL)) {
      JournalStream s = j.stream("vol0");
      List<String> events = java.util.Collections.synchronizedList(new ArrayList<>());
      CompletableFuture<Void> volumeFileSlow = new CompletableFuture<>();
      CompletableFuture<Void> secondCommitted = new CompletableFuture<>();
      s.onCommit(
          () -> {
            if (s.lastSeq() >= 2) {
              secondCommitted.complete(null);
            }
          });
      CompletableFuture<Long> first =
          s.append(
              write(0, 4096, 1),
              false,
              seq -> {
                volumeFileSlow.join();
                events.add("hook 1");
              });
      assertThat(first.get(10, TimeUnit.SECONDS)).as("acknowledged before its hook").isEqualTo(1);
      CompletableFuture<Long> second =
          s.append(write(4096, 4096, 2), false, seq -> events.add("hook 2"));
      second.thenRun(() -> events.add("ack 2"));
      secondCommitted.get(10, TimeUnit.SECONDS);
      // The commit listener runs before the journal thread decides on the late acknowledgement:
      // hook 1 must not drain the backlog before that decision (bounded spin, no sleep).
      long deadline = SystemTime.NANO.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (j.lateAcknowledgements() < 1 && SystemTime.NANO.nanoTime() < deadline) {
        Thread.onSpinWait();
      }
      volumeFileSlow.complete(null);
      assertThat(second.get(10, TimeUnit.SECONDS)).isEqualTo(2);
      assertThat(events).containsExactly("hook 1", "hook 2", "ack 2");
      assertThat(j.lateAcknowledgements()).isEqualTo(1);
      assertThat(j.afterCommitBacklogBytes()).isZero();
    }
  }

  @Test
  void truncatingAfterASeqEndsTheHistoryThereAcrossARestartAndAppendsContinueFromIt()
      throws Exception {
    try (Journal j = Journal.open(JournalConfig.at(dir), SystemTime.WALL)) {
      JournalStream s = j.stream("vol0");
      for (int i = 0; i < 20; i++) {
        s.append(write(i * 4096L, i % 3 == 0 ? 64 << 10 : 4096, i), false, null)
            .get(10, TimeUnit.SECONDS);
      }
      s.trimThrough(5);
      s.truncateAfter(12);
      s.truncateAfter(12); // idempotent
      assertThat(s.lastSeq()).isEqualTo(12);
      assertThat(s.read(6, Integer.MAX_VALUE))
          .extracting(JournalEntry::seq)
          .containsExactly(6L, 7L, 8L, 9L, 10L, 11L, 12L);
      assertThat(s.append(write(0, 4096, 99), true, null).get(10, TimeUnit.SECONDS)).isEqualTo(13L);
      s.trimThrough(13);
      s.truncateAfter(3); // below the trim point: the history is empty and ends at 3
      assertThat(s.lastSeq()).isEqualTo(3);
    }
    try (Journal j = Journal.open(JournalConfig.at(dir), SystemTime.WALL)) {
      JournalStream s = j.stream("vol0");
      assertThat(s.lastSeq()).as("end of history after a restart").isEqualTo(3);
      assertThat(s.append(write(0, 4096, 1), true, null).get(10, TimeUnit.SECONDS)).isEqualTo(4L);
    }
  }

  @Test
  void afterCommitHooksRunInSequenceOrderAcrossConcurrentAppenders() throws Exception {
    List<Long> order = Collections.synchronizedList(new ArrayList<>());
    try (Journal j = Journal.open(JournalConfig.at(dir), SystemTime.WALL)) {
      JournalStream s = j.stream("vol0");
      List<Thread> threads = new ArrayList<>();
      List<CompletableFuture<Long>> all = Collections.synchronizedList(new ArrayList<>());
      for (int t = 0; t < 4; t++) {
        threads.add(
            Thread.ofPlatform()
                .start(
                    () -> {
                      for (int i = 0; i < 500; i++) {
                        all.add(s.append(write(i, 512, i), false, order::add));
                      }
                    }));
      }
      for (Thread t : threads) {
        t.join();
      }
      CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
      assertThat(s.lastSeq()).isEqualTo(2000);
    }
    // Hooks follow the acknowledgements; closing the journal waits for every one of them.
    assertThat(order).hasSize(2000);
    for (int i = 0; i < 2000; i++) {
      assertThat(order.get(i)).as("hook #%d", i).isEqualTo(i + 1L);
    }
  }

  @Test
  void lastSeqSurvivesTrimOfEverythingAndReopen() throws Exception {
    try (Journal j = Journal.open(JournalConfig.at(dir), SystemTime.WALL)) {
      JournalStream s = j.stream("vol0");
      for (int i = 0; i < 10; i++) {
        s.append(write(0, 4096, i), false, null);
      }
      s.sync().get(10, TimeUnit.SECONDS);
      s.trimThrough(10);
      assertThat(s.firstSeq()).isEqualTo(11);
      assertThatThrownBy(() -> s.read(5, 100))
          .isInstanceOf(JournalException.class)
          .hasMessageContaining("no longer in the journal");
    }
    try (Journal j = Journal.open(JournalConfig.at(dir), SystemTime.WALL)) {
      JournalStream s = j.stream("vol0");
      assertThat(s.lastSeq()).isEqualTo(10);
      assertThat(s.append(write(0, 4096, 1), true, null).get(10, TimeUnit.SECONDS)).isEqualTo(11);
      assertThat(j.volumes()).containsExactly("vol0");
    }
  }

  @Test
  void replicatedAppendSkipsDuplicatesAndRefusesGaps() throws Exception {
    try (Journal j = Journal.open(JournalConfig.at(dir), SystemTime.WALL)) {
      JournalStream s = j.stream("vol0");
      List<JournalEntry> first = new ArrayList<>();
      for (long q = 1; q <= 5; q++) {
        first.add(JournalEntry.of(q, write(q, 512, (int) q)));
      }
      assertThat(s.appendReplicated(first).get(10, TimeUnit.SECONDS)).isEqualTo(5);
      List<JournalEntry> again = new ArrayList<>(first.subList(3, 5));
      again.add(JournalEntry.of(6, write(6, 512, 6)));
      assertThat(s.appendReplicated(again).get(10, TimeUnit.SECONDS)).isEqualTo(6);
      assertThat(s.appendReplicated(first).get(10, TimeUnit.SECONDS)).isEqualTo(6);
      CompletableFuture<Long> gap =
          s.appendReplicated(List.of(JournalEntry.of(9, write(9, 512, 9))));
      assertThatThrownBy(gap::get)
          .isInstanceOf(ExecutionException.class)
          .hasMessageContaining("expected 7");
      assertThat(s.read(1, Integer.MAX_VALUE))
          .extracting(JournalEntry::seq)
          .containsExactly(1L, 2L, 3L, 4L, 5L, 6L);
    }
  }

  @Test
  void lagAccountingFollowsAcknowledgements() throws Exception {
    try (Journal j = Journal.open(JournalConfig.at(dir), SystemTime.WALL)) {
      JournalStream s = j.stream("vol0");
      byte[] noise = new byte[4096];
      new Random(1).nextBytes(noise);
      long seq = 0;
      for (int i = 0; i < 3; i++) {
        seq =
            s.append(Compression.writeRecord(0, ByteBuffer.wrap(noise), true), false, null)
                .get(10, TimeUnit.SECONDS);
      }
      long per = JournalRecord.HEADER_BYTES + 4096;
      assertThat(s.bytesAfter(0)).isEqualTo(3 * per);
      assertThat(s.bytesAfter(seq)).isZero();
      assertThat(s.oldestMillisAfter(seq)).isEqualTo(-1);
      assertThat(s.oldestMillisAfter(0)).isPositive();
    }
  }

  @Test
  void aSteppedWallClockMovesTheHistoryTimesButNotTheAgeOfTheLag() throws Exception {
    // The wall clock jumps 95 s ahead (an operator, NTP) right after a write: the write's time in
    // the history stays what it was, and the lag behind a reader without it is as old as the
    // monotonic clock says, not 95 s older.
    java.util.concurrent.atomic.AtomicLong wall =
        new java.util.concurrent.atomic.AtomicLong(1_000_000);
    java.util.concurrent.atomic.AtomicLong mono = new java.util.concurrent.atomic.AtomicLong(-7);
    java.time.InstantSource clock = () -> java.time.Instant.ofEpochMilli(wall.get());
    try (Journal j = Journal.open(JournalConfig.at(dir), clock, mono::get)) {
      JournalStream s = j.stream("vol0");
      long written = s.append(write(0, 4096, 7), false, null).get(10, TimeUnit.SECONDS);
      assertThat(s.writeLagAgeMillis(written - 1)).isZero();
      wall.addAndGet(95_000);
      mono.addAndGet(1_500_000_000L);
      assertThat(s.oldestWriteMillisAfter(written - 1)).isEqualTo(1_000_000);
      assertThat(s.writeLagAgeMillis(written - 1)).as("age of the lag").isEqualTo(1_500);
      assertThat(s.writeLagAgeMillis(written)).as("no write after it").isEqualTo(-1);
      wall.addAndGet(-300_000); // and far back
      mono.addAndGet(500_000_000L);
      assertThat(s.writeLagAgeMillis(written - 1)).isEqualTo(2_000);
    }
  }

  @Test
  void verificationPointsAreNeitherTheNewestWriteNorLagNorItsAge() throws Exception {
    // An idle volume whose history grows only by verification points a minute after its last
    // write: its newest write, the lag behind a reader who has that write and the lag's age stay
    // those of the write, across a restart too.
    java.util.concurrent.atomic.AtomicLong now =
        new java.util.concurrent.atomic.AtomicLong(1_000_000);
    java.time.InstantSource clock = () -> java.time.Instant.ofEpochMilli(now.get());
    // The monotonic clock moves with the wall clock here: the age the status and the WAN head
    // report (writeLagAgeMillis) reads it.
    NanoClock mono = () -> now.get() * 1_000_000L;
    JournalRecord host = write(0, 4096, 7);
    long written;
    long last;
    try (Journal j = Journal.open(JournalConfig.at(dir), clock, mono)) {
      JournalStream s = j.stream("vol0");
      written = s.append(host, false, null).get(10, TimeUnit.SECONDS);
      now.addAndGet(60_000);
      last = written;
      for (int i = 0; i < 4; i++) {
        long mark =
            s.append(new VerifyPoint.Mark(i << 20, 1 << 20, 1, i == 3).record(), false, null)
                .get(10, TimeUnit.SECONDS);
        last =
            s.append(new VerifyPoint.Sum(i << 20, 1 << 20, mark, 1, 42).record(), false, null)
                .get(10, TimeUnit.SECONDS);
      }
      assertThat(s.lastSeq()).isEqualTo(last).isEqualTo(written + 8);
      assertThat(s.lastWriteSeq())
          .as("newest write after 8 verification points")
          .isEqualTo(written);
      assertThat(s.bytesAfter(written)).as("the history holds the points").isPositive();
      assertThat(s.writeBytesAfter(written)).as("write lag of a reader at the write").isZero();
      assertThat(s.oldestWriteMillisAfter(written)).as("age of that lag").isEqualTo(-1);
      assertThat(s.oldestMillisAfter(written)).isEqualTo(1_060_000);
      // A reader before the write lags by the write alone, since the write was journaled.
      assertThat(s.writeBytesAfter(written - 1)).isEqualTo(host.encode().length);
      assertThat(s.oldestWriteMillisAfter(written - 1)).isEqualTo(1_000_000);
      assertThat(s.writeLagAgeMillis(written)).as("age of that lag, as reported").isEqualTo(-1);
      assertThat(s.writeLagAgeMillis(written - 1))
          .as("a reader before the write: the write's age, not the points'")
          .isEqualTo(60_000);
    }
    try (Journal j = Journal.open(JournalConfig.at(dir), clock, mono)) {
      JournalStream s = j.stream("vol0");
      assertThat(s.lastSeq()).isEqualTo(last);
      assertThat(s.lastWriteSeq()).as("newest write after a restart").isEqualTo(written);
      assertThat(s.writeBytesAfter(written)).as("write lag after a restart").isZero();
      s.truncateAfter(written + 3);
      assertThat(s.lastWriteSeq()).as("newest write after a truncation").isEqualTo(written);
      long next = s.append(write(8192, 4096, 9), false, null).get(10, TimeUnit.SECONDS);
      assertThat(s.lastWriteSeq()).isEqualTo(next).isEqualTo(written + 4);
    }
  }

  @Test
  void compressionPaysOnlyWhenItShrinks() {
    byte[] zeros = new byte[65536];
    JournalRecord z = Compression.writeRecord(0, ByteBuffer.wrap(zeros), true);
    assertThat(z.codec()).isEqualTo(JournalRecord.Codec.LZ4);
    assertThat(z.payload().length).isLessThan(1024);
    assertThat(Compression.data(JournalRecord.decode(z.encode()))).isEqualTo(zeros);
    byte[] noise = new byte[65536];
    new Random(7).nextBytes(noise);
    JournalRecord n = Compression.writeRecord(0, ByteBuffer.wrap(noise), true);
    assertThat(n.codec()).isEqualTo(JournalRecord.Codec.NONE);
    assertThat(Compression.data(n)).isEqualTo(noise);
  }

  @Test
  void readsAreTheSameFromTheInMemoryTailAndFromRocksDb() throws Exception {
    int n =
        (int) (JournalConfig.DEFAULT_TAIL_CACHE_BYTES >> 20)
            + 16; // more MiB entries than the tail holds
    try (Journal j = Journal.open(JournalConfig.at(dir), SystemTime.WALL)) {
      JournalStream s = j.stream("vol0");
      byte[] noise = new byte[1 << 20];
      for (int i = 1; i <= n; i++) {
        noise[0] = (byte) i;
        s.append(Compression.writeRecord(i * 4096L, ByteBuffer.wrap(noise), false), false, null);
      }
      s.sync().get(30, TimeUnit.SECONDS);
      long seq = 1;
      while (seq <= n) {
        List<JournalEntry> got = s.read(seq, 3 << 20);
        assertThat(got).as("read from seq %d", seq).isNotEmpty();
        for (JournalEntry e : got) {
          assertThat(e.seq()).isEqualTo(seq);
          JournalRecord r = e.record();
          assertThat(r.offset()).isEqualTo(seq * 4096L);
          assertThat(r.payload()[0]).isEqualTo((byte) seq);
          seq++;
        }
      }
      assertThat(s.read(n + 1, 1 << 20)).isEmpty();
    }
  }

  @Test
  void everyPayloadSizeAroundTheProbeRoundTrips() {
    Random r = new Random(3);
    for (int len : new int[] {0, 1, 511, 512, 513, 700, 1023, 1024, 1025, 2048, 4096, 65537}) {
      byte[] noise = new byte[len];
      r.nextBytes(noise);
      byte[] zeros = new byte[len];
      for (byte[] data : new byte[][] {noise, zeros}) {
        JournalRecord rec =
            JournalRecord.decode(Compression.encodeWrite(4096, ByteBuffer.wrap(data), true));
        assertThat(rec.length()).isEqualTo(len);
        assertThat(Compression.data(rec)).as("payload of %d bytes", len).isEqualTo(data);
      }
    }
  }

  @Test
  void malformedRecordsAreRejectedWithAReason() {
    assertThatThrownBy(() -> JournalRecord.decode(new byte[3]))
        .isInstanceOf(MalformedRecordException.class)
        .hasMessageContaining("shorter than its header");
    byte[] bad = JournalRecord.trim(0, 4096).encode();
    bad[0] = 9;
    assertThatThrownBy(() -> JournalRecord.decode(bad)).hasMessageContaining("version 9");
    byte[] kind = JournalRecord.trim(0, 4096).encode();
    kind[1] = 42;
    assertThatThrownBy(() -> JournalRecord.decode(kind))
        .hasMessageContaining("unknown record kind 42");
    JournalRecord lz =
        new JournalRecord(
            JournalRecord.Kind.WRITE, 0, 4096, JournalRecord.Codec.LZ4, new byte[] {1, 2, 3});
    assertThatThrownBy(() -> Compression.data(lz)).isInstanceOf(MalformedRecordException.class);
  }
}
