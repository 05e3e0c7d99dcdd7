package io.kagami.replicator.nbd;

import java.time.Duration;
import java.util.Objects;

/**
 * Settings of an NBD listener, validated once here with messages an operator can act on.
 *
 * <p>The three block sizes are what {@code NBD_INFO_BLOCK_SIZE} advertises and what the server
 * enforces: requests not aligned to {@code minimumBlockSize} and READ/WRITE payloads larger than
 * {@code maximumBlockSize} are refused with {@code NBD_EINVAL}. Payload memory held by one
 * connection is bounded by about {@code maxInFlightBytes} plus one receive buffer.
 *
 * @param bindHost address to listen on, e.g. {@code 127.0.0.1} or {@code 0.0.0.0}
 * @param port TCP port; 0 picks an ephemeral port (see {@link NbdServer#port()})
 * @param minimumBlockSize alignment of every offset and length (power of two, 1 to 64 KiB)
 * @param preferredBlockSize smallest efficient request (power of two, at least 512 and the minimum)
 * @param maximumBlockSize largest READ or WRITE payload (a multiple of the minimum, at least the
 *     preferred size, at most 1 GiB)
 * @param maxInFlightRequests requests of one connection handed to the device at once; beyond it the
 *     connection is not read until some complete (back-pressure instead of unbounded memory)
 * @param maxInFlightBytes READ and WRITE payload bytes of one connection with the device at once
 *     (at least the maximum block size, so that any single request fits); same back-pressure
 * @param maxOptionLength largest handshake option accepted; longer ones end the connection
 * @param handshakeTimeout time a client gets from connecting to choosing an export
 * @param drainTimeout on {@link NbdServer#close()}, time in-flight requests get to complete before
 *     connections are closed regardless
 * @param ioThreads event-loop threads serving connections
 */
public record NbdServerConfig(
    String bindHost,
    int port,
    int minimumBlockSize,
    int preferredBlockSize,
    int maximumBlockSize,
    int maxInFlightRequests,
    long maxInFlightBytes,
    int maxOptionLength,
    Duration handshakeTimeout,
    Duration drainTimeout,
    int ioThreads) {

  public static final int DEFAULT_MINIMUM_BLOCK_SIZE = 512;
  public static final int DEFAULT_PREFERRED_BLOCK_SIZE = 4096;
  public static final int DEFAULT_MAXIMUM_BLOCK_SIZE = 32 << 20;
  public static final int DEFAULT_MAX_IN_FLIGHT_REQUESTS = 128;
  public static final long DEFAULT_MAX_IN_FLIGHT_BYTES = 128L << 20;
  public static final int DEFAULT_MAX_OPTION_LENGTH = 64 << 10;
  public static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(30);
  public static final Duration DEFAULT_DRAIN_TIMEOUT = Duration.ofSeconds(10);
  public static final int DEFAULT_IO_THREADS = 2;

  /** Largest payload accepted at all: a payload is held in memory while the device works on it. */
  public static final int MAXIMUM_BLOCK_SIZE_LIMIT = 1 << 30;

  /**
   * An option must fit at least an NBD_OPT_GO naming the longest export name the protocol allows.
   */
  public static final int MIN_OPTION_LENGTH = 8 << 10;

  public static final int MAX_OPTION_LENGTH_LIMIT = 16 << 20;

  public NbdServerConfig {
    if (bindHost == null || bindHost.isBlank()) {
      throw invalid(
          "the bind host is missing (use e.g. 127.0.0.1, or 0.0.0.0 for every interface)");
    }
    if (port < 0 || port > 65535) {
      throw invalid(
          "port " + port + " is not allowed (must be 0 for an ephemeral port, or 1 to 65535)");
    }
    if (minimumBlockSize < 1
        || minimumBlockSize > 65536
        || Integer.bitCount(minimumBlockSize) != 1) {
      throw invalid(
          "minimum block size "
              + minimumBlockSize
              + " is not allowed (must be a power of two from 1 to 65536)");
    }
    if (Integer.bitCount(preferredBlockSize) != 1
        || preferredBlockSize < Math.max(512, minimumBlockSize)) {
      throw invalid(
          "preferred block size "
              + preferredBlockSize
              + " is not allowed (must be a power of two of at least 512 and at least the minimum block size "
              + minimumBlockSize
              + ")");
    }
    if (maximumBlockSize < preferredBlockSize
        || maximumBlockSize > MAXIMUM_BLOCK_SIZE_LIMIT
        || maximumBlockSize % minimumBlockSize != 0) {
      throw invalid(
          "maximum block size "
              + maximumBlockSize
              + " is not allowed (must be at least the preferred block size "
              + preferredBlockSize
              + ", a multiple of the minimum block size "
              + minimumBlockSize
              + ", and at most "
              + MAXIMUM_BLOCK_SIZE_LIMIT
              + ")");
    }
    if (maxInFlightRequests < 1 || maxInFlightRequests > 65536) {
      throw invalid(
          "max in-flight requests "
              + maxInFlightRequests
              + " is not allowed (must be from 1 to 65536)");
    }
    if (maxInFlightBytes < maximumBlockSize || maxInFlightBytes > (64L << 30)) {
      throw invalid(
          "max in-flight bytes "
              + maxInFlightBytes
              + " is not allowed (must be at least the maximum block size "
              + maximumBlockSize
              + ", so that any request fits, and at most 64 GiB)");
    }
    if (maxOptionLength < MIN_OPTION_LENGTH || maxOptionLength > MAX_OPTION_LENGTH_LIMIT) {
      throw invalid(
          "max option length "
              + maxOptionLength
              + " is not allowed (must be from "
              + MIN_OPTION_LENGTH
              + " bytes, so that any export name fits, to "
              + MAX_OPTION_LENGTH_LIMIT
              + ")");
    }
    Objects.requireNonNull(handshakeTimeout, "handshakeTimeout");
    Objects.requireNonNull(drainTimeout, "drainTimeout");
    if (handshakeTimeout.isNegative() || handshakeTimeout.isZero()) {
      throw invalid("handshake timeout " + handshakeTimeout + " is not allowed (must be positive)");
    }
    if (drainTimeout.isNegative()) {
      throw invalid("drain timeout " + drainTimeout + " is not allowed (must be zero or positive)");
    }
    if (ioThreads < 1 || ioThreads > 1024) {
      throw invalid("I/O threads " + ioThreads + " is not allowed (must be from 1 to 1024)");
    }
  }

  /** A listener on {@code bindHost:port} with every other setting at its default. */
  public static NbdServerConfig listen(String bindHost, int port) {
    return new NbdServerConfig(
        bindHost,
        port,
        DEFAULT_MINIMUM_BLOCK_SIZE,
        DEFAULT_PREFERRED_BLOCK_SIZE,
        DEFAULT_MAXIMUM_BLOCK_SIZE,
        DEFAULT_MAX_IN_FLIGHT_REQUESTS,
        DEFAULT_MAX_IN_FLIGHT_BYTES,
        DEFAULT_MAX_OPTION_LENGTH,
        DEFAULT_HANDSHAKE_TIMEOUT,
        DEFAULT_DRAIN_TIMEOUT,
        DEFAULT_IO_THREADS);
  }

  /** These block sizes; the in-flight byte budget grows to the new maximum if it was smaller. */
  public NbdServerConfig withBlockSizes(int minimum, int preferred, int maximum) {
    return new NbdServerConfig(
        bindHost,
        port,
        minimum,
        preferred,
        maximum,
        maxInFlightRequests,
        Math.max(maxInFlightBytes, maximum),
        maxOptionLength,
        handshakeTimeout,
        drainTimeout,
        ioThreads);
  }

  public NbdServerConfig withMaxInFlightRequests(int max) {
    return new NbdServerConfig(
        bindHost,
        port,
        minimumBlockSize,
        preferredBlockSize,
        maximumBlockSize,
        max,
        maxInFlightBytes,
        maxOptionLength,
        handshakeTimeout,
        drainTimeout,
        ioThreads);
  }

  public NbdServerConfig withMaxInFlightBytes(long max) {
    return new NbdServerConfig(
        bindHost,
        port,
        minimumBlockSize,
        preferredBlockSize,
        maximumBlockSize,
        maxInFlightRequests,
        max,
        maxOptionLength,
        handshakeTimeout,
        drainTimeout,
        ioThreads);
  }

  public NbdServerConfig withMaxOptionLength(int max) {
    return new NbdServerConfig(
        bindHost,
        port,
        minimumBlockSize,
        preferredBlockSize,
        maximumBlockSize,
        maxInFlightRequests,
        maxInFlightBytes,
        max,
        handshakeTimeout,
        drainTimeout,
        ioThreads);
  }

  public NbdServerConfig withHandshakeTimeout(Duration timeout) {
    return new NbdServerConfig(
        bindHost,
        port,
        minimumBlockSize,
        preferredBlockSize,
        maximumBlockSize,
        maxInFlightRequests,
        maxInFlightBytes,
        maxOptionLength,
        timeout,
        drainTimeout,
        ioThreads);
  }

  public NbdServerConfig withDrainTimeout(Duration timeout) {
    return new NbdServerConfig(
        bindHost,
        port,
        minimumBlockSize,
        preferredBlockSize,
        maximumBlockSize,
        maxInFlightRequests,
        maxInFlightBytes,
        maxOptionLength,
        handshakeTimeout,
        timeout,
        ioThreads);
  }

  public NbdServerConfig withIoThreads(int threads) {
    return new NbdServerConfig(
        bindHost,
        port,
        minimumBlockSize,
        preferredBlockSize,
        maximumBlockSize,
        maxInFlightRequests,
        maxInFlightBytes,
        maxOptionLength,
        handshakeTimeout,
        drainTimeout,
        threads);
  }

  private static IllegalArgumentException invalid(String what) {
    return new IllegalArgumentException("NBD server: " + what);
  }
}
