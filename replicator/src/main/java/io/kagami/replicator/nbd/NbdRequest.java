package io.kagami.replicator.nbd;

import io.netty.buffer.ByteBuf;

/**
 * One decoded transmission request, handed from {@link NbdRequestDecoder} to {@link NbdSession}.
 *
 * @param flags command flags (16 bits)
 * @param type command type (16 bits)
 * @param cookie the client's handle, echoed in the reply
 * @param offset byte offset; unsigned on the wire, so a negative value means beyond 2^63
 * @param length byte length (unsigned 32 bits)
 * @param payload the data of a WRITE, owned by whoever holds this request (null for other commands
 *     and for an oversized WRITE)
 * @param oversized a WRITE whose payload exceeded the maximum block size and was discarded
 * @param admitted a WRITE whose payload bytes the session admitted when its header arrived (counted
 *     in its limits and the server's share until the request is done)
 */
record NbdRequest(
    int flags,
    int type,
    long cookie,
    long offset,
    long length,
    ByteBuf payload,
    boolean oversized,
    boolean admitted) {

  NbdRequest(
      int flags,
      int type,
      long cookie,
      long offset,
      long length,
      ByteBuf payload,
      boolean oversized) {
    this(flags, type, cookie, offset, length, payload, oversized, false);
  }

  /** Releases the payload, if any; for requests that will not reach the device. */
  void release() {
    if (payload != null) {
      payload.release();
    }
  }
}
