package io.kagami.testkit.nbd;

import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * A small NBD client for tests, over a plain blocking socket: fixed-newstyle handshake with {@code
 * NBD_OPT_GO}, then pipelined requests. Each request method returns at once with a future that a
 * reader thread completes when the simple reply carrying the request's handle arrives, in whatever
 * order the server answers.
 *
 * <p>Guarantees: requests go out in the order the methods are called (header and payload are
 * written under one lock, so threads may share a client); an error reply completes the request's
 * future exceptionally with {@link NbdErrorException} and leaves the connection usable; when the
 * connection ends (server hangs up, protocol violation, {@link #close()}) every pending future
 * fails with an {@link IOException} saying why, and {@link #closed()} completes. Structured replies
 * are never negotiated. The client checks nothing against the advertised transmission flags, so
 * tests can send what a server must refuse; {@link #request}, {@link #sendRaw} and {@link
 * #expectReply} go further for bad-input tests.
 *
 * <p>Futures complete on the reader thread: dependent actions that block should use the {@code
 * ...Async} variants.
 *
 * <p>One role: one NBD connection as a test drives it. Its length is one method per NBD command and
 * per bad-input probe, all sharing the one socket, its write lock and its reply table.
 */
public final class NbdTestClient implements AutoCloseable {
  /** Bound for the handshake and for {@link #close()} waiting for the server to hang up. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);

  private static final long RAW_HANDLE_BIT = 1L << 63;
  private static final int MAX_OPTION_REPLY_BYTES = 1 << 20;
  private static final byte[] NO_DATA = new byte[0];

  /** Block size constraints the server advertised with {@code NBD_INFO_BLOCK_SIZE}. */
  public record BlockSizes(int minimum, int preferred, int maximum) {}

  private record Pending(
      int command,
      long offset,
      long length,
      int readLength,
      CompletableFuture<?> future,
      Consumer<byte[]> onSuccess) {
    void fail(Throwable cause) {
      future.completeExceptionally(cause);
    }
  }

  private final RawNbdConnection connection;
  private final DataOutputStream out;
  private final String uri;
  private final String exportName;
  private final long exportSize;
  private final int transmissionFlags;
  private final BlockSizes blockSizes;
  private final Map<Long, Pending> pending = new ConcurrentHashMap<>();
  private final AtomicLong lastHandle = new AtomicLong();
  private final Object sendLock = new Object();
  private final AtomicBoolean closing = new AtomicBoolean();
  private final CompletableFuture<Void> closed = new CompletableFuture<>();
  private final Thread reader;
  private volatile IOException ended;
  private boolean disconnectSent; // guarded by sendLock

  private NbdTestClient(
      RawNbdConnection connection,
      InetSocketAddress server,
      String exportName,
      long exportSize,
      int transmissionFlags,
      BlockSizes blockSizes)
      throws IOException {
    this.connection = connection;
    this.out = connection.out();
    String host =
        server.getAddress() != null ? server.getAddress().getHostAddress() : server.getHostString();
    this.uri =
        "nbd://"
            + (host.contains(":") ? "[" + host + "]" : host)
            + ":"
            + server.getPort()
            + "/"
            + exportName;
    this.exportName = exportName;
    this.exportSize = exportSize;
    this.transmissionFlags = transmissionFlags;
    this.blockSizes = blockSizes;
    // The reader blocks until a reply arrives or the socket closes; close() bounds the wait.
    connection.socket().setSoTimeout(0);
    this.reader =
        Thread.ofPlatform()
            .name("nbd-test-client-" + connection.localAddress().getPort())
            .daemon(true)
            .unstarted(this::readReplies);
    reader.start();
  }

  /** Connects to {@code host:port} and opens {@code exportName} with {@code NBD_OPT_GO}. */
  public static NbdTestClient connect(String host, int port, String exportName) throws IOException {
    return connect(new InetSocketAddress(host, port), exportName, DEFAULT_TIMEOUT);
  }

  /** Connects to {@code server} and opens {@code exportName} with {@code NBD_OPT_GO}. */
  public static NbdTestClient connect(InetSocketAddress server, String exportName)
      throws IOException {
    return connect(server, exportName, DEFAULT_TIMEOUT);
  }

  /**
   * Connects and negotiates, failing with {@link java.net.SocketTimeoutException} if the server is
   * silent for {@code handshakeTimeout}, and with {@link NbdHandshakeException} if it refuses.
   */
  public static NbdTestClient connect(
      InetSocketAddress server, String exportName, Duration handshakeTimeout) throws IOException {
    RawNbdConnection c = RawNbdConnection.open(server, handshakeTimeout);
    try {
      long magic = c.readLong();
      if (magic != NbdProtocol.NBDMAGIC) {
        throw violation(
            String.format("%s is not an NBD server: greeting starts with 0x%016x", server, magic));
      }
      long style = c.readLong();
      if (style == NbdProtocol.OLDSTYLE_MAGIC) {
        throw new IOException(
            server + " speaks the oldstyle NBD handshake; only fixed newstyle is supported");
      }
      if (style != NbdProtocol.IHAVEOPT) {
        throw violation(String.format("expected IHAVEOPT after NBDMAGIC, got 0x%016x", style));
      }
      int handshakeFlags = c.readUnsignedShort();
      if ((handshakeFlags & NbdProtocol.FLAG_FIXED_NEWSTYLE) == 0) {
        throw new IOException(
            String.format(
                "%s does not offer fixed newstyle negotiation (handshake flags 0x%04x)",
                server, handshakeFlags));
      }
      ByteBuffer clientFlags =
          ByteBuffer.allocate(4)
              .putInt(
                  NbdProtocol.FLAG_C_FIXED_NEWSTYLE
                      | (handshakeFlags & NbdProtocol.FLAG_NO_ZEROES));
      c.send(clientFlags.array());
      c.send(
          NbdProtocol.option(
              NbdProtocol.OPT_GO, NbdProtocol.goData(exportName, NbdProtocol.INFO_BLOCK_SIZE)));
      long size = -1;
      int flags = 0;
      BlockSizes sizes = null;
      while (true) {
        long replyMagic = c.readLong();
        int option = c.readInt();
        int type = c.readInt();
        int length = c.readInt();
        if (replyMagic != NbdProtocol.OPTION_REPLY_MAGIC) {
          throw violation(String.format("bad option reply magic 0x%016x", replyMagic));
        }
        if (option != NbdProtocol.OPT_GO) {
          throw violation(
              "option reply for option " + option + " while NBD_OPT_GO (7) was pending");
        }
        if (length < 0 || length > MAX_OPTION_REPLY_BYTES) {
          throw violation("option reply of " + Integer.toUnsignedString(length) + " bytes");
        }
        byte[] data = c.readExactly(length);
        if (type == NbdProtocol.REP_ACK) {
          break;
        }
        if ((type & NbdProtocol.REP_FLAG_ERROR) != 0) {
          throw new NbdHandshakeException(
              exportName, type, new String(data, StandardCharsets.UTF_8));
        }
        if (type == NbdProtocol.REP_INFO && length >= 2) {
          ByteBuffer info = ByteBuffer.wrap(data);
          int infoType = Short.toUnsignedInt(info.getShort());
          if (infoType == NbdProtocol.INFO_EXPORT && length >= 12) {
            size = info.getLong();
            flags = Short.toUnsignedInt(info.getShort());
          } else if (infoType == NbdProtocol.INFO_BLOCK_SIZE && length >= 14) {
            sizes = new BlockSizes(info.getInt(), info.getInt(), info.getInt());
          }
        }
        // Anything else (NBD_INFO_NAME, NBD_INFO_DESCRIPTION, unknown infos) is informational.
      }
      if (size < 0) {
        throw violation("server acknowledged NBD_OPT_GO without sending NBD_INFO_EXPORT");
      }
      return new NbdTestClient(c, server, exportName, size, flags, sizes);
    } catch (IOException | RuntimeException e) {
      c.close();
      throw e;
    }
  }

  /**
   * A handle for {@link #sendRaw}/{@link #expectReply}: never equal to one the client allocates
   * itself.
   */
  public static long rawHandle(long n) {
    return RAW_HANDLE_BIT | n;
  }

  public String exportName() {
    return exportName;
  }

  /** Export size in bytes, from {@code NBD_INFO_EXPORT}. */
  public long exportSize() {
    return exportSize;
  }

  /** Transmission flags from {@code NBD_INFO_EXPORT}, e.g. {@link NbdProtocol#FLAG_SEND_FUA}. */
  public int transmissionFlags() {
    return transmissionFlags;
  }

  /**
   * True if every bit of {@code flag} (an {@code NbdProtocol.FLAG_...} transmission flag) was
   * advertised.
   */
  public boolean hasFlag(int flag) {
    return (transmissionFlags & flag) == flag;
  }

  public boolean isReadOnly() {
    return hasFlag(NbdProtocol.FLAG_READ_ONLY);
  }

  /** Block size constraints, if the server sent them. */
  public Optional<BlockSizes> blockSizes() {
    return Optional.ofNullable(blockSizes);
  }

  /** {@code nbd://host:port/export}. */
  public String uri() {
    return uri;
  }

  public CompletableFuture<byte[]> read(long offset, int length) {
    return read(offset, length, 0);
  }

  public CompletableFuture<byte[]> read(long offset, int length, int commandFlags) {
    CompletableFuture<byte[]> f = new CompletableFuture<>();
    send(
        commandFlags,
        NbdProtocol.CMD_READ,
        nextHandle(),
        offset,
        length,
        null,
        length,
        f,
        f::complete);
    return f;
  }

  public CompletableFuture<Void> write(long offset, byte[] data) {
    return write(offset, data, 0);
  }

  /** A WRITE; pass {@link NbdProtocol#CMD_FLAG_FUA} to ask for forced unit access. */
  public CompletableFuture<Void> write(long offset, byte[] data, int commandFlags) {
    return noData(commandFlags, NbdProtocol.CMD_WRITE, offset, data.length, data);
  }

  public CompletableFuture<Void> flush() {
    return noData(0, NbdProtocol.CMD_FLUSH, 0, 0, null);
  }

  public CompletableFuture<Void> trim(long offset, int length) {
    return trim(offset, length, 0);
  }

  public CompletableFuture<Void> trim(long offset, int length, int commandFlags) {
    return noData(commandFlags, NbdProtocol.CMD_TRIM, offset, length, null);
  }

  public CompletableFuture<Void> writeZeroes(long offset, int length) {
    return writeZeroes(offset, length, 0);
  }

  /**
   * A WRITE_ZEROES; flags such as {@link NbdProtocol#CMD_FLAG_FUA} or {@link
   * NbdProtocol#CMD_FLAG_NO_HOLE}.
   */
  public CompletableFuture<Void> writeZeroes(long offset, int length, int commandFlags) {
    return noData(commandFlags, NbdProtocol.CMD_WRITE_ZEROES, offset, length, null);
  }

  /**
   * Sends any well-framed request: header fields exactly as given, followed by {@code payload} (may
   * be null, and need not match {@code length}). The future completes with {@code length} bytes of
   * data for a successful READ, with an empty array otherwise.
   */
  public CompletableFuture<byte[]> request(
      int commandFlags, int type, long offset, int length, byte[] payload) {
    CompletableFuture<byte[]> f = new CompletableFuture<>();
    int readLength = type == NbdProtocol.CMD_READ ? length : 0;
    send(commandFlags, type, nextHandle(), offset, length, payload, readLength, f, f::complete);
    return f;
  }

  /**
   * Sends {@code NBD_CMD_DISC}: the server finishes outstanding requests and hangs up. Later
   * requests fail at once.
   */
  public void disconnect() throws IOException {
    synchronized (sendLock) {
      if (disconnectSent || ended != null) {
        return;
      }
      disconnectSent = true;
      out.write(NbdProtocol.requestHeader(0, NbdProtocol.CMD_DISC, nextHandle(), 0, 0));
      out.flush();
    }
  }

  /**
   * Writes {@code bytes} verbatim into the transmission stream (bad magic, truncated headers ...).
   * Replies the server sends for them are matched only if announced with {@link #expectReply}; any
   * other reply counts as a protocol violation and ends the connection.
   */
  public void sendRaw(byte[] bytes) throws IOException {
    synchronized (sendLock) {
      out.write(bytes);
      out.flush();
    }
  }

  /**
   * Announces a reply with {@code handle} to a request sent with {@link #sendRaw}; on success the
   * reply is expected to carry {@code readLength} bytes of data (0 for anything but READ).
   */
  public CompletableFuture<byte[]> expectReply(long handle, int readLength) {
    CompletableFuture<byte[]> f = new CompletableFuture<>();
    register(handle, new Pending(-1, 0, 0, readLength, f, f::complete));
    return f;
  }

  /** Requests sent whose replies have not arrived. */
  public int inFlight() {
    return pending.size();
  }

  /** Completes when the connection has ended, for whatever reason ({@link #closeReason()}). */
  public CompletableFuture<Void> closed() {
    return closed.copy();
  }

  /** Why the connection ended ("server closed the connection", ...), or empty while it is open. */
  public Optional<String> closeReason() {
    IOException e = ended;
    return e == null ? Optional.empty() : Optional.of(e.getMessage());
  }

  /**
   * Sends {@code NBD_CMD_DISC} unless already sent, waits (bounded) for the server to answer what
   * is outstanding and hang up, then closes the socket. Idempotent; never throws.
   */
  @Override
  public void close() {
    if (!closing.compareAndSet(false, true)) {
      return;
    }
    try {
      try {
        disconnect();
        closed.get(DEFAULT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      } catch (IOException | ExecutionException | TimeoutException e) {
        // The server is gone or slow to hang up: close our side regardless.
      }
      connection.close();
      reader.join(DEFAULT_TIMEOUT);
    } catch (IOException e) {
      // Closing a socket that is already broken.
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      end(new IOException("closed by the client"));
    }
  }

  @Override
  public String toString() {
    return "NbdTestClient[" + uri + "]";
  }

  private CompletableFuture<Void> noData(
      int commandFlags, int type, long offset, int length, byte[] payload) {
    CompletableFuture<Void> f = new CompletableFuture<>();
    send(commandFlags, type, nextHandle(), offset, length, payload, 0, f, data -> f.complete(null));
    return f;
  }

  private long nextHandle() {
    return lastHandle.incrementAndGet();
  }

  private void send(
      int commandFlags,
      int type,
      long handle,
      long offset,
      int length,
      byte[] payload,
      int readLength,
      CompletableFuture<?> f,
      Consumer<byte[]> onSuccess) {
    Pending p = new Pending(type, offset, Integer.toUnsignedLong(length), readLength, f, onSuccess);
    synchronized (sendLock) {
      if (disconnectSent) {
        p.fail(
            new IOException(
                "NBD " + NbdProtocol.commandName(type) + " after NBD_CMD_DISC was sent to " + uri));
        return;
      }
      if (!register(handle, p)) {
        return;
      }
      try {
        out.write(NbdProtocol.requestHeader(commandFlags, type, handle, offset, length));
        if (payload != null) {
          out.write(payload);
        }
        out.flush();
      } catch (IOException e) {
        pending.remove(handle, p);
        p.fail(e);
      }
    }
  }

  /** Adds {@code p} to the pending replies unless the connection has ended (then fails it). */
  private boolean register(long handle, Pending p) {
    if (pending.putIfAbsent(handle, p) != null) {
      p.fail(
          new IllegalArgumentException(
              String.format("a request with handle 0x%x is already in flight", handle)));
      return false;
    }
    // The reader sets `ended` before failing what is pending, so one of us fails p.
    IOException e = ended;
    if (e != null) {
      pending.remove(handle, p);
      p.fail(pendingFailure(e));
      return false;
    }
    return true;
  }

  private void readReplies() {
    var in = connection.in();
    try {
      while (true) {
        int magic = in.readInt();
        if (magic == NbdProtocol.STRUCTURED_REPLY_MAGIC) {
          throw violation("structured reply although none was negotiated");
        }
        if (magic != NbdProtocol.SIMPLE_REPLY_MAGIC) {
          throw violation(String.format("bad reply magic 0x%08x", magic));
        }
        int error = in.readInt();
        long handle = in.readLong();
        Pending p = pending.remove(handle);
        if (p == null) {
          throw violation(
              String.format(
                  "reply (error %d) for handle 0x%x, which no request is waiting for",
                  error, handle));
        }
        if (error != 0) {
          p.fail(new NbdErrorException(error, p.command, p.offset, p.length));
        } else if (p.readLength > 0) {
          byte[] data = new byte[p.readLength];
          in.readFully(data);
          p.onSuccess.accept(data);
        } else {
          p.onSuccess.accept(NO_DATA);
        }
      }
    } catch (EOFException e) {
      end(new IOException(closing.get() ? "closed by the client" : "server closed the connection"));
    } catch (SocketException e) {
      end(
          new IOException(
              closing.get() ? "closed by the client" : "connection lost: " + e.getMessage(), e));
    } catch (IOException e) {
      end(e);
    } finally {
      // Nobody reads replies any more, so the stream is of no use: hang up.
      try {
        connection.close();
      } catch (IOException ignored) {
        // already broken
      }
      end(new IOException("reader stopped"));
    }
  }

  /** Records why the connection ended (first reason wins) and fails everything pending. */
  private void end(IOException reason) {
    synchronized (closed) {
      if (ended == null) {
        ended = reason;
      }
    }
    IOException why = ended;
    for (Map.Entry<Long, Pending> e : pending.entrySet()) {
      if (pending.remove(e.getKey(), e.getValue())) {
        e.getValue().fail(pendingFailure(why));
      }
    }
    closed.complete(null);
  }

  private IOException pendingFailure(IOException why) {
    return new IOException(
        "connection " + uri + " ended before the reply arrived: " + why.getMessage(), why);
  }

  private static IOException violation(String what) {
    return new IOException("NBD protocol violation by the server: " + what);
  }
}
