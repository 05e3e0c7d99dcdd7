package io.kagami.testkit.toxi;

import io.kagami.clock.SystemTime;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.SplittableRandom;

/** Client-side helpers for proxy tests: connect, read with bounds, measure, fingerprint. */
final class Wire {
  private Wire() {}

  static Socket connect(InetSocketAddress address) throws IOException {
    Socket socket = new Socket();
    socket.setTcpNoDelay(true);
    socket.connect(address, 5_000);
    return socket;
  }

  /**
   * Reads exactly {@code length} bytes, failing if they do not all arrive within {@code within}.
   */
  static byte[] readExactly(Socket socket, int length, Duration within) throws IOException {
    long deadline = SystemTime.NANO.nanoTime() + within.toNanos();
    byte[] result = new byte[length];
    int filled = 0;
    InputStream in = socket.getInputStream();
    while (filled < length) {
      long left = deadline - SystemTime.NANO.nanoTime();
      if (left <= 0) {
        throw new SocketTimeoutException(
            "only " + filled + " of " + length + " bytes arrived within " + within);
      }
      socket.setSoTimeout((int) Math.max(1, left / 1_000_000));
      int n = in.read(result, filled, length - filled);
      if (n < 0) {
        throw new IOException("connection closed after " + filled + " of " + length + " bytes");
      }
      filled += n;
    }
    return result;
  }

  /** What a reader saw until the end of the stream. */
  record Received(byte[] bytes, int reads, long endNanos) {}

  /** Reads until EOF, failing if it does not come within {@code within}. */
  static Received readToEnd(Socket socket, Duration within) throws IOException {
    long deadline = SystemTime.NANO.nanoTime() + within.toNanos();
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    byte[] buffer = new byte[64 * 1024];
    int reads = 0;
    InputStream in = socket.getInputStream();
    while (true) {
      long left = deadline - SystemTime.NANO.nanoTime();
      if (left <= 0) {
        throw new SocketTimeoutException(
            "no end of stream within "
                + within
                + " ("
                + bytes.size()
                + " bytes in "
                + reads
                + " reads)");
      }
      socket.setSoTimeout((int) Math.max(1, left / 1_000_000));
      int n = in.read(buffer);
      if (n < 0) {
        return new Received(bytes.toByteArray(), reads, SystemTime.NANO.nanoTime());
      }
      reads++;
      bytes.write(buffer, 0, n);
    }
  }

  /** True if nothing at all arrives (no data, no EOF) during {@code quiet}. */
  static boolean staysSilent(Socket socket, Duration quiet) throws IOException {
    socket.setSoTimeout((int) quiet.toMillis());
    try {
      socket.getInputStream().read();
      return false; // data or EOF
    } catch (SocketTimeoutException silent) {
      return true;
    }
  }

  /** Milliseconds for {@code payload} to come back through an echo upstream. */
  static long echoRoundTripMillis(Socket socket, byte[] payload, Duration within)
      throws IOException {
    long start = SystemTime.NANO.nanoTime();
    socket.getOutputStream().write(payload);
    readExactly(socket, payload.length, within);
    return (SystemTime.NANO.nanoTime() - start) / 1_000_000;
  }

  static byte[] randomBytes(long seed, int length) {
    byte[] bytes = new byte[length];
    SplittableRandom random = new SplittableRandom(seed);
    for (int i = 0; i < length; i++) {
      bytes[i] = (byte) random.nextInt(256);
    }
    return bytes;
  }

  static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError("every JDK has SHA-256", e);
    }
  }
}
