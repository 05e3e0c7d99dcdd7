package io.kagami.replicator.nbd;

import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * A deliberately simple, blocking NBD client for tests: it speaks the protocol byte by byte as the
 * test says, so tests can also say it wrong. Every read times out after 10 s, so a server that
 * never answers fails the test instead of hanging it.
 */
final class RawNbdClient implements AutoCloseable {
  static final int TIMEOUT_MS = 10_000;

  /** An option reply during the handshake. */
  record OptionReply(int option, int type, byte[] data) {
    String text() {
      return new String(data, StandardCharsets.UTF_8);
    }
  }

  /** What NBD_OPT_GO / NBD_OPT_INFO said about an export. */
  record ExportInfo(
      long size,
      int flags,
      int minimum,
      int preferred,
      int maximum,
      String name,
      String description) {}

  /** A simple reply; {@code data} is empty unless a READ succeeded. */
  record Reply(int error, long cookie, byte[] data) {}

  private final Socket socket;
  private final DataInputStream in;
  private final DataOutputStream out;
  private final Map<Long, Integer> readLengths = new HashMap<>();
  private long nextCookie = 1;
  final int handshakeFlags;

  private RawNbdClient(Socket socket) throws IOException {
    this.socket = socket;
    socket.setSoTimeout(TIMEOUT_MS);
    socket.setTcpNoDelay(true);
    this.in = new DataInputStream(socket.getInputStream());
    this.out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream(), 1 << 16));
    long magic = in.readLong();
    long opt = in.readLong();
    if (magic != NbdProtocol.NBDMAGIC || opt != NbdProtocol.IHAVEOPT) {
      throw new IOException(String.format("not an NBD newstyle greeting: %016x %016x", magic, opt));
    }
    this.handshakeFlags = in.readUnsignedShort();
  }

  /** Connects and reads the greeting; the handshake is up to the caller. */
  static RawNbdClient connect(int port) throws IOException {
    return new RawNbdClient(new Socket("127.0.0.1", port));
  }

  /**
   * Connects, negotiates fixed newstyle without zeroes, and enters transmission with NBD_OPT_GO.
   */
  static RawNbdClient open(int port, String export) throws IOException {
    RawNbdClient c = connect(port);
    c.clientFlags(NbdProtocol.CLIENT_FLAG_FIXED_NEWSTYLE | NbdProtocol.CLIENT_FLAG_NO_ZEROES);
    c.go(export, NbdProtocol.INFO_BLOCK_SIZE);
    return c;
  }

  void clientFlags(int flags) throws IOException {
    out.writeInt(flags);
    out.flush();
  }

  void option(int option, byte[] data) throws IOException {
    out.writeLong(NbdProtocol.IHAVEOPT);
    out.writeInt(option);
    out.writeInt(data.length);
    out.write(data);
    out.flush();
  }

  OptionReply optionReply() throws IOException {
    long magic = in.readLong();
    if (magic != NbdProtocol.OPTION_REPLY_MAGIC) {
      throw new IOException(String.format("bad option reply magic %016x", magic));
    }
    int option = in.readInt();
    int type = in.readInt();
    int length = in.readInt();
    byte[] data = in.readNBytes(length);
    if (data.length != length) {
      throw new EOFException("option reply cut short");
    }
    return new OptionReply(option, type, data);
  }

  static byte[] goData(String name, int... infos) {
    byte[] n = name.getBytes(StandardCharsets.UTF_8);
    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 + n.length + 2 + 2 * infos.length);
    b.putInt(n.length).put(n).putShort((short) infos.length);
    for (int i : infos) {
      b.putShort((short) i);
    }
    return b.array();
  }

  /** NBD_OPT_GO; returns what the server said, or throws with the error reply. */
  ExportInfo go(String name, int... infos) throws IOException {
    return infoOrGo(NbdProtocol.OPT_GO, name, infos);
  }

  ExportInfo info(String name, int... infos) throws IOException {
    return infoOrGo(NbdProtocol.OPT_INFO, name, infos);
  }

  private ExportInfo infoOrGo(int option, String name, int... infos) throws IOException {
    option(option, goData(name, infos));
    long size = -1;
    int flags = 0;
    int min = 0;
    int pref = 0;
    int max = 0;
    String canonical = null;
    String description = null;
    while (true) {
      OptionReply r = optionReply();
      if (r.option() != option) {
        throw new IOException("reply to option " + r.option() + " while waiting for " + option);
      }
      if (r.type() == NbdProtocol.REP_ACK) {
        return new ExportInfo(size, flags, min, pref, max, canonical, description);
      }
      if (r.type() != NbdProtocol.REP_INFO) {
        throw new NbdOptionError(r);
      }
      java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(r.data());
      int info = b.getShort() & 0xffff;
      switch (info) {
        case NbdProtocol.INFO_EXPORT -> {
          size = b.getLong();
          flags = b.getShort() & 0xffff;
        }
        case NbdProtocol.INFO_BLOCK_SIZE -> {
          min = b.getInt();
          pref = b.getInt();
          max = b.getInt();
        }
        case NbdProtocol.INFO_NAME ->
            canonical = new String(r.data(), 2, r.data().length - 2, StandardCharsets.UTF_8);
        case NbdProtocol.INFO_DESCRIPTION ->
            description = new String(r.data(), 2, r.data().length - 2, StandardCharsets.UTF_8);
        default -> throw new IOException("unknown info type " + info);
      }
    }
  }

  /** An error reply to an option. */
  static final class NbdOptionError extends IOException {
    final OptionReply reply;

    NbdOptionError(OptionReply reply) {
      super(
          String.format(
              "option %d answered with 0x%08x: %s", reply.option(), reply.type(), reply.text()));
      this.reply = reply;
    }
  }

  /** Sends a request header (and the payload, for WRITE); returns its cookie. */
  long send(int type, int flags, long offset, long length, byte[] payload) throws IOException {
    long cookie = nextCookie++;
    sendWithCookie(type, flags, cookie, offset, length, payload);
    return cookie;
  }

  void sendWithCookie(int type, int flags, long cookie, long offset, long length, byte[] payload)
      throws IOException {
    if (type == NbdProtocol.CMD_READ) {
      readLengths.put(cookie, (int) length);
    }
    out.writeInt(NbdProtocol.REQUEST_MAGIC);
    out.writeShort(flags);
    out.writeShort(type);
    out.writeLong(cookie);
    out.writeLong(offset);
    out.writeInt((int) length);
    if (payload != null) {
      out.write(payload);
    }
    out.flush();
  }

  /** Reads the next reply, whichever request it answers. */
  Reply reply() throws IOException {
    int magic = in.readInt();
    if (magic != NbdProtocol.SIMPLE_REPLY_MAGIC) {
      throw new IOException(String.format("bad reply magic %08x", magic));
    }
    int error = in.readInt();
    long cookie = in.readLong();
    Integer readLength = readLengths.remove(cookie);
    byte[] data = new byte[0];
    if (error == 0 && readLength != null) {
      data = in.readNBytes(readLength);
      if (data.length != readLength) {
        throw new EOFException("READ reply cut short");
      }
    }
    return new Reply(error, cookie, data);
  }

  /** Sends one request and returns its reply (nothing else may be outstanding). */
  Reply call(int type, int flags, long offset, long length, byte[] payload) throws IOException {
    long cookie = send(type, flags, offset, length, payload);
    Reply r = reply();
    if (r.cookie() != cookie) {
      throw new IOException("reply for cookie " + r.cookie() + " while waiting for " + cookie);
    }
    return r;
  }

  Reply write(long offset, byte[] data) throws IOException {
    return call(NbdProtocol.CMD_WRITE, 0, offset, data.length, data);
  }

  Reply read(long offset, int length) throws IOException {
    return call(NbdProtocol.CMD_READ, 0, offset, length, null);
  }

  void sendRaw(byte[] bytes) throws IOException {
    out.write(bytes);
    out.flush();
  }

  byte[] readRaw(int n) throws IOException {
    byte[] b = in.readNBytes(n);
    if (b.length != n) {
      throw new EOFException("wanted " + n + " bytes, the stream ended after " + b.length);
    }
    return b;
  }

  void disconnect() throws IOException {
    send(NbdProtocol.CMD_DISC, 0, 0, 0, null);
  }

  /**
   * True once the server closed the connection (EOF or reset); false if it is still open after 10
   * s.
   */
  boolean closedByServer() throws IOException {
    InputStream s = socket.getInputStream();
    byte[] buf = new byte[8192];
    try {
      while (s.read(buf) >= 0) {
        // discard whatever is still in flight
      }
      return true;
    } catch (SocketTimeoutException e) {
      return false;
    } catch (SocketException reset) {
      return true;
    }
  }

  /** The client's port: the server logs the peer as 127.0.0.1:this. */
  int localPort() {
    return socket.getLocalPort();
  }

  void shutdownOutput() throws IOException {
    socket.shutdownOutput();
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
