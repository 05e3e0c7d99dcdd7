package io.kagami.journal;

/** 8-byte big-endian encoding of sequence numbers and metadata values. */
final class Keys {
  private Keys() {}

  static byte[] encode(long v) {
    byte[] b = new byte[8];
    for (int i = 7; i >= 0; i--) {
      b[i] = (byte) v;
      v >>>= 8;
    }
    return b;
  }

  static long decode(byte[] b) {
    if (b.length != 8) {
      throw new MalformedRecordException("journal key of " + b.length + " bytes, expected 8");
    }
    long v = 0;
    for (int i = 0; i < 8; i++) {
      v = (v << 8) | (b[i] & 0xff);
    }
    return v;
  }
}
