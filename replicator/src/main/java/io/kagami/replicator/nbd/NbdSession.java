package io.kagami.replicator.nbd;

import static io.kagami.replicator.nbd.NbdProtocol.CMD_DISC;
import static io.kagami.replicator.nbd.NbdProtocol.CMD_FLAG_FUA;
import static io.kagami.replicator.nbd.NbdProtocol.CMD_FLAG_NO_HOLE;
import static io.kagami.replicator.nbd.NbdProtocol.CMD_FLUSH;
import static io.kagami.replicator.nbd.NbdProtocol.CMD_READ;
import static io.kagami.replicator.nbd.NbdProtocol.CMD_TRIM;
import static io.kagami.replicator.nbd.NbdProtocol.CMD_WRITE;
import static io.kagami.replicator.nbd.NbdProtocol.CMD_WRITE_ZEROES;
import static io.kagami.replicator.nbd.NbdProtocol.EINVAL;
import static io.kagami.replicator.nbd.NbdProtocol.EIO;
import static io.kagami.replicator.nbd.NbdProtocol.ENOSPC;
import static io.kagami.replicator.nbd.NbdProtocol.EPERM;
import static io.kagami.replicator.nbd.NbdProtocol.ESHUTDOWN;
import static io.kagami.replicator.nbd.NbdProtocol.SIMPLE_REPLY_HEADER_BYTES;
import static io.kagami.replicator.nbd.NbdProtocol.SIMPLE_REPLY_MAGIC;
import static io.kagami.replicator.nbd.NbdProtocol.commandName;

import io.kagami.replicator.volume.BlockDevice;
import io.kagami.replicator.volume.DeviceException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.EventExecutor;
import java.lang.System.Logger.Level;
import java.util.ArrayDeque;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The transmission phase of one connection: checks each request at the edge, hands it to the {@link
 * BlockDevice}, and writes simple replies as the device completes them, in completion order (NBD
 * matches replies to requests by cookie).
 *
 * <p>Simple reply layout (big-endian):
 *
 * <pre>
 * offset  size  field
 * 0       4     magic 0x67446698
 * 4       4     error: 0, or EPERM 1, EIO 5, EINVAL 22, ENOSPC 28, ESHUTDOWN 108
 * 8       8     cookie of the request
 * 16      n     READ with error 0 only: exactly the requested length of data
 * </pre>
 *
 * Checks before the device is involved, in this order: unknown command flags (EINVAL; FUA is
 * accepted on every command, NO_HOLE only on WRITE_ZEROES); unknown or unsupported commands,
 * including CACHE and BLOCK_STATUS (EINVAL); READ longer than the maximum block size and oversized
 * WRITE (EINVAL); modifications of a read-only export (EPERM); offset or length not a multiple of
 * the minimum block size, unless the request ends exactly at the end of the export (EINVAL); ranges
 * beyond the end of the export (WRITE and WRITE_ZEROES: ENOSPC; READ and TRIM: EINVAL, as the
 * protocol recommends). Zero-length READ, WRITE, TRIM and WRITE_ZEROES succeed without touching the
 * device.
 *
 * <p>Threads: everything here runs on the channel's event loop. Device futures complete on the
 * device's threads; their results are queued and handed back to the event loop in batches, so many
 * completions cost one wake-up and one socket flush. No call here blocks.
 *
 * <p>Back-pressure: at most {@code maxInFlightRequests} requests and {@code maxInFlightBytes} of
 * READ/WRITE payload are with the device at once (a single request is always admitted when nothing
 * else is); further decoded requests wait here, in order, and the socket is not read while any
 * wait, while a limit is reached, or while the outbound buffer is above its high-water mark. The
 * payload bytes also come out of the server's {@link InFlightShare} (a share of the site's memory
 * budget, common to every connection): when it is full the request waits here and the session is
 * woken on its event loop once another request's payload is released. A WRITE is admitted the same
 * way when its header arrives ({@link #admitWrite}), before the decoder keeps any of its payload:
 * until then its header waits in the decoder and the socket is not read, so payloads in memory are
 * always within the share (the bytes the decoder already read past the header, at most one receive
 * buffer, are all a waiting connection holds). Refused and zero-length requests are answered at
 * once and never wait.
 *
 * <p>One role: one connection's requests from decoded to replied, under one set of limits (its own
 * and the server's share); split apart, admission, completion and the socket's read state would
 * each need the others' counters on the same event loop.
 *
 * <p>NBD_CMD_DISC: nothing more is read; every request received before it is completed and replied
 * to, then the connection closes. On server shutdown, requests not yet with the device are answered
 * ESHUTDOWN, the rest complete, then the connection closes.
 */
final class NbdSession extends ChannelInboundHandlerAdapter implements NbdRequestDecoder.Admission {
  private static final System.Logger LOG = System.getLogger(NbdSession.class.getName());

  private final NbdServerConfig config;
  private final ClientLog clientLog;
  private final BlockDevice device;
  private final NbdRequestDecoder decoder;
  private final long minimumBlockMask;
  private final Queue<NbdRequest> waiting = new ArrayDeque<>();
  private final Queue<Completion> completions = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean drainScheduled = new AtomicBoolean();
  private final Runnable drainCompletions = this::drainCompletions;
  private final InFlightShare share;
  private final Runnable wakeFromShare = this::wakeFromShare;

  private ChannelHandlerContext ctx;
  private int inFlight;
  private long inFlightBytes;
  private boolean disconnectRequested;
  private boolean shuttingDown;
  private boolean closing;
  private boolean inactive;

  /** A device's answer to one request, on its way back to the event loop. */
  private record Completion(long cookie, int type, long length, Object value, Throwable error) {}

  NbdSession(
      NbdServerConfig config,
      BlockDevice device,
      NbdRequestDecoder decoder,
      ClientLog clientLog,
      InFlightShare share) {
    this.share = share;
    this.clientLog = clientLog;
    this.config = config;
    this.device = device;
    this.decoder = decoder;
    this.minimumBlockMask = config.minimumBlockSize() - 1;
    decoder.admission(this);
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof NbdRequest request)) {
      ctx.fireChannelRead(msg);
      return;
    }
    if (inactive || disconnectRequested || closing) {
      // Nothing may follow DISC; after close there is no one to answer.
      drop(request);
      return;
    }
    if (request.type() == CMD_DISC) {
      disconnectRequested = true;
      LOG.log(
          Level.DEBUG,
          "NBD client {0}: NBD_CMD_DISC with {1} requests outstanding",
          ctx.channel().remoteAddress(),
          String.valueOf(inFlight + waiting.size()));
      updateAutoRead();
      closeWhenDrained();
      return;
    }
    if (shuttingDown) {
      drop(request);
      reply(request.cookie(), ESHUTDOWN, null);
      return;
    }
    // Refusals and no-ops are answered at once, even while other requests wait for the device:
    // replies may go out in any order, and they hold no memory.
    int error = check(request);
    if (error != 0) {
      if (request.oversized()) {
        clientLog.log(
            LOG,
            Level.WARNING,
            ctx.channel().remoteAddress(),
            "NBD client {0}: WRITE of {1} bytes exceeds the maximum block size of {2}; payload discarded, replied EINVAL",
            ctx.channel().remoteAddress(),
            String.valueOf(request.length()),
            String.valueOf(config.maximumBlockSize()));
      }
      drop(request);
      reply(request.cookie(), error, null);
      return;
    }
    if (request.length() == 0 && request.type() != CMD_FLUSH) {
      // Nothing to read or change; the protocol leaves the answer open, success is the useful one.
      drop(request);
      reply(request.cookie(), 0, null);
      return;
    }
    if (request.admitted()) {
      // Counted since its header arrived (nothing after it in the stream was decoded since, so
      // nothing waits before it).
      start(request);
    } else if (waiting.isEmpty() && admits(request)) {
      count(request);
      start(request);
    } else {
      waiting.add(request);
    }
    updateAutoRead();
  }

  /** Payload bytes a request holds while with the device: WRITE data, or the READ reply. */
  private static long payloadBytes(int type, long length) {
    return type == CMD_READ || type == CMD_WRITE ? length : 0;
  }

  /**
   * Whether the device may take this request now; when it may, its payload bytes are taken from the
   * server's share (given back in {@link #drainCompletions}). A request alone on an idle server
   * always fits.
   */
  private boolean admits(NbdRequest r) {
    return admits(payloadBytes(r.type(), r.length()));
  }

  private boolean admits(long bytes) {
    return inFlight < config.maxInFlightRequests()
        && (inFlightBytes == 0 || inFlightBytes + bytes <= config.maxInFlightBytes())
        && share.tryAcquire(bytes, wakeFromShare);
  }

  /** Counts an admitted request in this connection's limits (until its completion is drained). */
  private void count(NbdRequest r) {
    inFlight++;
    inFlightBytes += payloadBytes(r.type(), r.length());
  }

  /**
   * The decoder, at a WRITE's header: its payload may be received when it would be admitted now
   * (after every request already waiting); it is then counted from here, while it arrives.
   */
  @Override
  public boolean admitWrite(long bytes) {
    if (inactive || closing || shuttingDown || !waiting.isEmpty() || !admits(bytes)) {
      return false;
    }
    inFlight++;
    inFlightBytes += bytes;
    return true;
  }

  /**
   * A WRITE this session would refuse anyway is never received into memory: a client's length field
   * alone (up to the maximum block size) must not make the server allocate for a write beyond the
   * export or to a read-only one.
   */
  @Override
  public boolean refusesWrite(int flags, long offset, long length) {
    return check(new NbdRequest(flags, CMD_WRITE, 0, offset, length, null, false)) != 0;
  }

  /** The decoder dropped an admitted WRITE before it was complete (the connection ended). */
  @Override
  public void abandoned(long bytes) {
    uncount(CMD_WRITE, bytes);
  }

  @Override
  public void decoded() {
    updateAutoRead();
  }

  private void uncount(int type, long length) {
    long bytes = payloadBytes(type, length);
    inFlight--;
    inFlightBytes -= bytes;
    share.release(bytes);
  }

  /** Releases a request that will not reach the device, and gives back its admission. */
  private void drop(NbdRequest r) {
    r.release();
    if (r.admitted()) {
      uncount(r.type(), r.length());
    }
  }

  /** Any thread, after the share released bytes: retry the waiting requests on the event loop. */
  private void wakeFromShare() {
    try {
      ctx.executor().execute(this::startWaiting);
    } catch (RejectedExecutionException e) {
      // The event loop is gone (server shut down): nothing waits any more.
    }
  }

  private void startWaiting() {
    if (inactive || closing) {
      return;
    }
    startAdmitted();
    updateAutoRead();
  }

  /** Starts the waiting requests that fit now, then lets the decoder retry a waiting WRITE. */
  private void startAdmitted() {
    while (!waiting.isEmpty() && admits(waiting.peek())) {
      NbdRequest r = waiting.poll();
      count(r);
      start(r);
    }
    if (waiting.isEmpty() && decoder.waitingForAdmission()) {
      decoder.resume();
    }
  }

  /** Hands a checked request to the device. */
  private void start(NbdRequest r) {
    boolean fua = (r.flags() & CMD_FLAG_FUA) != 0;
    CompletableFuture<?> result;
    try {
      result =
          switch (r.type()) {
            case CMD_READ -> device.read(r.offset(), (int) r.length(), ctx.alloc());
            case CMD_WRITE ->
                device.write(r.offset(), r.payload(), fua); // the device owns the payload now
            case CMD_FLUSH -> device.flush();
            case CMD_TRIM -> device.trim(r.offset(), r.length(), fua);
            case CMD_WRITE_ZEROES ->
                device.writeZeroes(
                    r.offset(), r.length(), fua, (r.flags() & CMD_FLAG_NO_HOLE) == 0);
            default -> throw new IllegalStateException("unchecked command " + r.type());
          };
      if (result == null) {
        result =
            CompletableFuture.failedFuture(
                new IllegalStateException(
                    "device "
                        + device.name()
                        + " returned no future for "
                        + commandName(r.type())));
      }
    } catch (RuntimeException e) {
      result = CompletableFuture.failedFuture(e);
    }
    long cookie = r.cookie();
    int type = r.type();
    long length = r.length();
    result.whenComplete(
        (value, error1) -> completed(new Completion(cookie, type, length, value, error1)));
  }

  /** The NBD error for a request that must not reach the device, or 0. */
  private int check(NbdRequest r) {
    int allowedFlags = CMD_FLAG_FUA | (r.type() == CMD_WRITE_ZEROES ? CMD_FLAG_NO_HOLE : 0);
    if ((r.flags() & ~allowedFlags) != 0) {
      return EINVAL;
    }
    return switch (r.type()) {
      case CMD_FLUSH -> 0;
      case CMD_READ ->
          r.length() > config.maximumBlockSize() || !aligned(r) ? EINVAL : inRange(r) ? 0 : EINVAL;
      case CMD_WRITE ->
          r.oversized()
              ? EINVAL
              : device.readOnly() ? EPERM : !aligned(r) ? EINVAL : inRange(r) ? 0 : ENOSPC;
      case CMD_TRIM -> device.readOnly() ? EPERM : !aligned(r) ? EINVAL : inRange(r) ? 0 : EINVAL;
      case CMD_WRITE_ZEROES ->
          device.readOnly() ? EPERM : !aligned(r) ? EINVAL : inRange(r) ? 0 : ENOSPC;
      default -> EINVAL; // CACHE, BLOCK_STATUS (needs structured replies), unknown commands
    };
  }

  private boolean aligned(NbdRequest r) {
    if ((r.offset() & minimumBlockMask) != 0) {
      return false;
    }
    // A final partial block of an export whose size is not a multiple of the block size is
    // reachable only by a request that ends exactly at the end.
    return (r.length() & minimumBlockMask) == 0
        || (r.offset() >= 0 && r.offset() + r.length() == device.sizeBytes());
  }

  private boolean inRange(NbdRequest r) {
    long size = device.sizeBytes();
    return r.offset() >= 0 && r.offset() <= size && r.length() <= size - r.offset();
  }

  /** On a device thread (or the event loop, if the future was already done). */
  private void completed(Completion c) {
    completions.add(c);
    if (drainScheduled.compareAndSet(false, true)) {
      EventExecutor loop = ctx.executor();
      try {
        loop.execute(drainCompletions);
      } catch (RejectedExecutionException e) {
        // The event loop is gone (server shut down): no one can be answered, only memory freed.
        drainScheduled.set(false);
        Completion left;
        while ((left = completions.poll()) != null) {
          share.release(payloadBytes(left.type(), left.length()));
          releaseValue(left);
        }
      }
    }
  }

  private void drainCompletions() {
    drainScheduled.set(false);
    Completion c;
    int replies = 0;
    while ((c = completions.poll()) != null) {
      inFlight--;
      inFlightBytes -= payloadBytes(c.type(), c.length());
      share.release(payloadBytes(c.type(), c.length()));
      complete(c);
      replies++;
    }
    if (replies == 0) {
      return;
    }
    if (!inactive) {
      startAdmitted();
    }
    ctx.flush();
    updateAutoRead();
    closeWhenDrained();
  }

  private void complete(Completion c) {
    if (inactive) {
      releaseValue(c);
      return;
    }
    if (c.error() != null) {
      releaseValue(c);
      replyNoFlush(c.cookie(), errno(c), null);
      return;
    }
    if (c.type() == CMD_READ) {
      ByteBuf data = (ByteBuf) c.value();
      if (data == null || data.readableBytes() != c.length()) {
        // A simple reply must carry exactly the requested bytes; anything else would desync the
        // stream.
        LOG.log(
            Level.ERROR,
            "NBD export {0}: device returned {1} bytes for a {2}-byte READ; replied EIO",
            device.name(),
            data == null ? "no" : Integer.toString(data.readableBytes()),
            String.valueOf(c.length()));
        releaseValue(c);
        replyNoFlush(c.cookie(), EIO, null);
        return;
      }
      replyNoFlush(c.cookie(), 0, data);
      return;
    }
    replyNoFlush(c.cookie(), 0, null);
  }

  private static void releaseValue(Completion c) {
    if (c.value() instanceof ByteBuf b) {
      b.release();
    }
  }

  private int errno(Completion c) {
    Throwable cause = c.error();
    while ((cause instanceof CompletionException || cause instanceof ExecutionException)
        && cause.getCause() != null) {
      cause = cause.getCause();
    }
    if (cause instanceof DeviceException d) {
      LOG.log(
          Level.DEBUG,
          "NBD export {0}: {1} failed with {2}: {3}",
          device.name(),
          commandName(c.type()),
          d.error(),
          d.getMessage());
      return switch (d.error()) {
        case EPERM -> EPERM;
        case EIO -> EIO;
        case ENOSPC -> ENOSPC;
        case EINVAL -> EINVAL;
        case ESHUTDOWN -> ESHUTDOWN;
      };
    }
    LOG.log(
        Level.WARNING,
        "NBD export "
            + device.name()
            + ": "
            + commandName(c.type())
            + " failed unexpectedly; replied EIO",
        cause);
    return EIO;
  }

  private void reply(long cookie, int error, ByteBuf data) {
    replyNoFlush(cookie, error, data);
    ctx.flush();
  }

  private void replyNoFlush(long cookie, int error, ByteBuf data) {
    if (inactive) {
      if (data != null) {
        data.release();
      }
      return;
    }
    ByteBuf header = ctx.alloc().buffer(SIMPLE_REPLY_HEADER_BYTES);
    header.writeInt(SIMPLE_REPLY_MAGIC).writeInt(error).writeLong(cookie);
    ctx.write(header, ctx.voidPromise());
    if (data != null) {
      ctx.write(data, ctx.voidPromise());
    }
  }

  private void updateAutoRead() {
    // An admitted WRITE's payload is read whatever the limits (it is counted in them already); the
    // next request is read only within them.
    boolean read =
        !inactive
            && !disconnectRequested
            && !shuttingDown
            && !closing
            && (decoder.receivingPayload()
                || (waiting.isEmpty()
                    && !decoder.waitingForAdmission()
                    && inFlight < config.maxInFlightRequests()
                    && inFlightBytes < config.maxInFlightBytes()))
            && ctx.channel().isWritable();
    if (ctx.channel().config().isAutoRead() != read) {
      // Turning auto-read back on also issues the read.
      ctx.channel().config().setAutoRead(read);
    }
  }

  private void closeWhenDrained() {
    if ((disconnectRequested || shuttingDown) && !closing && inFlight == 0 && waiting.isEmpty()) {
      closing = true;
      // Close only once every reply has left: closing with unflushed writes would drop them.
      ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
    updateAutoRead();
    super.channelWritabilityChanged(ctx);
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (evt == NbdServer.ShutdownEvent.INSTANCE) {
      shuttingDown = true;
      NbdRequest r;
      while ((r = waiting.poll()) != null) {
        r.release();
        replyNoFlush(r.cookie(), ESHUTDOWN, null);
      }
      ctx.flush();
      updateAutoRead();
      closeWhenDrained();
      return;
    }
    super.userEventTriggered(ctx, evt);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    inactive = true;
    int outstanding = inFlight + waiting.size();
    String truncation = decoder.truncation();
    if (!disconnectRequested && !closing && (outstanding > 0 || truncation != null)) {
      clientLog.log(
          LOG,
          Level.INFO,
          ctx.channel().remoteAddress(),
          "NBD client {0}: disconnected without NBD_CMD_DISC{1}{2}",
          ctx.channel().remoteAddress(),
          outstanding > 0 ? " with " + outstanding + " request(s) unanswered" : "",
          truncation != null ? "; " + truncation : "");
    } else {
      LOG.log(Level.DEBUG, "NBD client {0}: disconnected", ctx.channel().remoteAddress());
    }
    releaseWaiting();
    super.channelInactive(ctx);
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    inactive = true;
    releaseWaiting();
  }

  private void releaseWaiting() {
    NbdRequest r;
    while ((r = waiting.poll()) != null) {
      r.release();
    }
  }
}
