package io.kagami.testkit.nbd;

import io.kagami.clock.SystemTime;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.time.Instant;

/**
 * A plain TCP connection to an NBD server with no protocol logic: tests write whatever bytes they
 * like (bad magic, oversized options, truncated requests) and read back what the server answers, or
 * wait for it to hang up. Every read is bounded by the connection's read timeout.
 *
 * <p>Not thread-safe: one test thread drives it. {@link NbdTestClient} uses it for its handshake.
 */
public final class RawNbdConnection implements AutoCloseable {
  private final Socket socket;
  private final DataInputStream in;
  private final DataOutputStream out;
  private final Duration readTimeout;

  private RawNbdConnection(Socket socket, Duration readTimeout) throws IOException {
    this.socket = socket;
    this.readTimeout = readTimeout;
    this.in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 1 << 16));
    this.out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream(), 1 << 16));
  }

  /**
   * Connects to {@code server}; each later read fails with {@link SocketTimeoutException} after
   * {@code readTimeout}.
   */
  public static RawNbdConnection open(InetSocketAddress server, Duration readTimeout)
      throws IOException {
    Socket socket = new Socket();
    try {
      socket.setTcpNoDelay(true);
      socket.connect(server, Math.toIntExact(Math.max(1, readTimeout.toMillis())));
      socket.setSoTimeout(Math.toIntExact(Math.max(1, readTimeout.toMillis())));
      return new RawNbdConnection(socket, readTimeout);
    } catch (IOException | RuntimeException e) {
      socket.close();
      throw e;
    }
  }

  /** Writes {@code bytes} verbatim and flushes. */
  public RawNbdConnection send(byte[] bytes) throws IOException {
    out.write(bytes);
    out.flush();
    return this;
  }

  /** Reads exactly {@code n} bytes; {@link EOFException} if the server hangs up first. */
  public byte[] readExactly(int n) throws IOException {
    byte[] b = new byte[n];
    in.readFully(b);
    return b;
  }

  public long readLong() throws IOException {
    return in.readLong();
  }

  public int readInt() throws IOException {
    return in.readInt();
  }

  public int readUnsignedShort() throws IOException {
    return in.readUnsignedShort();
  }

  /**
   * Reads and discards whatever the server still sends until it closes the connection (end of
   * stream or reset). Returns true if that happened within {@code timeout}, false if the connection
   * is still open then.
   */
  public boolean awaitServerClose(Duration timeout) throws IOException {
    Instant deadline = SystemTime.WALL.instant().plus(timeout);
    byte[] sink = new byte[8192];
    try {
      while (true) {
        long left = Duration.between(SystemTime.WALL.instant(), deadline).toMillis();
        if (left <= 0) {
          return false;
        }
        socket.setSoTimeout(Math.toIntExact(left));
        if (in.read(sink) < 0) {
          return true;
        }
      }
    } catch (SocketTimeoutException e) {
      return false;
    } catch (IOException e) {
      // A reset (the server closed with our bytes unread) is a hang-up too.
      return true;
    } finally {
      if (!socket.isClosed()) {
        socket.setSoTimeout(Math.toIntExact(Math.max(1, readTimeout.toMillis())));
      }
    }
  }

  /** Closes our sending side only (TCP FIN); the server sees end of stream. */
  public void shutdownOutput() throws IOException {
    out.flush();
    socket.shutdownOutput();
  }

  public InetSocketAddress localAddress() {
    return (InetSocketAddress) socket.getLocalSocketAddress();
  }

  Socket socket() {
    return socket;
  }

  DataInputStream in() {
    return in;
  }

  DataOutputStream out() {
    return out;
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
