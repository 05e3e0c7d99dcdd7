package io.kagami.wan.frame;

import io.kagami.journal.JournalEntry;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageCodec;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Exception;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4FastDecompressor;

/**
 * The WAN wire format, protocol version {@value #VERSION}. Every frame is
 *
 * <pre>
 * offset  size  field
 * 0       4     length of type + body (big-endian, at most the configured maximum)
 * 4       1     type: 1 HELLO, 2 WELCOME, 3 REFUSE, 4 BATCH, 5 ACK, 6 HEARTBEAT
 * 5       n     body
 * </pre>
 *
 * Bodies ({@code str} = u16 length + UTF-8; integers big-endian):
 *
 * <pre>
 * HELLO     u32 magic "KGMI" | u16 version | str siteId | u16 n | n × (str volume | u64 sizeBytes)
 * WELCOME   str siteId | u16 n | n × (str volume | u64 lastDurableSeq)
 * REFUSE    str reason
 * BATCH     str volume | u8 flags (bit 0: entries LZ4-compressed) | u32 entriesLength | entries
 *           entries (after decompression) = u32 count | count × (u64 seq | u32 len | len bytes)
 *           each entry's bytes are the journal's encoded record, carried unchanged
 * ACK       str volume | u64 durableSeq
 * HEARTBEAT (empty)
 * </pre>
 *
 * A BATCH's entries are LZ4-compressed as a block when that saves at least an eighth (records are
 * already compressed one by one in the journal, but headers and small writes still shrink).
 * Anything else — unknown type, bad magic, other version, truncated or trailing bytes, a length
 * over the maximum — is a {@link MalformedFrameException} naming what was wrong.
 */
public final class WanCodec extends ByteToMessageCodec<WanMessage> {
  public static final int MAGIC = 0x4b474d49; // "KGMI"
  public static final int VERSION = 1;
  static final int HELLO = 1;
  static final int WELCOME = 2;
  static final int REFUSE = 3;
  static final int BATCH = 4;
  static final int ACK = 5;
  static final int HEARTBEAT = 6;
  private static final int FLAG_LZ4 = 1;
  private static final LZ4Compressor COMPRESSOR = LZ4Factory.fastestInstance().fastCompressor();
  private static final LZ4FastDecompressor DECOMPRESSOR = LZ4Factory.fastestInstance().fastDecompressor();

  private final int maxFrameBytes;

  public WanCodec(int maxFrameBytes) {
    this.maxFrameBytes = maxFrameBytes;
  }

  // ---- encoding ----

  @Override
  protected void encode(ChannelHandlerContext ctx, WanMessage msg, ByteBuf out) {
    int start = out.writerIndex();
    out.writeInt(0);
    switch (msg) {
      case WanMessage.Hello h -> {
        out.writeByte(HELLO).writeInt(MAGIC).writeShort(h.version());
        str(out, h.siteId());
        out.writeShort(h.volumes().size());
        for (WanMessage.VolumeOffer v : h.volumes()) {
          str(out, v.name());
          out.writeLong(v.sizeBytes());
        }
      }
      case WanMessage.Welcome w -> {
        out.writeByte(WELCOME);
        str(out, w.siteId());
        out.writeShort(w.volumes().size());
        for (WanMessage.VolumeResume v : w.volumes()) {
          str(out, v.name());
          out.writeLong(v.lastDurableSeq());
        }
      }
      case WanMessage.Refuse r -> {
        out.writeByte(REFUSE);
        str(out, r.reason().length() > 4000 ? r.reason().substring(0, 4000) : r.reason());
      }
      case WanMessage.Batch b -> encodeBatch(b, out);
      case WanMessage.Ack a -> {
        out.writeByte(ACK);
        str(out, a.volume());
        out.writeLong(a.durableSeq());
      }
      case WanMessage.Heartbeat h -> out.writeByte(HEARTBEAT);
    }
    out.setInt(start, out.writerIndex() - start - 4);
  }

  private static void encodeBatch(WanMessage.Batch b, ByteBuf out) {
    int raw = 4;
    for (JournalEntry e : b.entries()) {
      raw += 12 + e.encoded().length;
    }
    byte[] body = new byte[raw];
    ByteBuffer bb = ByteBuffer.wrap(body);
    bb.putInt(b.entries().size());
    for (JournalEntry e : b.entries()) {
      bb.putLong(e.seq()).putInt(e.encoded().length).put(e.encoded());
    }
    out.writeByte(BATCH);
    str(out, b.volume());
    byte[] packed = new byte[COMPRESSOR.maxCompressedLength(raw)];
    int n = COMPRESSOR.compress(body, 0, raw, packed, 0, packed.length);
    if (n <= raw - (raw >>> 3)) {
      out.writeByte(FLAG_LZ4).writeInt(raw).writeInt(n).writeBytes(packed, 0, n);
    } else {
      out.writeByte(0).writeInt(raw).writeBytes(body);
    }
  }

  private static void str(ByteBuf out, String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    if (b.length > 0xffff) {
      throw new IllegalArgumentException("string too long for the WAN protocol");
    }
    out.writeShort(b.length).writeBytes(b);
  }

  // ---- decoding ----

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    if (in.readableBytes() < 4) {
      return;
    }
    int length = in.getInt(in.readerIndex());
    if (length < 1 || length > maxFrameBytes) {
      throw new MalformedFrameException("frame length " + Integer.toUnsignedString(length) + " is outside 1.." + maxFrameBytes + " (not a Kagami WAN peer, or a corrupt stream)");
    }
    if (in.readableBytes() < 4 + length) {
      return;
    }
    in.skipBytes(4);
    ByteBuf frame = in.readSlice(length);
    out.add(decodeFrame(frame, maxFrameBytes));
  }

  /** Decodes one frame's type and body (no length prefix); public for tests and tools. */
  public static WanMessage decodeFrame(ByteBuf f, int maxFrameBytes) {
    try {
      int type = f.readUnsignedByte();
      WanMessage m =
          switch (type) {
            case HELLO -> {
              int magic = f.readInt();
              if (magic != MAGIC) {
                throw new MalformedFrameException(String.format("HELLO has magic 0x%08x, expected 0x%08x", magic, MAGIC));
              }
              int version = f.readUnsignedShort();
              String site = str(f);
              int n = f.readUnsignedShort();
              List<WanMessage.VolumeOffer> vols = new ArrayList<>();
              for (int i = 0; i < n; i++) {
                vols.add(new WanMessage.VolumeOffer(str(f), f.readLong()));
              }
              yield new WanMessage.Hello(version, site, vols);
            }
            case WELCOME -> {
              String site = str(f);
              int n = f.readUnsignedShort();
              List<WanMessage.VolumeResume> vols = new ArrayList<>();
              for (int i = 0; i < n; i++) {
                vols.add(new WanMessage.VolumeResume(str(f), f.readLong()));
              }
              yield new WanMessage.Welcome(site, vols);
            }
            case REFUSE -> new WanMessage.Refuse(str(f));
            case BATCH -> decodeBatch(f, maxFrameBytes);
            case ACK -> new WanMessage.Ack(str(f), f.readLong());
            case HEARTBEAT -> new WanMessage.Heartbeat();
            default -> throw new MalformedFrameException("unknown frame type " + type);
          };
      if (f.isReadable()) {
        throw new MalformedFrameException("frame type " + type + " has " + f.readableBytes() + " trailing bytes");
      }
      return m;
    } catch (IndexOutOfBoundsException e) {
      throw new MalformedFrameException("frame is truncated: " + e.getMessage());
    }
  }

  private static WanMessage.Batch decodeBatch(ByteBuf f, int maxFrameBytes) {
    String volume = str(f);
    int flags = f.readUnsignedByte();
    int raw = f.readInt();
    if (raw < 4 || raw > 4 * maxFrameBytes) {
      throw new MalformedFrameException("BATCH of volume " + volume + " claims " + Integer.toUnsignedString(raw) + " bytes of entries");
    }
    byte[] body = new byte[raw];
    if ((flags & FLAG_LZ4) != 0) {
      int n = f.readInt();
      if (n < 0 || n != f.readableBytes()) {
        throw new MalformedFrameException("BATCH of volume " + volume + ": compressed length " + n + " does not match the frame");
      }
      byte[] packed = new byte[n];
      f.readBytes(packed);
      try {
        int used = DECOMPRESSOR.decompress(packed, 0, body, 0, raw);
        if (used != n) {
          throw new MalformedFrameException("BATCH of volume " + volume + ": LZ4 block has trailing bytes");
        }
      } catch (LZ4Exception e) {
        throw new MalformedFrameException("BATCH of volume " + volume + ": LZ4 block is corrupt (" + e.getMessage() + ")");
      }
    } else if (flags == 0) {
      f.readBytes(body);
    } else {
      throw new MalformedFrameException("BATCH of volume " + volume + " has unknown flags " + flags);
    }
    ByteBuffer bb = ByteBuffer.wrap(body);
    try {
      int count = bb.getInt();
      if (count < 1 || count > raw / 12) {
        throw new MalformedFrameException("BATCH of volume " + volume + " claims " + count + " entries");
      }
      List<JournalEntry> entries = new ArrayList<>(count);
      long prev = 0;
      for (int i = 0; i < count; i++) {
        long seq = bb.getLong();
        int len = bb.getInt();
        if (len < 0 || len > bb.remaining()) {
          throw new MalformedFrameException("BATCH of volume " + volume + ": entry " + seq + " claims " + len + " bytes");
        }
        if (seq <= 0 || (prev != 0 && seq != prev + 1)) {
          throw new MalformedFrameException("BATCH of volume " + volume + ": seq " + seq + " does not follow " + prev);
        }
        byte[] enc = new byte[len];
        bb.get(enc);
        entries.add(new JournalEntry(seq, enc));
        prev = seq;
      }
      if (bb.hasRemaining()) {
        throw new MalformedFrameException("BATCH of volume " + volume + " has " + bb.remaining() + " trailing bytes");
      }
      return new WanMessage.Batch(volume, entries);
    } catch (java.nio.BufferUnderflowException e) {
      throw new MalformedFrameException("BATCH of volume " + volume + " is truncated");
    }
  }

  private static String str(ByteBuf f) {
    int n = f.readUnsignedShort();
    return f.readCharSequence(n, StandardCharsets.UTF_8).toString();
  }
}
