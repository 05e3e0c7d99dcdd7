package io.kagami.testkit;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A small NBD client for tests: fixed-newstyle handshake with NBD_OPT_GO, pipelined requests whose
 * futures complete by cookie when the (possibly out-of-order) simple reply arrives. An error reply
 * completes the future with {@link NbdError}; a dropped connection fails every pending future.
 */
public final class NbdTestClient implements AutoCloseable {
  public static final int CMD_READ = 0;
  public static final int CMD_WRITE = 1;
  public static final int CMD_DISC = 2;
  public static final int CMD_FLUSH = 3;
  public static final int CMD_TRIM = 4;
  public static final int CMD_WRITE_ZEROES = 6;
  public static final int FLAG_FUA = 1;

  /** An NBD error reply. */
  public static final class NbdError extends IOException {
    private final int errno;

    public NbdError(int errno) {
      super("NBD error " + errno);
      this.errno = errno;
    }

    public int errno() {
      return errno;
    }
  }

  private record Pending(int type, int length, CompletableFuture<byte[]> result) {}

  private final Socket socket;
  private final DataOutputStream out;
  private final DataInputStream in;
  private final long size;
  private final int flags;
  private final AtomicLong cookies = new AtomicLong();
  private final Map<Long, Pending> pending = new ConcurrentHashMap<>();
  private final Thread reader;
  private volatile IOException broken;

  private NbdTestClient(Socket socket, long size, int flags) throws IOException {
    this.socket = socket;
    this.out = new DataOutputStream(new java.io.BufferedOutputStream(socket.getOutputStream(), 1 << 16));
    this.in = new DataInputStream(new java.io.BufferedInputStream(socket.getInputStream(), 1 << 16));
    this.size = size;
    this.flags = flags;
    this.reader = Thread.ofPlatform().name("nbd-test-client-reader").daemon(true).start(this::readReplies);
  }

  /** Connects and negotiates {@code export} with NBD_OPT_GO. */
  public static NbdTestClient connect(String host, int port, String export) throws IOException {
    Socket s = new Socket();
    s.connect(new InetSocketAddress(host, port), 10_000);
    s.setTcpNoDelay(true);
    s.setSoTimeout(60_000);
    DataInputStream in = new DataInputStream(s.getInputStream());
    DataOutputStream out = new DataOutputStream(s.getOutputStream());
    if (in.readLong() != 0x4e42444d41474943L || in.readLong() != 0x49484156454f5054L) {
      s.close();
      throw new IOException("not an NBD newstyle server");
    }
    int serverFlags = in.readUnsignedShort();
    out.writeInt(1 | (serverFlags & 2));
    byte[] name = export.getBytes(StandardCharsets.UTF_8);
    out.writeLong(0x49484156454f5054L);
    out.writeInt(7);
    out.writeInt(4 + name.length + 2);
    out.writeInt(name.length);
    out.write(name);
    out.writeShort(0);
    out.flush();
    long size = -1;
    int tflags = 0;
    while (true) {
      long magic = in.readLong();
      int opt = in.readInt();
      int type = in.readInt();
      int len = in.readInt();
      byte[] data = in.readNBytes(len);
      if (magic != 0x3e889045565a9L || opt != 7) {
        s.close();
        throw new IOException("bad option reply");
      }
      if (type == 1) {
        break;
      }
      if (type < 0) {
        s.close();
        throw new IOException("server refused export " + export + ": " + new String(data, StandardCharsets.UTF_8));
      }
      if (type == 3 && len >= 12 && data[0] == 0 && data[1] == 0) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(data);
        b.getShort();
        size = b.getLong();
        tflags = b.getShort() & 0xffff;
      }
    }
    s.setSoTimeout(0);
    return new NbdTestClient(s, size, tflags);
  }

  public long size() {
    return size;
  }

  public int transmissionFlags() {
    return flags;
  }

  public boolean readOnly() {
    return (flags & 2) != 0;
  }

  public CompletableFuture<byte[]> read(long offset, int length) {
    return send(CMD_READ, 0, offset, length, null);
  }

  public CompletableFuture<byte[]> write(long offset, byte[] data, boolean fua) {
    return send(CMD_WRITE, fua ? FLAG_FUA : 0, offset, data.length, data);
  }

  public CompletableFuture<byte[]> flush() {
    return send(CMD_FLUSH, 0, 0, 0, null);
  }

  public CompletableFuture<byte[]> trim(long offset, int length) {
    return send(CMD_TRIM, 0, offset, length, null);
  }

  public CompletableFuture<byte[]> writeZeroes(long offset, int length) {
    return send(CMD_WRITE_ZEROES, 0, offset, length, null);
  }

  /** Sends any request header (and payload), for bad-input tests too. */
  public synchronized CompletableFuture<byte[]> send(int type, int cmdFlags, long offset, int length, byte[] payload) {
    CompletableFuture<byte[]> f = new CompletableFuture<>();
    if (broken != null) {
      f.completeExceptionally(broken);
      return f;
    }
    long cookie = cookies.incrementAndGet();
    pending.put(cookie, new Pending(type, length, f));
    try {
      out.writeInt(0x25609513);
      out.writeShort(cmdFlags);
      out.writeShort(type);
      out.writeLong(cookie);
      out.writeLong(offset);
      out.writeInt(length);
      if (payload != null) {
        out.write(payload);
      }
      out.flush();
    } catch (IOException e) {
      pending.remove(cookie);
      f.completeExceptionally(e);
    }
    return f;
  }

  /** Writes raw bytes to the connection (bad-input tests). */
  public synchronized void sendRaw(byte[] bytes) throws IOException {
    out.write(bytes);
    out.flush();
  }

  /** True once the server closed the connection. */
  public boolean closedByServer() {
    return broken != null;
  }

  private void readReplies() {
    try {
      while (true) {
        int magic = in.readInt();
        if (magic != 0x67446698) {
          throw new IOException(String.format("bad reply magic 0x%08x", magic));
        }
        int error = in.readInt();
        long cookie = in.readLong();
        Pending p = pending.remove(cookie);
        if (p == null) {
          throw new IOException("reply for unknown cookie " + cookie);
        }
        if (error != 0) {
          p.result.completeExceptionally(new NbdError(error));
        } else if (p.type == CMD_READ) {
          p.result.complete(in.readNBytes(p.length));
        } else {
          p.result.complete(new byte[0]);
        }
      }
    } catch (IOException e) {
      broken = e;
      for (Pending p : pending.values()) {
        p.result.completeExceptionally(e);
      }
      pending.clear();
    }
  }

  /** Sends DISC and closes. */
  @Override
  public void close() throws IOException {
    try {
      if (broken == null) {
        send(CMD_DISC, 0, 0, 0, null);
      }
    } finally {
      socket.close();
      try {
        reader.join(5000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

}
