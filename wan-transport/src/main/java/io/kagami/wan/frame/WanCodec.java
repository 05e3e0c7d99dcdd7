package io.kagami.wan.frame;

import io.kagami.journal.JournalEntry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageCodec;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Exception;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;

/**
 * The WAN wire format, protocol version {@value #VERSION}, as a Netty codec. Every frame is
 *
 * <pre>
 * offset  size  field
 * 0       4     length: bytes that follow (type + body), 1 .. the configured maximum; u32
 * 4       1     type: 1 HELLO, 2 WELCOME, 3 REFUSE, 4 BATCH, 5 ACK, 6 HEARTBEAT, 7 RESYNC,
 *               8 REGION, 9 REGIONS_DURABLE, 10 RESYNC_END, 11 REGION_SUM, 12 REGION_WANTED,
 *               13 HANDOVER, 14 HANDED_OVER
 * 5       n     body, n = length - 1
 * </pre>
 *
 * Bodies (integers big-endian and unsigned unless said; {@code str} = u16 byte count + UTF-8):
 *
 * <pre>
 * type       direction          body
 * HELLO      primary → standby  u32 magic 0x4B474D49 ("KGMI") | u16 version | str sourceSiteId
 *                               | u16 n | n × (str volume | i64 sizeBytes | i64 generation
 *                               | i64 priorGeneration | i64 priorGenerationEnd)
 * WELCOME    standby → primary  str standbySiteId | u16 n | n × (str volume | i64 lastDurableSeq
 *                               | i64 generation | u32 r | r × (i64 offset | i64 length))
 * REFUSE     either             str reason (then the sender closes the connection)
 * BATCH      primary → standby  str volume | u8 flags | u32 entriesLength | entries (to frame end)
 * ACK        standby → primary  str volume | i64 durableSeq
 * HEARTBEAT  either             u16 n | n × (str volume | i64 lastJournaledSeq | i64 unackedBytes
 *                               | i64 oldestUnackedMillis); n = 0 from a standby
 * RESYNC     primary → standby  str volume | i64 baseSeq
 * REGION     primary → standby  str volume | i64 offset | u8 flags | u32 length | data (to frame end)
 * REGIONS_DURABLE standby → primary  str volume | i64 count (regions since the last RESYNC)
 * RESYNC_END primary → standby  str volume | i64 consistentAtSeq
 * REGION_SUM primary → standby  str volume | i64 offset | u32 length | 16 bytes checksum
 * REGION_WANTED standby → primary  str volume | i64 offset
 * HANDOVER   primary → standby  u16 n | n × (str volume | i64 endSeq)
 * HANDED_OVER standby → primary (empty)
 *
 * BATCH flags   bit 0: entries are one LZ4 block that decompresses to exactly entriesLength
 *                      bytes; clear: entries are entriesLength bytes as they are. Other bits: 0.
 * BATCH entries u32 count (at least 1) | count × (i64 seq | u32 len | len bytes)
 *               seqs are consecutive and at least 1; each entry's bytes are the journal's
 *               encoded record ({@code JournalRecord.encode()}), carried unchanged.
 * REGION flags  bit 0: data is one LZ4 block decompressing to exactly length bytes; bit 1: the
 *               region is zeroes and no data follows. Neither: length bytes as they are.
 * </pre>
 *
 * <p>Resynchronization (after history overflowed, or for a new standby): RESYNC, then REGIONs in
 * any number, acknowledged by REGIONS_DURABLE counts, then RESYNC_END; history BATCHes follow from
 * the RESYNC's base. A full copy first compares: REGION_SUMs (each counted like a REGION), answered
 * by REGION_WANTED for the regions the standby's copy differs in, which a second pass sends.
 * Version 2 added these six frames.
 *
 * <p>Version 3 added roles that change: a WELCOME's volume may list <em>diverged</em> ranges (a
 * returning old primary's writes after the fork, discarded there, which the primary must copy), and
 * a planned switchover ends the link with HANDOVER (every volume's last seq, all acknowledged)
 * answered by HANDED_OVER once the standby recorded itself as the new primary.
 *
 * <p>Version 4: a HEARTBEAT carries the sender's journal heads (a primary's last journaled seq,
 * unacknowledged bytes and their age per volume), so a standby that loses its primary can say how
 * far behind it was at the last contact instead of showing a lag of 0.
 *
 * <p>Version 5: BATCH entries may carry the journal's verification records (kinds VERIFY and
 * VERIFY_SUM, see {@code io.kagami.journal.VerifyPoint}); no frame changed, but a version-4 standby
 * would refuse such a record as an unknown kind mid-stream, so the handshake refuses it first.
 *
 * <p>Versioning: the magic and the version are the first fields of HELLO in every version, so a
 * standby can always refuse a version it does not speak with a precise reason; everything after
 * them may change in a later version. WELCOME is only sent after the version was accepted.
 *
 * <p>One role: this class is the wire format, the byte tables above beside the one exhaustive
 * encode switch and the one decode switch that implement them, so a reviewer checks a frame's
 * layout, its writer and its reader on one screen and a new message type cannot be half-added.
 * Splitting it by message would scatter the format across files; its length is the tables'.
 *
 * <p>Compression: records are LZ4-compressed one by one when they enter the journal and are never
 * re-encoded here; a BATCH body as a whole is additionally LZ4-compressed when that makes it
 * smaller (headers, small and zero-filled writes still shrink), and sent as it is otherwise.
 *
 * <p>Rejection: anything else — a length of 0 or over the maximum, an unknown type, bad magic, an
 * unsupported version, a field running past the end of its frame, trailing bytes, an LZ4 block that
 * is corrupt or decompresses to another size, non-consecutive sequence numbers — is a {@link
 * MalformedFrameException} whose message names the frame and the field. After the first one, the
 * decoder discards all further input on that connection, so it is reported once.
 *
 * <p>Not sharable: one instance per channel (the decoder keeps the partial frame).
 */
public final class WanCodec extends ByteToMessageCodec<WanMessage> {
  public static final int MAGIC = 0x4b474d49; // "KGMI"
  public static final int VERSION = 5;

  /** Volumes one HEARTBEAT may list (a site has far fewer). */
  public static final int MAX_HEARTBEAT_VOLUMES = 4096;

  /**
   * Most diverged ranges one volume's WELCOME entry may list; more are sent as the whole volume.
   */
  public static final int MAX_DIVERGED_RANGES = 4096;

  /** Smallest maximum frame size a link may be configured with. */
  public static final int MIN_MAX_FRAME_BYTES = 64 << 10;

  static final int HELLO = 1;
  static final int WELCOME = 2;
  static final int REFUSE = 3;
  static final int BATCH = 4;
  static final int ACK = 5;
  static final int HEARTBEAT = 6;
  static final int RESYNC = 7;
  static final int REGION = 8;
  static final int REGIONS_DURABLE = 9;
  static final int RESYNC_END = 10;
  static final int REGION_SUM = 11;
  static final int REGION_WANTED = 12;
  static final int HANDOVER = 13;
  static final int HANDED_OVER = 14;
  static final int FLAG_ZERO = 2;
  static final int FLAG_LZ4 = 1;

  /** Bytes of a BATCH entry besides its record: seq and length. */
  static final int ENTRY_OVERHEAD = Long.BYTES + Integer.BYTES;

  private static final int MAX_REASON_CHARS = 1000;

  private static final LZ4Factory LZ4 = LZ4Factory.fastestInstance();
  private static final LZ4Compressor COMPRESSOR = LZ4.fastCompressor();
  // The safe decompressor never reads or writes outside the given ranges, whatever the input.
  private static final LZ4SafeDecompressor DECOMPRESSOR = LZ4.safeDecompressor();

  private final int maxFrameBytes;
  private boolean failed;

  public WanCodec(int maxFrameBytes) {
    super(WanMessage.class);
    if (maxFrameBytes < MIN_MAX_FRAME_BYTES) {
      throw new IllegalArgumentException(
          "maximum frame size " + maxFrameBytes + " is below " + MIN_MAX_FRAME_BYTES);
    }
    this.maxFrameBytes = maxFrameBytes;
  }

  // ---- encoding ----

  /**
   * Encodes {@code msg} into a new buffer from {@code alloc}, length prefix included; the caller
   * owns (and must write or release) it. Lets the shipper encode and compress batches on its own
   * thread rather than the event loop.
   */
  public static ByteBuf encode(ByteBufAllocator alloc, WanMessage msg) {
    if (msg instanceof WanMessage.Batch b
        && carriesLargeRecords(b)
        && !worthCompressing(entriesProbe(b), entriesLength(b))) {
      return encodeByReference(alloc, b);
    }
    ByteBuf out = alloc.buffer(estimate(msg));
    try {
      write(msg, out);
      return out;
    } catch (RuntimeException e) {
      out.release();
      throw e;
    }
  }

  /** Records at least this large are not copied into a BATCH frame but referenced by it. */
  static final int REFERENCED_RECORD_BYTES = 64 << 10;

  private static boolean carriesLargeRecords(WanMessage.Batch b) {
    for (JournalEntry e : b.entries()) {
      if (e.encoded().length >= REFERENCED_RECORD_BYTES) {
        return true;
      }
    }
    return false;
  }

  /**
   * The first {@value #PROBE_BYTES} bytes of a batch's entries section, as the frame would carry
   * them.
   */
  private static ByteBuffer entriesProbe(WanMessage.Batch b) {
    ByteBuffer probe = ByteBuffer.allocate(PROBE_BYTES);
    probe.putInt(b.entries().size());
    for (JournalEntry e : b.entries()) {
      if (probe.remaining() < Long.BYTES + Integer.BYTES) {
        break;
      }
      probe.putLong(e.seq()).putInt(e.encoded().length);
      probe.put(e.encoded(), 0, Math.min(probe.remaining(), e.encoded().length));
      if (!probe.hasRemaining()) {
        break;
      }
    }
    return probe.clear(); // all of it: a tail too short for another entry's header stays zero
  }

  /**
   * A BATCH frame, byte for byte what {@link #write} produces uncompressed, that refers to its
   * large records' arrays instead of copying them: headers and small records in one buffer, each
   * large record a component of its own. Why: the frame copy was one more pass over every byte
   * shipped, and TLS reads the records where they are. The arrays are the journal's, which nobody
   * changes once written.
   */
  private static ByteBuf encodeByReference(ByteBufAllocator alloc, WanMessage.Batch b) {
    int rawLength = entriesLength(b);
    CompositeByteBuf frame = alloc.compositeBuffer(2 * b.entries().size() + 2);
    ByteBuf part = alloc.buffer(256);
    try {
      part.writeInt(0);
      writeBatchHeader(b, rawLength, part);
      part.writeInt(b.entries().size());
      for (JournalEntry e : b.entries()) {
        byte[] record = e.encoded();
        part.writeLong(e.seq()).writeInt(record.length);
        if (record.length < REFERENCED_RECORD_BYTES) {
          part.writeBytes(record);
          continue;
        }
        frame.addComponent(true, part);
        part = null;
        frame.addComponent(true, Unpooled.wrappedBuffer(record));
        part = alloc.buffer(256);
      }
      frame.addComponent(true, part);
      part = null;
      frame.setInt(0, frame.readableBytes() - 4);
      return frame;
    } catch (RuntimeException e) {
      if (part != null) {
        part.release();
      }
      frame.release();
      throw e;
    }
  }

  @Override
  protected void encode(ChannelHandlerContext ctx, WanMessage msg, ByteBuf out) {
    write(msg, out);
  }

  private static int estimate(WanMessage msg) {
    if (msg instanceof WanMessage.Batch b) {
      return 64 + 3 * b.volume().length() + COMPRESSOR.maxCompressedLength(entriesLength(b));
    }
    if (msg instanceof WanMessage.Region r && r.data() != null) {
      return 64 + 3 * r.volume().length() + COMPRESSOR.maxCompressedLength(r.length());
    }
    return 256;
  }

  /** Appends {@code msg} as one frame (length prefix included) to {@code out}. */
  public static void write(WanMessage msg, ByteBuf out) {
    int start = out.writerIndex();
    out.writeInt(0);
    switch (msg) {
      case WanMessage.Hello h -> {
        out.writeByte(HELLO).writeInt(MAGIC).writeShort(h.version());
        str(out, h.siteId(), "site id");
        count(out, h.volumes().size(), "volumes");
        for (WanMessage.VolumeOffer v : h.volumes()) {
          str(out, v.name(), "volume name");
          out.writeLong(v.sizeBytes())
              .writeLong(v.generation())
              .writeLong(v.priorGeneration())
              .writeLong(v.priorGenerationEnd());
        }
      }
      case WanMessage.Welcome w -> {
        out.writeByte(WELCOME);
        str(out, w.siteId(), "site id");
        count(out, w.volumes().size(), "volumes");
        for (WanMessage.VolumeResume v : w.volumes()) {
          str(out, v.name(), "volume name");
          out.writeLong(v.lastDurableSeq()).writeLong(v.generation());
          if (v.diverged().size() > MAX_DIVERGED_RANGES) {
            throw new IllegalArgumentException(
                "volume "
                    + v.name()
                    + " lists "
                    + v.diverged().size()
                    + " diverged ranges, over "
                    + MAX_DIVERGED_RANGES);
          }
          out.writeInt(v.diverged().size());
          for (WanMessage.Range r : v.diverged()) {
            out.writeLong(r.offset()).writeLong(r.length());
          }
        }
      }
      case WanMessage.Refuse r -> {
        out.writeByte(REFUSE);
        String reason =
            r.reason().length() > MAX_REASON_CHARS
                ? r.reason().substring(0, MAX_REASON_CHARS) + "…"
                : r.reason();
        str(out, reason, "reason");
      }
      case WanMessage.Batch b -> writeBatch(b, out);
      case WanMessage.Ack a -> {
        out.writeByte(ACK);
        str(out, a.volume(), "volume name");
        out.writeLong(a.durableSeq());
      }
      case WanMessage.Heartbeat h -> {
        out.writeByte(HEARTBEAT);
        out.writeShort(h.heads().size());
        for (WanMessage.VolumeHead v : h.heads()) {
          str(out, v.volume(), "volume name");
          out.writeLong(v.lastJournaledSeq())
              .writeLong(v.unackedBytes())
              .writeLong(v.oldestUnackedMillis());
        }
      }
      case WanMessage.Resync r -> {
        out.writeByte(RESYNC);
        str(out, r.volume(), "volume name");
        out.writeLong(r.baseSeq());
      }
      case WanMessage.Region r -> writeRegion(r, out);
      case WanMessage.RegionsDurable d -> {
        out.writeByte(REGIONS_DURABLE);
        str(out, d.volume(), "volume name");
        out.writeLong(d.count());
      }
      case WanMessage.ResyncEnd e -> {
        out.writeByte(RESYNC_END);
        str(out, e.volume(), "volume name");
        out.writeLong(e.consistentAtSeq());
      }
      case WanMessage.RegionSum r -> {
        out.writeByte(REGION_SUM);
        str(out, r.volume(), "volume name");
        out.writeLong(r.offset()).writeInt(r.length()).writeBytes(r.sum());
      }
      case WanMessage.RegionWanted w -> {
        out.writeByte(REGION_WANTED);
        str(out, w.volume(), "volume name");
        out.writeLong(w.offset());
      }
      case WanMessage.Handover h -> {
        out.writeByte(HANDOVER);
        count(out, h.volumes().size(), "volumes");
        for (WanMessage.VolumeEnd v : h.volumes()) {
          str(out, v.name(), "volume name");
          out.writeLong(v.endSeq());
        }
      }
      case WanMessage.HandedOver h -> out.writeByte(HANDED_OVER);
    }
    out.setInt(start, out.writerIndex() - start - 4);
  }

  private static int entriesLength(WanMessage.Batch b) {
    long n = Integer.BYTES + b.rawBytes();
    if (n > Integer.MAX_VALUE - 1024) {
      throw new IllegalArgumentException(
          "BATCH of volume " + b.volume() + " is too large to encode (" + n + " bytes)");
    }
    return (int) n;
  }

  /**
   * A BATCH's type, volume, flags (none yet) and entries length; returns where the flags byte is.
   */
  private static int writeBatchHeader(WanMessage.Batch b, int rawLength, ByteBuf out) {
    out.writeByte(BATCH);
    str(out, b.volume(), "volume name");
    int flagsAt = out.writerIndex();
    out.writeByte(0).writeInt(rawLength);
    return flagsAt;
  }

  private static void writeBatch(WanMessage.Batch b, ByteBuf out) {
    int rawLength = entriesLength(b);
    int flagsAt = writeBatchHeader(b, rawLength, out);
    // The entries go straight into the frame (one copy); only when a probe of their start says
    // LZ4 pays are they compressed and the frame's tail replaced by the smaller block. Journal
    // records are compressed on entry already, so most batches are sent as they are.
    int entriesAt = out.writerIndex();
    out.ensureWritable(rawLength);
    out.writeInt(b.entries().size());
    for (JournalEntry e : b.entries()) {
      out.writeLong(e.seq()).writeInt(e.encoded().length).writeBytes(e.encoded());
    }
    if (out.nioBufferCount() != 1) {
      return;
    }
    ByteBuffer src = out.nioBuffer(entriesAt, rawLength);
    int max = COMPRESSOR.maxCompressedLength(rawLength);
    if (!worthCompressing(src, rawLength)) {
      return;
    }
    ByteBuf packed = out.alloc().buffer(max);
    try {
      int n = COMPRESSOR.compress(src, 0, rawLength, packed.nioBuffer(0, max), 0, max);
      if (pays(rawLength, n)) {
        out.writerIndex(entriesAt);
        out.writeBytes(packed, 0, n);
        out.setByte(flagsAt, FLAG_LZ4);
      }
    } finally {
      packed.release();
    }
  }

  private static void writeRegion(WanMessage.Region r, ByteBuf out) {
    out.writeByte(REGION);
    str(out, r.volume(), "volume name");
    out.writeLong(r.offset());
    if (r.data() == null) {
      out.writeByte(FLAG_ZERO).writeInt(r.length());
      return;
    }
    int flagsAt = out.writerIndex();
    out.writeByte(0).writeInt(r.length());
    int max = COMPRESSOR.maxCompressedLength(r.length());
    out.ensureWritable(max);
    if (worthCompressing(ByteBuffer.wrap(r.data()), r.length()) && out.nioBufferCount() == 1) {
      ByteBuffer dst = out.nioBuffer(out.writerIndex(), max);
      int packed = COMPRESSOR.compress(ByteBuffer.wrap(r.data()), 0, r.length(), dst, 0, max);
      if (pays(r.length(), packed)) {
        out.writerIndex(out.writerIndex() + packed);
        out.setByte(flagsAt, FLAG_LZ4);
        return;
      }
    }
    out.writeBytes(r.data());
  }

  private static final int PROBE_BYTES = 4096;

  /**
   * Probes the first {@value #PROBE_BYTES} bytes of {@code src}: incompressible data (the journal
   * compressed what compresses) then costs a 4 KiB attempt, not one over the whole length.
   */
  private static boolean worthCompressing(ByteBuffer src, int length) {
    int probe = Math.min(length, PROBE_BYTES);
    if (probe == length) {
      return true; // the probe would be the whole attempt
    }
    int max = COMPRESSOR.maxCompressedLength(probe);
    return pays(probe, COMPRESSOR.compress(src, 0, probe, ByteBuffer.allocate(max), 0, max));
  }

  /** Compression is kept only when it saves at least an eighth. */
  private static boolean pays(int in, int out) {
    return out <= in - (in >>> 3);
  }

  private static void str(ByteBuf out, String s, String what) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    if (b.length > 0xffff) {
      throw new IllegalArgumentException(
          what + " of " + b.length + " bytes is too long for the WAN protocol (at most 65535)");
    }
    out.writeShort(b.length).writeBytes(b);
  }

  private static void count(ByteBuf out, int n, String what) {
    if (n > 0xffff) {
      throw new IllegalArgumentException(
          n + " " + what + " are more than the WAN protocol carries (at most 65535)");
    }
    out.writeShort(n);
  }

  // ---- decoding ----

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    if (failed) {
      in.skipBytes(in.readableBytes());
      return;
    }
    if (in.readableBytes() < 4) {
      return;
    }
    long length = in.getUnsignedInt(in.readerIndex());
    if (length < 1 || length > maxFrameBytes) {
      throw failure(
          in,
          "frame length "
              + length
              + " is outside 1.."
              + maxFrameBytes
              + " (not a Kagami WAN peer, or a corrupt stream)");
    }
    if (in.readableBytes() < 4 + length) {
      // Grow the cumulation to the whole frame at once rather than in doubling steps, each of
      // which copies what arrived so far (batches are up to megabytes). Not forced: a buffer that
      // cannot grow is left to the cumulator.
      in.ensureWritable((int) (4 + length - in.readableBytes()), false);
      return;
    }
    in.skipBytes(4);
    ByteBuf frame = in.readSlice((int) length);
    try {
      out.add(decodeFrame(frame, maxFrameBytes));
    } catch (MalformedFrameException e) {
      throw failure(in, e.getMessage());
    }
  }

  @Override
  protected void decodeLast(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    decode(ctx, in, out);
    if (!failed && in.isReadable()) {
      String got =
          in.readableBytes() < 4
              ? in.readableBytes() + " bytes of a frame's length"
              : in.readableBytes()
                  - 4
                  + " of "
                  + in.getUnsignedInt(in.readerIndex())
                  + " bytes of a frame";
      throw failure(in, "connection closed in the middle of a frame (" + got + " received)");
    }
  }

  private MalformedFrameException failure(ByteBuf in, String message) {
    failed = true;
    in.skipBytes(in.readableBytes());
    return new MalformedFrameException(message);
  }

  /**
   * Decodes one frame's type and body (the length prefix already removed); {@code frame} is read to
   * its end. Public for tests and tools.
   */
  public static WanMessage decodeFrame(ByteBuf frame, int maxFrameBytes) {
    Body f = new Body(frame, "frame");
    int type = f.u8("type");
    WanMessage m =
        switch (type) {
          case HELLO -> decodeHello(new Body(frame, "HELLO"));
          case WELCOME -> {
            Body b = new Body(frame, "WELCOME");
            String site = b.str("site id");
            int n = b.u16("volume count");
            List<WanMessage.VolumeResume> vols = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
              String name = b.str("volume " + (i + 1) + "'s name");
              long durable = b.nonNegative("volume " + name + "'s last durable seq");
              long generation = b.i64("volume " + name + "'s generation");
              long ranges =
                  Integer.toUnsignedLong(b.u32("volume " + name + "'s diverged range count"));
              if (ranges > MAX_DIVERGED_RANGES) {
                throw new MalformedFrameException(
                    "WELCOME lists "
                        + ranges
                        + " diverged ranges of volume "
                        + name
                        + ", over "
                        + MAX_DIVERGED_RANGES);
              }
              List<WanMessage.Range> diverged = new ArrayList<>((int) ranges);
              for (int r = 0; r < ranges; r++) {
                long offset = b.nonNegative("volume " + name + "'s diverged range offset");
                long length = b.nonNegative("volume " + name + "'s diverged range length");
                if (length == 0 || offset + length < 0) {
                  throw new MalformedFrameException(
                      "WELCOME lists an empty or overflowing diverged range of volume "
                          + name
                          + " at offset "
                          + offset);
                }
                diverged.add(new WanMessage.Range(offset, length));
              }
              vols.add(new WanMessage.VolumeResume(name, durable, generation, diverged));
            }
            yield new WanMessage.Welcome(site, vols);
          }
          case REFUSE -> new WanMessage.Refuse(new Body(frame, "REFUSE").str("reason"));
          case BATCH -> decodeBatch(new Body(frame, "BATCH"), maxFrameBytes);
          case ACK -> {
            Body b = new Body(frame, "ACK");
            String volume = b.str("volume name");
            yield new WanMessage.Ack(volume, b.nonNegative("durable seq of volume " + volume));
          }
          case HEARTBEAT -> {
            Body b = new Body(frame, "HEARTBEAT");
            int n = b.u16("volume count");
            if (n > MAX_HEARTBEAT_VOLUMES) {
              throw new MalformedFrameException(
                  "HEARTBEAT lists " + n + " volumes, over " + MAX_HEARTBEAT_VOLUMES);
            }
            List<WanMessage.VolumeHead> heads = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
              String volume = b.str("volume " + (i + 1) + "'s name");
              heads.add(
                  new WanMessage.VolumeHead(
                      volume,
                      b.nonNegative("last journaled seq of volume " + volume),
                      b.nonNegative("unacknowledged bytes of volume " + volume),
                      b.nonNegative("age of the oldest unacknowledged entry of volume " + volume)));
            }
            yield new WanMessage.Heartbeat(heads);
          }
          case RESYNC -> {
            Body b = new Body(frame, "RESYNC");
            String volume = b.str("volume name");
            yield new WanMessage.Resync(volume, b.nonNegative("base seq of volume " + volume));
          }
          case REGION -> decodeRegion(new Body(frame, "REGION"), maxFrameBytes);
          case REGIONS_DURABLE -> {
            Body b = new Body(frame, "REGIONS_DURABLE");
            String volume = b.str("volume name");
            yield new WanMessage.RegionsDurable(
                volume, b.nonNegative("region count of volume " + volume));
          }
          case RESYNC_END -> {
            Body b = new Body(frame, "RESYNC_END");
            String volume = b.str("volume name");
            yield new WanMessage.ResyncEnd(
                volume, b.nonNegative("consistent-at seq of volume " + volume));
          }
          case REGION_SUM -> {
            Body b = new Body(frame, "REGION_SUM");
            String volume = b.str("volume name");
            long offset = b.nonNegative("offset");
            long length = Integer.toUnsignedLong(b.u32("length"));
            if (length < 1 || length > Integer.MAX_VALUE) {
              throw new MalformedFrameException(
                  "REGION_SUM of volume "
                      + volume
                      + " at offset "
                      + offset
                      + " declares "
                      + length
                      + " bytes");
            }
            b.need(RegionSum.BYTES, "checksum");
            byte[] sum = new byte[RegionSum.BYTES];
            b.buf.readBytes(sum);
            yield new WanMessage.RegionSum(volume, offset, (int) length, sum);
          }
          case REGION_WANTED -> {
            Body b = new Body(frame, "REGION_WANTED");
            String volume = b.str("volume name");
            yield new WanMessage.RegionWanted(volume, b.nonNegative("offset"));
          }
          case HANDOVER -> {
            Body b = new Body(frame, "HANDOVER");
            int n = b.u16("volume count");
            List<WanMessage.VolumeEnd> ends = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
              String name = b.str("volume " + (i + 1) + "'s name");
              ends.add(
                  new WanMessage.VolumeEnd(name, b.nonNegative("volume " + name + "'s end seq")));
            }
            yield new WanMessage.Handover(ends);
          }
          case HANDED_OVER -> new WanMessage.HandedOver();
          default ->
              throw new MalformedFrameException(
                  "unknown frame type "
                      + type
                      + " (this side speaks protocol version "
                      + VERSION
                      + ")");
        };
    if (frame.isReadable()) {
      throw new MalformedFrameException(
          typeName(type) + " has " + frame.readableBytes() + " trailing bytes");
    }
    return m;
  }

  private static WanMessage.Hello decodeHello(Body b) {
    int magic = b.u32("magic");
    if (magic != MAGIC) {
      throw new MalformedFrameException(
          String.format(
              "HELLO has magic 0x%08x, expected 0x%08x (not a Kagami WAN peer)", magic, MAGIC));
    }
    int version = b.u16("protocol version");
    if (version != VERSION) {
      // Checked before anything else is read: a later version may lay out the rest differently.
      b.buf.skipBytes(b.buf.readableBytes());
      throw new MalformedFrameException(
          "protocol version "
              + version
              + " is not supported (this side speaks version "
              + VERSION
              + ")");
    }
    String site = b.str("site id");
    int n = b.u16("volume count");
    List<WanMessage.VolumeOffer> vols = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      String name = b.str("volume " + (i + 1) + "'s name");
      long size = b.nonNegative("volume " + name + "'s size");
      long generation = b.i64("volume " + name + "'s generation");
      long prior = b.i64("volume " + name + "'s prior generation");
      vols.add(
          new WanMessage.VolumeOffer(
              name,
              size,
              generation,
              prior,
              b.nonNegative("volume " + name + "'s prior generation end")));
    }
    return new WanMessage.Hello(version, site, vols);
  }

  private static WanMessage.Batch decodeBatch(Body b, int maxFrameBytes) {
    String volume = b.str("volume name");
    String what = "BATCH of volume " + volume;
    int flags = b.u8("flags");
    if ((flags & ~FLAG_LZ4) != 0) {
      throw new MalformedFrameException(
          what + " has unknown flags 0x" + Integer.toHexString(flags));
    }
    long rawLength = Integer.toUnsignedLong(b.u32("entries length"));
    if (rawLength < Integer.BYTES || rawLength > maxFrameBytes) {
      throw new MalformedFrameException(
          what + " declares " + rawLength + " bytes of entries (must be 4.." + maxFrameBytes + ")");
    }
    int carried = b.buf.readableBytes();
    ByteBuf buf;
    if ((flags & FLAG_LZ4) != 0) {
      lz4CanExpand(what, carried, rawLength);
      byte[] entries = new byte[(int) rawLength];
      ByteBuffer src = b.buf.nioBuffer(b.buf.readerIndex(), carried);
      int got;
      try {
        got = DECOMPRESSOR.decompress(src, 0, carried, ByteBuffer.wrap(entries), 0, entries.length);
      } catch (LZ4Exception e) {
        throw new MalformedFrameException(
            what
                + ": LZ4 block of "
                + carried
                + " bytes is corrupt or decompresses to more than the declared "
                + rawLength
                + " bytes");
      }
      if (got != rawLength) {
        throw new MalformedFrameException(
            what
                + ": LZ4 block decompresses to "
                + got
                + " bytes, but "
                + rawLength
                + " were declared");
      }
      b.buf.skipBytes(carried);
      buf = Unpooled.wrappedBuffer(entries);
    } else {
      if (carried != rawLength) {
        throw new MalformedFrameException(
            what + " declares " + rawLength + " bytes of entries but carries " + carried);
      }
      // Each record is copied out of the frame once, into its own array; copying the whole batch
      // into one array first cost as much again (a zeroed allocation and a pass over every byte).
      buf = b.buf.retain();
    }
    try {
      Body e = new Body(buf, what);
      long count = Integer.toUnsignedLong(e.u32("entry count"));
      if (count < 1 || count > (rawLength - Integer.BYTES) / ENTRY_OVERHEAD) {
        throw new MalformedFrameException(
            what + " claims " + count + " entries in " + rawLength + " bytes");
      }
      List<JournalEntry> list = new ArrayList<>((int) count);
      long expected = 0;
      for (int i = 0; i < count; i++) {
        long seq = e.i64("entry " + (i + 1) + "'s seq");
        if (seq < 1 || (i > 0 && seq != expected)) {
          throw new MalformedFrameException(
              what
                  + ": entry "
                  + (i + 1)
                  + " has seq "
                  + seq
                  + (i > 0 ? ", expected " + expected : ", but seqs start at 1"));
        }
        long len = Integer.toUnsignedLong(e.u32("length of entry " + seq));
        e.need(len, "entry " + seq + "'s record");
        byte[] record = new byte[(int) len];
        buf.readBytes(record);
        list.add(new JournalEntry(seq, record));
        expected = seq + 1;
      }
      if (buf.isReadable()) {
        throw new MalformedFrameException(
            what + " has " + buf.readableBytes() + " bytes after its last entry");
      }
      return new WanMessage.Batch(volume, list);
    } finally {
      buf.release();
    }
  }

  private static WanMessage.Region decodeRegion(Body b, int maxFrameBytes) {
    String volume = b.str("volume name");
    long offset = b.nonNegative("offset");
    String what = "REGION of volume " + volume + " at offset " + offset;
    int flags = b.u8("flags");
    if ((flags & ~(FLAG_LZ4 | FLAG_ZERO)) != 0 || flags == (FLAG_LZ4 | FLAG_ZERO)) {
      throw new MalformedFrameException(
          what + " has invalid flags 0x" + Integer.toHexString(flags));
    }
    long length = Integer.toUnsignedLong(b.u32("length"));
    if (length < 1 || length > maxFrameBytes) {
      throw new MalformedFrameException(
          what + " declares " + length + " bytes (must be 1.." + maxFrameBytes + ")");
    }
    int carried = b.buf.readableBytes();
    if ((flags & FLAG_ZERO) != 0) {
      return new WanMessage.Region(volume, offset, (int) length, null);
    }
    if ((flags & FLAG_LZ4) != 0) {
      lz4CanExpand(what, carried, length);
    } else if (carried != length) {
      // Checked before allocating: an 18-byte frame declaring 64 MiB was allocated first (found by
      // WanFrameFuzzTest).
      throw new MalformedFrameException(
          what + " declares " + length + " bytes but carries " + carried);
    }
    byte[] data = new byte[(int) length];
    if ((flags & FLAG_LZ4) != 0) {
      int got;
      try {
        got =
            DECOMPRESSOR.decompress(
                b.buf.nioBuffer(b.buf.readerIndex(), carried),
                0,
                carried,
                ByteBuffer.wrap(data),
                0,
                data.length);
      } catch (LZ4Exception e) {
        throw new MalformedFrameException(
            what
                + ": LZ4 block of "
                + carried
                + " bytes is corrupt or decompresses to more than the declared "
                + length
                + " bytes");
      }
      if (got != length) {
        throw new MalformedFrameException(
            what
                + ": LZ4 block decompresses to "
                + got
                + " bytes, but "
                + length
                + " were declared");
      }
      b.buf.skipBytes(carried);
    } else {
      b.buf.readBytes(data);
    }
    return new WanMessage.Region(volume, offset, (int) length, data);
  }

  /**
   * An LZ4 block expands at most {@value #LZ4_MAX_EXPANSION} times (a match of n bytes costs at
   * least n / 255 bytes of length fields, plus its token and offset).
   */
  static final int LZ4_MAX_EXPANSION = 255;

  /**
   * Refuses a declared uncompressed size that {@code carried} bytes of LZ4 cannot produce, before
   * anything is allocated for it: without this, a 20-byte frame declaring the maximum frame size
   * (64 MiB by default) made the decoder allocate that much before the block was found wanting
   * (found by WanLz4FuzzTest).
   */
  private static void lz4CanExpand(String what, int carried, long declared) {
    if (declared > (long) LZ4_MAX_EXPANSION * carried) {
      throw new MalformedFrameException(
          what
              + ": LZ4 block of "
              + carried
              + " bytes cannot decompress to the declared "
              + declared
              + " bytes (LZ4 expands at most "
              + LZ4_MAX_EXPANSION
              + " times)");
    }
  }

  static String typeName(int type) {
    return switch (type) {
      case HELLO -> "HELLO";
      case WELCOME -> "WELCOME";
      case REFUSE -> "REFUSE";
      case BATCH -> "BATCH";
      case ACK -> "ACK";
      case HEARTBEAT -> "HEARTBEAT";
      case RESYNC -> "RESYNC";
      case REGION -> "REGION";
      case REGIONS_DURABLE -> "REGIONS_DURABLE";
      case RESYNC_END -> "RESYNC_END";
      case REGION_SUM -> "REGION_SUM";
      case REGION_WANTED -> "REGION_WANTED";
      case HANDOVER -> "HANDOVER";
      case HANDED_OVER -> "HANDED_OVER";
      default -> "frame type " + type;
    };
  }

  /** Reads a body's fields, naming the field and frame when the body ends too soon. */
  private record Body(ByteBuf buf, String frame) {
    void need(long n, String field) {
      if (buf.readableBytes() < n) {
        throw new MalformedFrameException(
            frame
                + " is truncated: "
                + field
                + " needs "
                + n
                + " bytes, "
                + buf.readableBytes()
                + " left");
      }
    }

    int u8(String field) {
      need(1, field);
      return buf.readUnsignedByte();
    }

    int u16(String field) {
      need(2, field);
      return buf.readUnsignedShort();
    }

    int u32(String field) {
      need(4, field);
      return buf.readInt();
    }

    long i64(String field) {
      need(8, field);
      return buf.readLong();
    }

    long nonNegative(String field) {
      long v = i64(field);
      if (v < 0) {
        throw new MalformedFrameException(frame + ": " + field + " is negative (" + v + ")");
      }
      return v;
    }

    String str(String field) {
      int n = u16(field + "'s length");
      need(n, field);
      return buf.readCharSequence(n, StandardCharsets.UTF_8).toString();
    }
  }
}
